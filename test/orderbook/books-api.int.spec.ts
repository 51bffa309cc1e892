import { crc32 } from "node:zlib";
import { startPipeline, type Pipeline } from "../../bin/pipeline";
import { loadConfig } from "../../lib/config";
import { freshDatabase, waitFor, type TestDb } from "../helpers/db";
import { FakeBinance, REAL_DEPTH } from "../helpers/fake-binance";
import { FakeKraken } from "../helpers/fake-kraken";
import { freePort, getJson } from "../helpers/net";

/** Kraken's CRC32, computed here from the stored strings: top 10 asks then top 10 bids, '.' removed, leading zeros stripped. */
function krakenChecksum(bids: [string, string][], asks: [string, string][]): number {
	const tok = (s: string) => s.replace(".", "").replace(/^0+(?=.)/, "");
	const side = (l: [string, string][]) => l.slice(0, 10).map(([p, q]) => tok(p) + tok(q)).join("");
	return crc32(side(asks) + side(bids)) >>> 0;
}

/**
 * The pipeline with api, kraken-stream and orderbook-poller against a fake Kraken (v2 socket and REST, the
 * recorded sessions) and a fake Binance: live books land in book_snapshots as 'ws' with a CRC32 that verifies,
 * REST snapshots as 'rest', and /api/books and /api/books/latest serve what is stored, newest first.
 */
describe("/api/books and live book snapshots (pipeline, PostgreSQL, fake venues)", () => {
	let db: TestDb;
	let kraken: FakeKraken;
	let binance: FakeBinance;
	let p: Pipeline;
	let api: string;

	beforeAll(async () => {
		db = await freshDatabase("books_api");
		kraken = await new FakeKraken().start();
		binance = await new FakeBinance().start();
		const port = await freePort();
		p = await startPipeline(
			loadConfig({
				DATABASE_URL: db.url,
				SERVICES: "api,kraken-stream,orderbook-poller",
				PORT: String(port),
				METRICS_PORT: "0",
				LOG_LEVEL: "error",
				NODE_ID: `books-api-${process.pid}`,
				NAMESPACE: `booksapi${process.pid}`,
				KRAKEN_WS_URL: kraken.url,
				KRAKEN_REST_URL: kraken.rest.url,
				KRAKEN_REST_RATE_PER_SEC: "50",
				KRAKEN_SYMBOLS: "BTC/USD,XMR/USD",
				BINANCE_REST_URL: binance.url,
				BINANCE_USDM_REST_URL: binance.url,
				ORDERBOOK_SYMBOLS: "binance:BTC-USDT-SPOT,kraken:ETH-USD-SPOT",
				ORDERBOOK_POLL_INTERVAL_MS: "1000",
				ORDERBOOK_CLAIM_TTL_MS: "500",
			}),
		);
		api = `http://127.0.0.1:${port}/api`;
		await waitFor(() => kraken.subscribed("book", "BTC/USD") && kraken.subscribed("book", "XMR/USD"), { what: "book subscriptions" });
	}, 60_000);

	afterAll(async () => {
		await p?.stop();
		await kraken?.stop();
		await binance?.stop();
		await db?.drop();
	});

	const rows = async (venue: string, symbol: string, source: string) =>
		(await db.pool.query("SELECT time, recv_time, last_update_id::text, checksum, bids, asks FROM book_snapshots WHERE venue = $1 AND symbol = $2 AND source = $3 ORDER BY time DESC", [venue, symbol, source])).rows;

	it("snapshots the live Kraken books as 'ws' with a CRC32 that verifies, as they change", async () => {
		for (let i = 0; i < 3; i++) {
			const before = (await rows("kraken", "BTC-USD-SPOT", "ws")).length;
			kraken.step(40); // the book moves between snapshots
			await waitFor(async () => (await rows("kraken", "BTC-USD-SPOT", "ws")).length > before, { what: "another ws snapshot of BTC/USD", timeoutMs: 20_000 });
		}
		await waitFor(async () => (await rows("kraken", "XMR-USD-SPOT", "ws")).length >= 1, { what: "a ws snapshot of XMR/USD" });
		for (const symbol of ["BTC-USD-SPOT", "XMR-USD-SPOT"]) {
			for (const r of await rows("kraken", symbol, "ws")) {
				expect(r.bids.length).toBeGreaterThan(0);
				expect(Number(r.checksum)).toBe(krakenChecksum(r.bids, r.asks));
				expect(r.last_update_id).toBeNull();
			}
		}
		const btc = await rows("kraken", "BTC-USD-SPOT", "ws");
		expect(new Set(btc.map((r) => String(r.checksum))).size).toBeGreaterThan(1);
	}, 90_000);

	it("GET /api/books: the stored snapshots, newest first, with from/to/limit/source", async () => {
		await waitFor(async () => (await rows("binance", "BTC-USDT-SPOT", "rest")).length >= 3, { what: "three Binance snapshots" });
		const stored = await rows("binance", "BTC-USDT-SPOT", "rest");
		const all = await getJson(`${api}/books?venue=binance&symbol=BTC-USDT-SPOT&limit=1000`);
		expect(all.status).toBe(200);
		const got = all.body.items.slice(-stored.length);
		expect(got.map((i: any) => i.time)).toEqual(stored.map((r) => r.time.toISOString()));
		expect(got[0]).toEqual({
			time: stored[0].time.toISOString(),
			recvTime: stored[0].recv_time.toISOString(),
			source: "rest",
			lastUpdateId: stored[0].last_update_id,
			checksum: null,
			bids: REAL_DEPTH.bids,
			asks: REAL_DEPTH.asks,
		});
		const times = all.body.items.map((i: any) => Date.parse(i.time));
		expect([...times].sort((a, b) => b - a)).toEqual(times);

		const two = await getJson(`${api}/books?venue=binance&symbol=BTC-USDT-SPOT&limit=2`);
		expect(two.body.items).toHaveLength(2);
		const from = stored[2].time.toISOString();
		const to = stored[0].time.toISOString();
		const ranged = await getJson(`${api}/books?venue=binance&symbol=BTC-USDT-SPOT&from=${from}&to=${to}`);
		expect(ranged.body.items.map((i: any) => i.time)).toEqual([stored[1].time.toISOString(), from]);

		const ws = await getJson(`${api}/books?venue=kraken&symbol=BTC/USD&source=ws&limit=1`);
		expect(ws.body.items[0].source).toBe("ws");
		expect(ws.body.items[0].checksum).toBe(krakenChecksum(ws.body.items[0].bids, ws.body.items[0].asks));
	});

	it("GET /api/books/latest: Kraken's live verified book, else the last stored snapshot; 404 when there is none", async () => {
		const live = await getJson(`${api}/books/latest?venue=kraken&symbol=BTC-USD-SPOT`);
		expect(live.status).toBe(200);
		expect(live.body).toMatchObject({ source: "ws", live: true, lastUpdateId: null });
		expect(live.body.checksum).toBe(krakenChecksum(live.body.bids, live.body.asks));
		const held = (await p.broker.call("kraken-stream.book", { symbol: "BTC/USD" })) as any;
		expect(live.body.bids).toEqual(held.bids);

		await waitFor(async () => (await rows("kraken", "ETH-USD-SPOT", "rest")).length >= 1, { what: "a REST snapshot of ETH/USD (not streamed)" });
		const eth = await getJson(`${api}/books/latest?venue=kraken&symbol=ETH-USD-SPOT`);
		const [newest] = await rows("kraken", "ETH-USD-SPOT", "rest");
		expect(eth.body).toMatchObject({ source: "rest", live: false, time: newest.time.toISOString(), bids: newest.bids });

		const spot = await getJson(`${api}/books/latest?venue=binance&symbol=BTC-USDT-SPOT`);
		const list = await getJson(`${api}/books?venue=binance&symbol=BTC-USDT-SPOT&limit=1`);
		expect(Date.parse(spot.body.time)).toBeGreaterThanOrEqual(Date.parse(list.body.items[0].time));
		expect(spot.body).toMatchObject({ source: "rest", live: false, bids: REAL_DEPTH.bids });

		const none = await getJson(`${api}/books/latest?venue=binance&symbol=NOPE-USDT-SPOT`);
		expect(none.status).toBe(404);
		expect(none.body.message).toMatch(/no order book stored for binance NOPE-USDT-SPOT/);
	});

	it("answers bad parameters with 400 naming them", async () => {
		for (const [q, param] of [
			["venue=binance&symbol=BTC-USDT-SPOT&limit=0", "limit"],
			["venue=binance&symbol=BTC-USDT-SPOT&from=2024-02-01&to=2024-01-01", "from"],
			["venue=binance&symbol=BTC-USDT-SPOT&source=fix", "source"],
			["venue=binance&symbol=BTC-USDT-SPOT&to=yesterday", "to"],
		]) {
			const r = await getJson(`${api}/books?${q}`);
			expect(r.status).toBe(400);
			expect(r.body.data).toEqual({ param });
		}
		const missing = await getJson(`${api}/books?venue=binance`);
		expect(missing.status).toBe(400);
		expect(missing.body.data.param).toBe("symbol");
	});

	it("keeps polling through a 429, after its Retry-After", async () => {
		const before = binance.depthRequests().length;
		binance.failNext(429, 1);
		await waitFor(() => binance.depthRequests().slice(before).some((r) => r.status === 200), { what: "a depth answer after the 429", timeoutMs: 20_000 });
		const after = binance.depthRequests().slice(before);
		expect(after[0].status).toBe(429);
		const ok = after.find((r) => r.status === 200)!;
		expect(ok.at - after[0].at).toBeGreaterThanOrEqual(1000);
	});
});
