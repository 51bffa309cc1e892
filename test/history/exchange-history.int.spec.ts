import { startPipeline, type Pipeline } from "../../bin/pipeline";
import { loadConfig } from "../../lib/config";
import type { TradeItem } from "../../lib/domain/types";
import { freshDatabase, waitFor, type TestDb } from "../helpers/db";
import { FakeBinance } from "../helpers/fake-binance";
import { FakeKrakenRest, krakenTrades, wsTime, type KrakenTradeRow } from "../helpers/fake-kraken-rest";
import { freePort, getJson } from "../helpers/net";
import { normalizeCandle, referenceCandles } from "../helpers/trades";

const FROM = Date.parse("2024-01-01T00:00:00Z");
const TO = Date.parse("2024-01-01T02:00:00Z");

async function post(url: string, body: unknown): Promise<{ status: number; body: any }> {
	const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
	return { status: res.status, body: await res.json() };
}

function item(t: KrakenTradeRow): TradeItem {
	const iso = wsTime(t.timeUs);
	return { tradeId: String(t.tradeId), side: t.side === "b" ? "buy" : "sell", price: t.price, qty: t.volume, time: iso, recvTime: iso };
}

/**
 * The exchange-history service in an in-process pipeline (memory log, tick-writer, cascade, API) against real
 * PostgreSQL and fake Kraken and Binance REST servers.
 */
describe("exchange-history service (in-process pipeline)", () => {
	let db: TestDb;
	let p: Pipeline;
	let kraken: FakeKrakenRest;
	let binance: FakeBinance;
	let base: string;
	// An hour before `from` (must not be fetched), then the two hours asked for, then an hour after `to`.
	const rows = krakenTrades(4 * 1200, FROM - 3_600_000, 3_000, 5_000_001);
	const inRange = rows.filter((t) => t.timeUs >= BigInt(FROM) * 1000n && t.timeUs < BigInt(TO) * 1000n);

	beforeAll(async () => {
		db = await freshDatabase("hist_service");
		kraken = await new FakeKrakenRest().start();
		kraken.setTrades("XBTUSD", rows);
		binance = await new FakeBinance().start();
		const port = await freePort();
		p = await startPipeline(
			loadConfig({
				DATABASE_URL: db.url,
				SERVICES: "tick-writer,cascade-refresher,api,exchange-history",
				KRAKEN_REST_URL: kraken.url,
				BINANCE_REST_URL: binance.url,
				BINANCE_REQUESTS_PER_SEC: "100",
				PORT: String(port),
				METRICS_PORT: "0",
				CASCADE_INTERVAL_MS: "100",
				LOG_LEVEL: "warn",
			}),
		);
		base = `http://127.0.0.1:${port}/api`;
	});
	afterAll(async () => {
		await p?.stop();
		await kraken?.stop();
		await binance?.stop();
		await db?.drop();
	});

	const tradeCount = async () => (await db.pool.query("SELECT count(*)::int AS n, count(DISTINCT trade_id)::int AS d FROM trades WHERE venue = 'kraken' AND symbol = 'BTC-USD-SPOT'")).rows[0];

	it("pages Kraken trades through `since` until `to`, stores each once through the log, and candles follow", async () => {
		expect(inRange).toHaveLength(2400);
		const r = await post(`${base}/history/kraken-trades`, { pair: "XBTUSD", from: "2024-01-01", to: "2024-01-01T02:00:00Z" });
		expect(r.status).toBe(200);
		expect(r.body).toMatchObject({ venue: "kraken", symbol: "BTC-USD-SPOT", venueSymbol: "BTC/USD", missingRanges: 1, skippedRanges: 0, pages: 3, published: 2400, rejectedCount: 0 });
		// the first page starts right before `from`, each next one at the previous page's `last`; none beyond `to`
		const reqs = kraken.tradeRequests();
		expect(reqs.map((q) => q.query.pair)).toEqual(["XBTUSD", "XBTUSD", "XBTUSD"]);
		expect(reqs[0].query.since).toBe(String(BigInt(FROM) * 1_000_000n - 1n));
		expect(reqs[1].query.since).toBe(String(inRange[999].timeUs * 1000n));
		expect(reqs[2].query.since).toBe(String(inRange[1999].timeUs * 1000n));

		await waitFor(async () => (await tradeCount()).n === 2400, { what: "2400 Kraken trades stored", timeoutMs: 20_000 });
		expect(await tradeCount()).toEqual({ n: 2400, d: 2400 });
		const { rows: edge } = await db.pool.query("SELECT min(time) AS a, max(time) AS b FROM trades");
		expect([edge[0].a.getTime(), edge[0].b.getTime() < TO]).toEqual([FROM, true]);

		await waitFor(async () => (await db.pool.query("SELECT count(*)::int AS n FROM dirty_buckets")).rows[0].n === 0, { what: "cascade to drain", timeoutMs: 20_000 });
		const c = await getJson(`${base}/candles?venue=kraken&symbol=BTC-USD-SPOT&timeframe=1m&from=2024-01-01&to=2024-01-01T02:00:00Z`);
		expect(c.status).toBe(200);
		const want = [...referenceCandles(inRange.map(item), "1m").values()].map(normalizeCandle);
		expect(want).toHaveLength(120);
		expect(c.body.map(normalizeCandle)).toEqual(want);
		const stored = await db.pool.query("SELECT count(*)::int AS n FROM candles_1h WHERE venue = 'kraken' AND symbol = 'BTC-USD-SPOT' AND price_type = 'trade'");
		expect(stored.rows[0].n).toBe(2);
	});

	it("asks the database first: a second run only looks after the newest stored trade, and adds nothing", async () => {
		kraken.requests.length = 0;
		const r = await post(`${base}/history/kraken-trades`, { pair: "BTC/USD", from: "2024-01-01", to: "2024-01-01T02:00:00Z" });
		expect(r.status).toBe(200);
		expect(r.body).toMatchObject({ skippedRanges: 1, missingRanges: 1, holesFound: 0, pages: 1, published: 0, alreadyStored: 1 });
		const newest = inRange[inRange.length - 1];
		expect(kraken.tradeRequests().map((q) => q.query.since)).toEqual([String((newest.timeUs / 1000n) * 1_000_000n - 1n)]);
		await p.runtime.log().then((l) => l.flush());
		const writerDone = async () => {
			const s: any = await p.broker.call("tick-writer.stats");
			return s.trades >= 2400 + r.body.published;
		};
		await waitFor(writerDone, { what: "the tick-writer to take the re-published trades" });
		expect(await tradeCount()).toEqual({ n: 2400, d: 2400 });
	});

	it("extends backwards: an earlier `from` pages only up to the oldest stored trade", async () => {
		kraken.requests.length = 0;
		const r = await post(`${base}/history/kraken-trades`, { pair: "XBTUSD", from: "2023-12-31T23:30:00Z", to: "2024-01-01T02:00:00Z" });
		expect(r.status).toBe(200);
		// 600 earlier trades; the trades at the oldest and at the newest stored instant are read again on purpose
		// (others of those same instants might be missing) and known by their ids, so not published again
		expect(r.body).toMatchObject({ missingRanges: 2, skippedRanges: 1, holesFound: 0, pages: 2, published: 600, alreadyStored: 2 });
		await waitFor(async () => (await tradeCount()).n === 3000, { what: "600 earlier trades stored" });
	});

	it("with `to` in the future, stops once Kraken has nothing newer", async () => {
		kraken.requests.length = 0;
		const r = await post(`${base}/history/kraken-trades`, { pair: "XBTUSD", from: "2024-01-01T02:00:00Z", to: "2099-01-01" });
		expect(r.status).toBe(200);
		// the last hour of the fake's trades (1200), then an empty page: caught up
		expect(r.body).toMatchObject({ missingRanges: 1, skippedRanges: 0, pages: 3, published: 1200 });
		expect(Date.parse(r.body.to)).toBeLessThanOrEqual(Date.now() - 5 * 60_000); // clamped to now minus the live stream's margin
		await waitFor(async () => (await tradeCount()).n === 4200, { what: "the last hour stored" });
	});

	it("answers bad input with the parameter named, and an unknown pair with 404", async () => {
		const bad = await post(`${base}/history/kraken-trades`, { pair: "XBTUSD", from: "yesterday", to: "2024-01-02" });
		expect(bad.status).toBe(400);
		expect(bad.body.data.param).toBe("from");
		const missing = await post(`${base}/history/kraken-trades`, { from: "2024-01-01", to: "2024-01-02" });
		expect(missing.status).toBe(400);
		expect(missing.body.data.param).toBe("pair");
		const unknown = await post(`${base}/history/kraken-trades`, { pair: "NOPEUSD", from: "2024-01-01", to: "2024-01-02" });
		expect(unknown.status).toBe(404);
		expect(unknown.body.message).toMatch(/Kraken does not know pair "NOPEUSD"/);
		const interval = await post(`${base}/history/klines`, { venue: "binance", symbol: "BTCUSDT", interval: "2m", from: "2024-01-01", to: "2024-01-02" });
		expect(interval.status).toBe(400);
		expect(interval.body.data.param).toBe("interval");
		const venue = await post(`${base}/history/klines`, { venue: "kraken", symbol: "BTCUSDT", interval: "1m", from: "2024-01-01", to: "2024-01-02" });
		expect(venue.body.data.param).toBe("venue");
		const sym = await post(`${base}/history/klines`, { venue: "binance", symbol: "NOPEUSDT", interval: "1m", from: "2024-01-01", to: "2024-01-02" });
		expect(sym.status).toBe(404);
		expect(sym.body.message).toMatch(/Binance does not know symbol "NOPEUSDT"/);
		const q = await getJson(`${base}/klines?venue=binance&symbol=BTC-USDT-SPOT&interval=1m&from=2024-01-02&to=2024-01-01`);
		expect(q.status).toBe(400);
		expect(q.body.data.param).toBe("from");
	});

	it("fills Binance klines through POST /api/history/klines and serves them exactly from GET /api/klines", async () => {
		const r = await post(`${base}/history/klines`, { venue: "binance", symbol: "BTCUSDT", interval: "1h", from: "2024-01-01", to: "2024-01-03" });
		expect(r.status).toBe(200);
		expect(r.body).toMatchObject({ symbol: "BTC-USDT-SPOT", interval: "1h", pages: 1, inserted: 48 });
		const k = await getJson(`${base}/klines?venue=binance&symbol=BTC-USDT-SPOT&interval=1h&from=2024-01-01&to=2024-01-03`);
		expect(k.status).toBe(200);
		expect(k.body).toHaveLength(48);
		const row = FakeBinance.row(FROM + 5 * 3_600_000, "1h");
		expect(k.body[5]).toEqual({
			openTime: "2024-01-01T05:00:00.000Z",
			closeTime: "2024-01-01T05:59:59.999Z",
			open: row[1],
			high: row[2],
			low: row[3],
			close: row[4],
			volume: row[5],
			quoteVolume: row[7],
			trades: row[8],
			takerBaseVolume: row[9],
			takerQuoteVolume: row[10],
		});
	});

	it("runs every active crypto symbol of the catalog", async () => {
		await db.pool.query(
			`INSERT INTO symbols (venue, symbol, venue_symbol, asset_class, base, quote, active) VALUES
			   ('binance', 'ETH-USDT-SPOT', 'ETHUSDT', 'crypto', 'ETH', 'USDT', true),
			   ('binance', 'BTC-USDT-SPOT', 'BTCUSDT', 'crypto', 'BTC', 'USDT', false),
			   ('kraken', 'BTC-USD-SPOT', 'BTC/USD', 'crypto', 'BTC', 'USD', true),
			   ('oanda', 'EUR-USD-SPOT', 'EUR_USD', 'fx', 'EUR', 'USD', true)`,
		);
		binance.requests.length = 0;
		kraken.requests.length = 0;
		const r: any = await p.broker.call("exchange-history.catalog", { from: "2024-01-01", to: "2024-01-01T02:00:00Z", interval: "1m" });
		expect(r.klines.map((k: any) => [k.symbol, k.inserted, k.pages])).toEqual([["ETH-USDT-SPOT", 120, 1]]);
		expect(r.krakenTrades.map((k: any) => [k.symbol, k.skippedRanges, k.pages])).toEqual([["BTC-USD-SPOT", 1, 1]]);
		expect(r.failed).toEqual([]);
		expect(binance.requests.map((q) => q.query.symbol)).toEqual(["ETHUSDT"]); // the inactive one is left alone
	});
});
