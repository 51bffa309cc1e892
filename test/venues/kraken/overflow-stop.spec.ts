import { decodeEnvelope } from "../../../lib/domain/codec";
import type { TradeItem } from "../../../lib/domain/types";
import { MemoryLog } from "../../../lib/log/memory";
import type { MarketLog } from "../../../lib/log/types";
import { RateLimiter } from "../../../lib/net/http";
import { GapRepairer, type GapLedger, type GapRow } from "../../../lib/venues/kraken/gap-repair";
import { KrakenRest, type TradesPage } from "../../../lib/venues/kraken/rest";
import { KrakenStream } from "../../../lib/venues/kraken/stream";
import { waitFor } from "../../helpers/db";
import { FakeKrakenRest, krakenTrades, wsTime, type KrakenTradeRow } from "../../helpers/fake-kraken-rest";

const START = Date.parse("2023-07-30T15:29:00Z");
const TRADES = "market-data/crypto/raw/kraken/btcusd/trades";

class Ledger implements GapLedger {
	rows: (GapRow & { id: string; closedAt?: string; repairedBy?: string })[] = [];
	async open(g: GapRow): Promise<string> {
		const id = String(this.rows.length + 1);
		this.rows.push({ ...g, id });
		return id;
	}
	async close(id: string, toTime: string): Promise<void> {
		this.rows[Number(id) - 1].closedAt = toTime;
	}
	async repaired(id: string, by: string): Promise<void> {
		this.rows[Number(id) - 1].repairedBy = by;
	}
}

const tradeFrame = (type: string, rows: KrakenTradeRow[]) =>
	JSON.stringify({ channel: "trade", type, data: rows.map((t) => ({ symbol: "BTC/USD", side: t.side === "b" ? "buy" : "sell", price: Number(t.price), qty: Number(t.volume), ord_type: "limit", trade_id: t.tradeId, timestamp: wsTime(t.timeUs) })) });
const tickerFrame = (bid: string, ts: string) => `{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","bid":${bid},"bid_qty":1.5,"ask":30001.0,"ask_qty":2.5,"last":30000.0,"timestamp":"${ts}"}]}`;

/**
 * The session while the log refuses what it publishes for longer than the buffers last: trades past
 * maxPending are dropped, recorded in feed_gaps and fetched back from REST once the log takes trades again;
 * quotes dropped are a ticker gap. Frames go in through handleFrame (the recording path), REST is the fake.
 */
describe("Kraken session: the log away for longer than the buffers last", () => {
	it("records dropped trades as a gap and repairs them from REST; dropped quotes as a ticker gap", async () => {
		const rest = await new FakeKrakenRest().start();
		const rows = krakenTrades(15, START, 500, 5000);
		rest.setTrades("XBTUSD", rows);
		const inner = new MemoryLog({});
		let down = true;
		const log = { publish: (t: string, k: string, p: readonly Uint8Array[]) => (down ? Promise.reject(new Error("log unavailable")) : inner.publish(t, k, p)) } as unknown as MarketLog;
		const ledger = new Ledger();
		const errors: string[] = [];
		const stream = new KrakenStream({
			symbols: ["BTC/USD"],
			bookDepth: 10,
			log,
			feed: { url: "ws://127.0.0.1:9/unused", watchdogMs: 1000, pingIntervalMs: 0, backoffBaseMs: 10, backoffMaxMs: 10 },
			ledger,
			rest: new KrakenRest({ baseUrl: rest.url, limiter: new RateLimiter(1000, 10) }),
			flushMs: 10,
			maxBatchItems: 1000,
			maxPending: 6,
			checksumMismatchLimit: 3,
			logger: { info() {}, warn() {}, error: (m: string) => errors.push(m) },
		});
		try {
			const at = (i: number) => wsTime(rows[i].timeUs);
			stream.handleFrame(tradeFrame("snapshot", rows.slice(0, 5)), START); // 5000..5004 held
			stream.handleFrame(tickerFrame("30000.0", at(4)), START); // the 6th item held
			stream.handleFrame(tradeFrame("update", rows.slice(5, 10)), START); // 5005..5009: no room
			stream.handleFrame(tickerFrame("29999.9", at(9)), START); // no room either
			await stream.publisher.flush();
			expect(stream.publisher.stats).toMatchObject({ dropped: 6, publishErrors: 2 });
			expect(errors).toEqual([expect.stringMatching(/dropping new trades from id 5005/)]);
			expect(ledger.rows).toEqual([expect.objectContaining({ channel: "ticker", cause: "publish-overflow", fromTime: at(9), toTime: null })]);

			down = false;
			await stream.publisher.flush();
			stream.handleFrame(tickerFrame("29999.8", at(14)), START); // accepted again: the ticker gap ends here
			await stream.publisher.flush();
			stream.handleFrame(tradeFrame("update", rows.slice(10, 15)), START); // and the dropped trades' run at 5010
			await waitFor(() => stream.repairer!.stats.repaired === 1, { what: "the dropped trades repaired" });
			await stream.publisher.flush();
			expect(ledger.rows).toEqual([
				expect.objectContaining({ channel: "ticker", cause: "publish-overflow", closedAt: at(14) }),
				expect.objectContaining({ channel: "trade", cause: "publish-overflow", fromTime: at(5), toTime: at(10), detail: { afterId: "5004", beforeId: "5010", dropped: 5 }, repairedBy: "kraken-rest-trades" }),
			]);
			const c = await inner.consumer({ subscription: "t", topics: [TRADES] });
			const ids: number[] = [];
			for (const d of await c.pull(1000, 100)) ids.push(...decodeEnvelope(d.payload).trades.map((t) => Number(t.tradeId)));
			expect(ids.sort((a, b) => a - b)).toEqual(rows.map((t) => t.tradeId)); // every trade exactly once
		} finally {
			await stream.stop();
			await rest.stop();
		}
	});

	it("a run of dropped trades still open at stop is recorded in feed_gaps", async () => {
		const rows = krakenTrades(4, START, 500, 7000);
		const ledger = new Ledger();
		const log = { publish: () => Promise.reject(new Error("log unavailable")) } as unknown as MarketLog;
		const stream = new KrakenStream({
			symbols: ["BTC/USD"],
			bookDepth: 10,
			log,
			feed: { url: "ws://127.0.0.1:9/unused", watchdogMs: 1000, pingIntervalMs: 0, backoffBaseMs: 10, backoffMaxMs: 10 },
			ledger,
			rest: null,
			flushMs: 10,
			maxBatchItems: 1000,
			maxPending: 2,
			checksumMismatchLimit: 3,
			logger: { info() {}, warn() {}, error() {} },
		});
		stream.handleFrame(tradeFrame("snapshot", rows), START);
		await stream.stop();
		expect(ledger.rows).toEqual([
			expect.objectContaining({ channel: "trade", cause: "publish-overflow", fromTime: wsTime(rows[2].timeUs), toTime: wsTime(rows[3].timeUs), detail: { afterId: "7001", lastDroppedId: "7003", dropped: 2 } }),
		]);
		expect(stream.publisher.stats.lost).toBe(2);
	});
});

describe("GapRepairer.stop()", () => {
	it("waits for the repair in flight and publishes nothing after it resolves", async () => {
		let release!: () => void;
		const released = new Promise<void>((r) => (release = r));
		let asked = 0;
		const published: TradeItem[] = [];
		const page: TradesPage = { pair: "XBTUSD", trades: [{ tradeId: "11", side: "buy", price: "1.0", qty: "1", time: "2023-07-30T15:29:01Z", recvTime: "2023-07-30T15:29:02Z" }], last: "1", rejects: [] };
		const repairer = new GapRepairer({
			rest: {
				trades: async () => {
					asked++;
					await released;
					return page;
				},
			},
			ledger: new Ledger(),
			publish: async (_job, t) => void published.push(...t),
		});
		repairer.enqueue({ ledgerId: null, symbol: "BTC-USD-SPOT", gap: { wsSymbol: "BTC/USD", fromMs: START, toMs: START + 5000, afterId: 10n, beforeId: 12n } });
		await waitFor(() => asked === 1, { what: "the REST call in flight" });
		let done = false;
		const stopping = repairer.stop().then(() => (done = true));
		await new Promise((r) => setImmediate(r));
		expect(done).toBe(false); // the page in flight is still out
		release();
		await stopping;
		expect(published).toEqual([]); // it came back after stop: not published into a closing log
		expect(repairer.pending).toBe(0);
	});
});
