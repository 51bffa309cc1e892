import { backfillKlines, BinanceRest, KLINES_PAGE_LIMIT, resolveBinanceSymbol } from "../../lib/history/binance-history";
import { parseKlines } from "../../lib/history/binance-klines";
import { HistoryError } from "../../lib/history/errors";
import { writeKlines } from "../../lib/history/klines-store";
import { withTransaction } from "../../lib/store/pool";
import { RateLimiter } from "../../lib/net/http";
import { migrate } from "../../lib/store/migrate";
import { freshDatabase, type TestDb } from "../helpers/db";
import { FakeBinance } from "../helpers/fake-binance";

const DAY0 = Date.parse("2024-01-01T00:00:00Z");
const DAY1 = Date.parse("2024-01-02T00:00:00Z");
const MIN = 60_000;

/** Klines from the fake Binance into real PostgreSQL: ask the database what is missing, then page through the venue. */
describe("Binance klines history (fake Binance REST, PostgreSQL)", () => {
	let db: TestDb;
	let fake: FakeBinance;
	let rest: BinanceRest;

	beforeAll(async () => {
		db = await freshDatabase("hist_binance");
		await migrate(db.pool);
		fake = await new FakeBinance().start();
		rest = new BinanceRest({ baseUrl: fake.url, limiter: new RateLimiter(1000, 50), baseDelayMs: 10, maxDelayMs: 5000 });
	});
	afterAll(async () => {
		await fake?.stop();
		await db?.drop();
	});

	const count = async (symbol = "BTC-USDT-SPOT", interval = "1m") =>
		Number((await db.pool.query("SELECT count(*) AS n FROM klines WHERE venue = 'binance' AND symbol = $1 AND interval = $2", [symbol, interval])).rows[0].n);

	it("fills a day with exactly 1440 klines in two requests, then a second run asks the venue nothing", async () => {
		const symbol = await resolveBinanceSymbol(db.pool, rest, "BTCUSDT"); // not in the catalog: Binance exchangeInfo names it
		expect(symbol).toMatchObject({ symbol: "BTC-USDT-SPOT", venueSymbol: "BTCUSDT" });
		fake.requests.length = 0;
		const first = await backfillKlines(db.pool, rest, { symbol, interval: "1m", from: DAY0, to: DAY1 });
		expect(first).toMatchObject({ missingRanges: 1, skippedRanges: 0, klinesMissing: 1440, pages: 2, inserted: 1440, updated: 0, emptyKlines: 0 });
		expect(await count()).toBe(1440);
		const reqs = fake.klineRequests();
		expect(reqs.map((r) => [Number(r.query.startTime), Number(r.query.endTime), r.query.limit])).toEqual([
			[DAY0, DAY0 + 1000 * MIN - 1, "1000"], // windows of exactly 1000 minutes, both asked for at once
			[DAY0 + 1000 * MIN, DAY1 - 1, "1000"],
		]);

		// What is stored is the venue's row, decimal for decimal, under its open time.
		const t = DAY0 + 777 * MIN;
		const want = parseKlines([FakeBinance.row(t, "1m")], "1m")[0];
		const { rows } = await db.pool.query(
			`SELECT open::text, high::text, low::text, close::text, volume::text, quote_volume::text, trades::int, taker_base_volume::text, taker_quote_volume::text, close_time
			   FROM klines WHERE symbol = 'BTC-USDT-SPOT' AND interval = '1m' AND open_time = $1`,
			[new Date(t)],
		);
		expect(rows).toEqual([
			{
				open: want.open,
				high: want.high,
				low: want.low,
				close: want.close,
				volume: want.volume,
				quote_volume: want.quoteVolume,
				trades: want.trades,
				taker_base_volume: want.takerBaseVolume,
				taker_quote_volume: want.takerQuoteVolume,
				close_time: new Date(t + MIN - 1),
			},
		]);

		fake.requests.length = 0;
		const second = await backfillKlines(db.pool, rest, { symbol, interval: "1m", from: DAY0, to: DAY1 });
		expect(fake.klineRequests()).toEqual([]);
		expect(second).toMatchObject({ missingRanges: 0, skippedRanges: 1, pages: 0, inserted: 0 });
		expect(await count()).toBe(1440);
	});

	it("re-fetches a hole deleted in the middle with only the requests it needs", async () => {
		const symbol = await resolveBinanceSymbol(db.pool, rest, "BTCUSDT");
		const holeFrom = DAY0 + 300 * MIN;
		await db.pool.query("DELETE FROM klines WHERE symbol = 'BTC-USDT-SPOT' AND interval = '1m' AND open_time >= $1 AND open_time < $2", [new Date(holeFrom), new Date(holeFrom + 25 * MIN)]);
		await db.pool.query("DELETE FROM klines WHERE symbol = 'BTC-USDT-SPOT' AND interval = '1m' AND open_time = $1", [new Date(DAY0 + 1200 * MIN)]);
		expect(await count()).toBe(1440 - 26);
		fake.requests.length = 0;
		const r = await backfillKlines(db.pool, rest, { symbol, interval: "1m", from: DAY0, to: DAY1 });
		expect(fake.klineRequests().map((q) => [Number(q.query.startTime), Number(q.query.endTime)])).toEqual([
			[holeFrom, holeFrom + 25 * MIN - 1],
			[DAY0 + 1200 * MIN, DAY0 + 1201 * MIN - 1],
		]);
		expect(r).toMatchObject({ missingRanges: 2, skippedRanges: 3, klinesMissing: 26, pages: 2, inserted: 26 });
		expect(await count()).toBe(1440);
	});

	it("remembers klines the venue does not have, and stops at the kline still open", async () => {
		const symbol = await resolveBinanceSymbol(db.pool, rest, "ETHUSDT");
		const from = DAY0;
		fake.holes.add(from + 10 * MIN).add(from + 11 * MIN); // exchange downtime
		const realNow = fake.now;
		fake.now = () => from + 50 * MIN + 30_000; // minute 50 is still open
		try {
			fake.requests.length = 0;
			const r = await backfillKlines(db.pool, rest, { symbol, interval: "1m", from, to: from + 120 * MIN, now: fake.now() });
			expect(r).toMatchObject({ klinesMissing: 50, pages: 1, inserted: 48, emptyKlines: 2 });
			expect(Number(fake.klineRequests()[0].query.endTime)).toBe(from + 50 * MIN - 1);
			expect(await count("ETH-USDT-SPOT")).toBe(48);
			fake.requests.length = 0;
			const again = await backfillKlines(db.pool, rest, { symbol, interval: "1m", from, to: from + 120 * MIN, now: fake.now() });
			expect(again).toMatchObject({ missingRanges: 0, pages: 0 });
			expect(fake.klineRequests()).toEqual([]);
		} finally {
			fake.now = realNow;
			fake.holes.clear();
		}
	});

	it("honours 429 Retry-After: the retry comes no earlier than the venue asked", async () => {
		const symbol = await resolveBinanceSymbol(db.pool, rest, "BTCUSDT");
		fake.failNext(429, 1);
		fake.requests.length = 0;
		const r = await backfillKlines(db.pool, rest, { symbol, interval: "1h", from: DAY0, to: DAY1 });
		expect(r).toMatchObject({ pages: 1, inserted: 24 });
		const reqs = fake.klineRequests();
		expect(reqs.map((q) => q.status)).toEqual([429, 200]);
		expect(reqs[1].at - reqs[0].at).toBeGreaterThanOrEqual(1000);
		expect(await count("BTC-USDT-SPOT", "1h")).toBe(24);
	});

	it("stops with a clear error on 418, keeping the pages already stored", async () => {
		const symbol = await resolveBinanceSymbol(db.pool, rest, "BTCUSDT");
		const from = Date.parse("2024-02-01T00:00:00Z");
		// page 1 is served, then the venue bans us
		fake.requests.length = 0;
		fake.failNext(418, 120, 1, 1);
		const onProgress = jest.fn();
		const err = await backfillKlines(db.pool, rest, { symbol, interval: "1m", from, to: from + 2 * KLINES_PAGE_LIMIT * MIN, onProgress }).catch((e) => e);
		expect(err).toBeInstanceOf(HistoryError);
		expect(err.code).toBe("BANNED");
		expect(err.message).toMatch(/HTTP 418: this IP is banned for 120 s/);
		expect(onProgress).toHaveBeenCalledTimes(1); // page 1 was committed before the error surfaced
		expect(fake.klineRequests().map((q) => q.status)).toEqual([200, 418]); // no retry into a ban
		const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM klines WHERE interval = '1m' AND open_time >= $1", [new Date(from)]);
		expect(rows[0].n).toBe(KLINES_PAGE_LIMIT);
		// the next run asks only for the second page
		fake.requests.length = 0;
		const resumed = await backfillKlines(db.pool, rest, { symbol, interval: "1m", from, to: from + 2 * KLINES_PAGE_LIMIT * MIN });
		expect(resumed).toMatchObject({ pages: 1, inserted: KLINES_PAGE_LIMIT });
	});

	it("writes a page that meets stored klines as an upsert: new rows inserted, a revised kline updated, equal ones untouched", async () => {
		const key = { venue: "binance", symbol: "XRP-USDT-SPOT", interval: "1m" };
		const page = parseKlines(Array.from({ length: 5 }, (_, i) => FakeBinance.row(DAY0 + i * MIN, "1m")), "1m");
		await withTransaction(db.pool, (c) => writeKlines(c, key, page.slice(1, 3)));
		await db.pool.query("UPDATE klines SET close = 1 WHERE symbol = 'XRP-USDT-SPOT' AND open_time = $1", [new Date(DAY0 + 2 * MIN)]);
		const w = await withTransaction(db.pool, (c) => writeKlines(c, key, page));
		expect(w).toEqual({ inserted: 3, updated: 1 });
		const { rows } = await db.pool.query("SELECT close::text FROM klines WHERE symbol = 'XRP-USDT-SPOT' ORDER BY open_time");
		expect(rows.map((r) => r.close)).toEqual(page.map((k) => k.close)); // the venue's latest answer won
		expect(await withTransaction(db.pool, (c) => writeKlines(c, key, page))).toEqual({ inserted: 0, updated: 0 });
	});

	it("names an unknown symbol and a bad interval", async () => {
		await expect(resolveBinanceSymbol(db.pool, rest, "NOPEUSDT")).rejects.toMatchObject({ code: "UNKNOWN_SYMBOL", message: expect.stringMatching(/does not know symbol "NOPEUSDT"/) });
		const symbol = await resolveBinanceSymbol(db.pool, rest, "BTCUSDT");
		await expect(backfillKlines(db.pool, rest, { symbol, interval: "7m", from: DAY0, to: DAY1 })).rejects.toMatchObject({ code: "BAD_PARAMETER", param: "interval" });
		await expect(backfillKlines(db.pool, rest, { symbol, interval: "1m", from: DAY1, to: DAY0 })).rejects.toMatchObject({ code: "BAD_PARAMETER", param: "from" });
	});

	it("takes the catalog's names when the symbol is listed there", async () => {
		await db.pool.query(
			`INSERT INTO symbols (venue, symbol, venue_symbol, asset_class, base, quote, active) VALUES ('binance', 'ETH-USDT-SPOT', 'ETHUSDT', 'crypto', 'ETH', 'USDT', true)`,
		);
		fake.requests.length = 0;
		expect(await resolveBinanceSymbol(db.pool, rest, "eth-usdt-spot")).toMatchObject({ symbol: "ETH-USDT-SPOT", venueSymbol: "ETHUSDT" });
		expect(fake.requests).toEqual([]); // no exchangeInfo call
	});
});
