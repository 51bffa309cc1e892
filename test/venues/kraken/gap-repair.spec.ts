import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { decodeEnvelope } from "../../../lib/domain/codec";
import { MemoryLog } from "../../../lib/log/memory";
import { RateLimiter } from "../../../lib/net/http";
import { fetchMissingTrades, type GapLedger, type GapRow } from "../../../lib/venues/kraken/gap-repair";
import { FrameRecorder, replayRecording } from "../../../lib/venues/kraken/recorder";
import { KrakenApiError, KrakenRest } from "../../../lib/venues/kraken/rest";
import { KrakenStream } from "../../../lib/venues/kraken/stream";
import { FakeKrakenRest, krakenTrades } from "../../helpers/fake-kraken-rest";
import { waitFor } from "../../helpers/db";
import { recordedBookFrames } from "./recording";

const START = Date.parse("2023-07-30T15:29:00Z");

describe("gap repair from REST /0/public/Trades", () => {
	let rest: FakeKrakenRest;
	beforeAll(async () => {
		rest = await new FakeKrakenRest().start();
		rest.setTrades("XBTUSD", krakenTrades(95, START, 500, 1000));
	});
	afterAll(() => rest.stop());

	it("pages with the ns cursor until an id jump is covered, fetching exactly the missing ids", async () => {
		const client = new KrakenRest({ baseUrl: rest.url, limiter: new RateLimiter(1000, 10) });
		const small = { trades: (s: string, since?: string) => client.trades(s, since, 7) }; // 7 per page: several pages
		const before = rest.tradeRequests().length;
		const r = await fetchMissingTrades(small, { wsSymbol: "BTC/USD", fromMs: START + 10 * 500, toMs: START + 60 * 500, afterId: 1010n, beforeId: 1060n });
		expect(r.covered).toBe(true);
		expect(r.trades.map((t) => Number(t.tradeId))).toEqual(Array.from({ length: 49 }, (_, i) => 1011 + i));
		expect(r.pages).toBeGreaterThan(6);
		const reqs = rest.tradeRequests().slice(before);
		expect(reqs[0].query).toMatchObject({ pair: "XBTUSD", since: KrakenRest.sinceOf(START + 10 * 500 - 1000), count: "7" });
		for (let i = 1; i < reqs.length; i++) expect(BigInt(reqs[i].query.since)).toBeGreaterThan(BigInt(reqs[i - 1].query.since));
		expect(r.trades[0]).toMatchObject({ price: expect.stringMatching(/^\d+\.\d$/), qty: expect.stringMatching(/^\d+\.\d{8}$/), side: expect.stringMatching(/^(buy|sell)$/) });
	});

	it("after a disconnect, skips ids the reconnect snapshot delivered and stops at the present", async () => {
		const client = new KrakenRest({ baseUrl: rest.url, limiter: new RateLimiter(1000, 10) });
		const r = await fetchMissingTrades(client, { wsSymbol: "BTC/USD", fromMs: START + 80 * 500, toMs: Date.now(), afterId: 1080n, beforeId: null, seen: new Set(["1090", "1091"]) });
		expect(r.covered).toBe(true);
		expect(r.trades.map((t) => t.tradeId)).toEqual(["1081", "1082", "1083", "1084", "1085", "1086", "1087", "1088", "1089", "1092", "1093", "1094"]);
	});

	it("backs off and retries on Kraken's rate-limit answer, and fails clearly on other errors", async () => {
		let calls = 0;
		const server = http.createServer((req, res) => {
			calls++;
			res.writeHead(200, { "content-type": "application/json" });
			if (req.url!.includes("pair=NOPE")) return res.end('{"error":["EQuery:Unknown asset pair"]}');
			res.end(calls <= 2 ? '{"error":["EAPI:Rate limit exceeded"]}' : '{"error":[],"result":{"XXBTZUSD":[["29430.2","0.001",1690731000.5,"s","l","",7]],"last":"1690731000500000000"}}');
		});
		await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
		const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
		const retries: string[] = [];
		const client = new KrakenRest({ baseUrl: url, limiter: new RateLimiter(1000, 10), baseDelayMs: 20, maxDelayMs: 50, onRetry: (i) => retries.push(i.error) });
		try {
			const page = await client.trades("BTC/USD", "0");
			expect(page.trades).toEqual([{ tradeId: "7", side: "sell", price: "29430.2", qty: "0.001", time: "2023-07-30T15:30:00.5Z", recvTime: expect.any(String) }]);
			expect(retries).toEqual(["EAPI:Rate limit exceeded", "EAPI:Rate limit exceeded"]);
			await expect(client.trades("NOPE/USD")).rejects.toThrow(KrakenApiError);
			await expect(client.trades("NOPE/USD")).rejects.toThrow(/EQuery:Unknown asset pair/);
		} finally {
			server.close();
		}
	});
});

describe("recording and replay into the session", () => {
	const noLedger: GapLedger & { rows: GapRow[] } = {
		rows: [],
		async open(g) {
			this.rows.push(g);
			return String(this.rows.length);
		},
		async close() {},
		async repaired() {},
	};

	it("replays a recorded session through the same parser: books verify, a trade id jump is repaired from REST", async () => {
		const rest = await new FakeKrakenRest().start();
		const trades = krakenTrades(30, START, 1000, 5000);
		rest.setTrades("XBTUSD", trades);
		const file = path.join(os.tmpdir(), `kraken-rec-${process.pid}-${Date.now()}.jsonl`);
		const rec = new FrameRecorder(file);
		const ws = (t: (typeof trades)[number]) => `{"symbol":"BTC/USD","side":"${t.side === "b" ? "buy" : "sell"}","price":${t.price},"qty":${t.volume},"ord_type":"limit","trade_id":${t.tradeId},"timestamp":"${new Date(Number(t.timeUs / 1000n)).toISOString().slice(0, 19)}.${String(t.timeUs % 1_000_000n).padStart(6, "0")}Z"}`;
		let ms = START;
		rec.write('{"channel":"instrument","type":"snapshot","data":{"assets":[],"pairs":[{"symbol":"BTC/USD","price_precision":1,"qty_precision":8}]}}', ms);
		for (const f of recordedBookFrames().slice(0, 100)) rec.write(f.replace(/\s+/g, " "), ++ms);
		rec.write(`{"channel":"trade","type":"snapshot","data":[${trades.slice(0, 10).map(ws).join(",")}]}`, ++ms);
		rec.write(`{"channel":"trade","type":"update","data":[${trades.slice(20, 30).map(ws).join(",")}]}`, ++ms); // ids 5010..5019 never came
		rec.write("[336,{\"a\":[]},\"book-10\",\"XBT/USD\"]", ++ms); // a v1 frame in the middle: rejected, not fatal
		rec.write('{"channel":"ohlc","type":"update","data":[]}', ++ms);
		await rec.close();

		const log = new MemoryLog({});
		const stream = new KrakenStream({
			symbols: ["BTC/USD"],
			bookDepth: 10,
			log,
			feed: { url: "ws://127.0.0.1:9/unused", watchdogMs: 1000, pingIntervalMs: 0, backoffBaseMs: 10, backoffMaxMs: 10 },
			ledger: noLedger,
			rest: new KrakenRest({ baseUrl: rest.url, limiter: new RateLimiter(1000, 10) }),
			flushMs: 10,
			maxBatchItems: 1000,
			checksumMismatchLimit: 3,
			logger: { info() {}, warn() {}, error() {} },
		});
		const bad: number[] = [];
		fs.appendFileSync(file, "not a recording line\n");
		expect(await replayRecording(file, (t, recvMs) => stream.handleFrame(t, recvMs), (line) => bad.push(line))).toBe(105);
		expect(bad).toEqual([106]);
		await waitFor(() => stream.repairer!.stats.repaired === 1, { what: "id gap repaired" });
		await stream.publisher.flush();
		const s = stream.snapshot() as any;
		expect(s.symbols["BTC/USD"]).toMatchObject({ checksumOk: 100, checksumMismatch: 0 });
		expect(s.rejected).toMatchObject({ v1: 1, "unknown-channel": 1 });
		expect(noLedger.rows).toEqual([expect.objectContaining({ channel: "trade", cause: "trade-id-jump", detail: { afterId: "5009", beforeId: "5020" } })]);
		// every trade 5000..5029 is in the log exactly once
		const c = await log.consumer({ subscription: "t", topics: ["market-data/crypto/raw/kraken/btcusd/trades"] });
		const ids: string[] = [];
		for (const d of await c.pull(1000, 100)) ids.push(...decodeEnvelope(d.payload).trades.map((t) => t.tradeId));
		expect(ids.sort()).toEqual(trades.map((t) => String(t.tradeId)).sort());
		await stream.publisher.stop();
		await rest.stop();
		fs.unlinkSync(file);
	});
});
