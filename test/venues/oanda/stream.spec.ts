import { readFileSync } from "node:fs";
import path from "node:path";
import { decodeEnvelope } from "../../../lib/domain/codec";
import { MemoryLog } from "../../../lib/log/memory";
import { OandaStream } from "../../../lib/venues/oanda/stream";

const FIX = path.resolve(__dirname, "../../../../shared/fixtures/oanda");
const RECORDED = Buffer.from(
	readFileSync(path.join(FIX, "derived_hootnot_pricing_stream_2016-10-27.jsonl"), "utf8") +
		readFileSync(path.join(FIX, "derived_hootnot_stream_2017-03-09.jsonl"), "utf8") +
		"{broken line\n",
	"utf8",
);
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

function session(log = new MemoryLog({}), deadLetters: string[] = []) {
	return new OandaStream({
		instruments: ["EUR_USD", "EUR_JPY"],
		client: { streamUrl: "http://127.0.0.1:1", accountId: "a", apiKey: "k", watchdogMs: 1000, backoffBaseMs: 10, backoffMaxMs: 10, closedProbeMs: 1000 },
		log,
		ledger: null,
		flushMs: 10,
		maxBatchItems: 100,
		logger: quiet,
		deadLetter: async (line) => void deadLetters.push(line),
	});
}

describe("OandaStream on a recorded stream", () => {
	it("cut at every byte, the session sees the same prices, heartbeats and one rejected line", () => {
		for (let cut = 0; cut <= RECORDED.length; cut++) {
			const dl: string[] = [];
			const s = session(undefined, dl);
			s.handleChunk(RECORDED.subarray(0, cut), 1);
			s.handleChunk(RECORDED.subarray(cut), 2);
			const snap = s.snapshot() as { prices: number; heartbeats: number; rejected: number; instruments: Record<string, { quotes: number; repeated: number }> };
			expect([snap.prices, snap.heartbeats, snap.rejected]).toEqual([7, 5, 1]);
			expect([snap.instruments.EUR_USD.quotes, snap.instruments.EUR_JPY.quotes]).toEqual([3, 4]);
			expect(snap.instruments.EUR_JPY.repeated).toBe(0);
			expect(dl).toEqual(["{broken line"]);
		}
	});

	it("a price re-sent after a reconnect (same or older time) is not a second quote", () => {
		const s = session();
		s.handleChunk(RECORDED, 1);
		s.handleChunk(RECORDED, 2);
		const snap = s.snapshot() as { instruments: Record<string, { quotes: number; repeated: number }> };
		expect(snap.instruments.EUR_USD).toMatchObject({ quotes: 3, repeated: 3 });
		expect(snap.instruments.EUR_JPY).toMatchObject({ quotes: 4, repeated: 4 });
	});

	it("publishes exact quotes on market-data/fx/raw/oanda/eurusd/quotes keyed by the symbol", async () => {
		const log = new MemoryLog({});
		const s = session(log);
		s.publisher.start();
		const consumer = await log.consumer({ subscription: "t", topics: ["market-data/fx/raw/oanda/eurusd/quotes"] });
		s.handleChunk(RECORDED, Date.UTC(2017, 2, 9, 13, 37, 50));
		await s.publisher.stop();
		const batch = await consumer.pull(10, 1000);
		const quotes = batch.flatMap((m) => decodeEnvelope(m.payload).quotes);
		expect(quotes.map((q) => [q.symbol, q.time, q.seq, q.bid, q.ask, q.bidQty])).toEqual([
			["EUR-USD-SPOT", "2016-10-27T08:38:45.664613Z", "867", "1.09177", "1.09188", "10000000"],
			["EUR-USD-SPOT", "2017-03-09T13:37:46.048197Z", "280", "1.05522", "1.05534", "10000000.0"],
			["EUR-USD-SPOT", "2017-03-09T13:37:49.349544Z", "372", "1.05514", "1.05527", "10000000.0"],
		]);
		expect(batch.every((m) => m.key === "EUR-USD-SPOT")).toBe(true);
		await consumer.close();
	});
});
