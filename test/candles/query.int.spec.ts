import { floorBucket } from "../../lib/candles/buckets";
import { getCandles, latestCandleTimes, type CandleQuery } from "../../lib/candles/query";
import { TIMEFRAMES, CANDLE_TABLE, type Timeframe } from "../../lib/domain/timeframes";
import type { Candle, PriceType } from "../../lib/domain/types";
import type { TestDb } from "../helpers/db";
import { candleDb, cascadeAll as cascadeAllOf, directCandles, isoMicro, QUERY_NOW, seedQueryTicks, storedCandles, writeQuotes, writeTrades, type Row } from "./fixtures";

const NOW = QUERY_NOW;

let db: TestDb;

function asCandles(rows: Row[], venue: string, symbol: string, from: number, to: number): Candle[] {
	return rows
		.filter((r) => r.venue === venue && r.symbol === symbol && Number(r.b) * 1000 >= from && Number(r.b) * 1000 < to)
		.map((r) => ({ time: new Date(Number(r.b) * 1000).toISOString(), open: r.open, high: r.high, low: r.low, close: r.close, volume: r.volume, trades: Number(r.trades) }));
}

function q(tf: Timeframe, from: string, to: string, extra: Partial<CandleQuery> = {}): CandleQuery {
	return { venue: "kraken", symbol: "BTC-USD-SPOT", timeframe: tf, from: new Date(from), to: new Date(to), price: "trade", fill: "none", now: NOW, ...extra };
}

const cascadeAll = () => cascadeAllOf(db.pool, "query-test");

/** getCandles over the whole data for every level and price equals the direct aggregation of the ticks. */
async function expectAllMatchTicks(prices: PriceType[]): Promise<void> {
	const from = "2024-01-15T00:00:00Z";
	const to = "2024-01-16T00:00:00Z";
	for (const price of prices) {
		const [venue, symbol] = price === "trade" ? ["kraken", "BTC-USD-SPOT"] : ["dukascopy", "EUR-USD-SPOT"];
		for (const tf of TIMEFRAMES) {
			const got = await getCandles(db.pool, { ...q(tf, from, to), venue, symbol, price });
			const want = asCandles(await directCandles(db.pool, tf, price), venue, symbol, Date.parse(from), Date.parse(to));
			expect(want.length).toBeGreaterThan(0);
			expect({ tf, price, got }).toEqual({ tf, price, got: want });
		}
	}
}

beforeAll(async () => {
	db = await candleDb("candle_query");
	await seedQueryTicks(db.pool, 21, 22);
});

afterAll(async () => {
	await db?.drop();
});

describe("getCandles", () => {
	it("answers every bucket live from the ticks before any cascade has run", async () => {
		const stored = await db.pool.query("SELECT count(*) AS n FROM candles_1m");
		expect(Number(stored.rows[0].n)).toBe(0);
		await expectAllMatchTicks(["trade", "bid", "ask", "mid"]);
	});

	it("gives the same answers, string for string, from the stored candles after the cascade", async () => {
		const live: Record<string, Candle[]> = {};
		for (const tf of TIMEFRAMES) live[tf] = await getCandles(db.pool, q(tf, "2024-01-15T00:00:00Z", "2024-01-16T00:00:00Z"));
		expect(await cascadeAll()).toBeGreaterThan(200);
		for (const tf of TIMEFRAMES) {
			expect(await getCandles(db.pool, q(tf, "2024-01-15T00:00:00Z", "2024-01-16T00:00:00Z"))).toEqual(live[tf]);
			// with the clock far ahead nothing is live: the answer is the stored table itself
			const later = await getCandles(db.pool, q(tf, "2024-01-15T00:00:00Z", "2024-01-16T00:00:00Z", { now: new Date("2024-02-01T00:00:00Z") }));
			expect(later).toEqual(asCandles(await storedCandles(db.pool, tf, "trade"), "kraken", "BTC-USD-SPOT", 0, Infinity));
			expect(later).toEqual(live[tf]);
		}
		await expectAllMatchTicks(["trade", "bid", "ask", "mid"]);
	});

	it("returns the buckets whose start lies in [from, to), oldest first", async () => {
		const got = await getCandles(db.pool, q("5m", "2024-01-15T09:02:00Z", "2024-01-15T09:20:00Z"));
		const times = got.map((c) => c.time);
		expect(times.every((t) => t >= "2024-01-15T09:05:00.000Z" && t < "2024-01-15T09:20:00.000Z")).toBe(true);
		expect([...times].sort()).toEqual(times);
		expect(await getCandles(db.pool, q("1h", "2024-01-15T09:30:00Z", "2024-01-15T09:59:00Z"))).toEqual([]);
	});

	it("shows a new trade in the open bucket of every level at once, and the cascade agrees", async () => {
		await writeTrades(db.pool, [
			{ venue: "kraken", symbol: "BTC-USD-SPOT", time: isoMicro(Date.parse("2024-01-15T13:37:10Z"), 1), tradeId: "1", price: "99999.99", qty: "0.001" },
			{ venue: "kraken", symbol: "BTC-USD-SPOT", time: isoMicro(Date.parse("2024-01-15T12:01:10Z"), 1), tradeId: "2", price: "1.01", qty: "7" },
		]);
		for (const tf of TIMEFRAMES) {
			const open = new Date(floorBucket(NOW, tf)).toISOString();
			const got = await getCandles(db.pool, q(tf, "2024-01-15T00:00:00Z", "2024-01-15T14:00:00Z"));
			const last = got[got.length - 1];
			expect(last.time).toBe(open);
			expect(last.high).toBe("99999.99");
			expect(last.close).toBe("99999.99");
		}
		await expectAllMatchTicks(["trade"]);
		const before: Record<string, Candle[]> = {};
		for (const tf of TIMEFRAMES) before[tf] = await getCandles(db.pool, q(tf, "2024-01-15T00:00:00Z", "2024-01-16T00:00:00Z"));
		expect(await cascadeAll()).toBe(2);
		for (const tf of TIMEFRAMES) expect(await getCandles(db.pool, q(tf, "2024-01-15T00:00:00Z", "2024-01-16T00:00:00Z"))).toEqual(before[tf]);
	});

	it("answers a closed bucket with a dirty minute live (a late trade), not from the stale stored candle", async () => {
		await writeTrades(db.pool, [{ venue: "kraken", symbol: "BTC-USD-SPOT", time: isoMicro(Date.parse("2024-01-15T10:05:00Z"), 0), tradeId: "3", price: "0.5", qty: "1" }]);
		const h = await getCandles(db.pool, q("1h", "2024-01-15T10:00:00Z", "2024-01-15T11:00:00Z"));
		expect(h).toHaveLength(1);
		expect(h[0].low).toBe("0.5");
		const stored = await db.pool.query(`SELECT low FROM ${CANDLE_TABLE["1h"]} WHERE symbol = 'BTC-USD-SPOT' AND bucket = '2024-01-15T10:00:00Z'`);
		expect(stored.rows[0].low).not.toBe("0.5");
		await expectAllMatchTicks(["trade"]);
		await cascadeAll();
		expect(await getCandles(db.pool, q("1h", "2024-01-15T10:00:00Z", "2024-01-15T11:00:00Z"))).toEqual(h);
	});

	it("fill=previous carries the previous close through empty buckets with zero volume", async () => {
		const from = "2024-01-15T10:30:00Z";
		const to = "2024-01-15T11:30:00Z";
		const filled = await getCandles(db.pool, q("5m", from, to, { fill: "previous" }));
		const plain = await getCandles(db.pool, q("5m", from, to));
		expect(filled.map((c) => c.time)).toEqual(Array.from({ length: 12 }, (_, i) => new Date(Date.parse(from) + i * 300_000).toISOString()));
		expect(plain.length).toBeLessThan(filled.length);
		let prev: Candle | null = null;
		for (const c of filled) {
			const real = plain.find((p) => p.time === c.time);
			if (real) expect(c).toEqual(real);
			else {
				expect(prev).not.toBeNull();
				expect(c).toEqual({ time: c.time, open: prev!.close, high: prev!.close, low: prev!.close, close: prev!.close, volume: "0", trades: 0 });
			}
			prev = c;
		}
	});

	it("fill=previous looks up the close before `from` when the range starts empty", async () => {
		// 10:45..11:00 lies inside the gap; the last trade before it is in the 10:35 bucket
		const got = await getCandles(db.pool, q("5m", "2024-01-15T10:45:00Z", "2024-01-15T11:00:00Z", { fill: "previous" }));
		const last = await db.pool.query(`SELECT price FROM trades WHERE symbol = 'BTC-USD-SPOT' AND time < '2024-01-15T10:45:00Z' ORDER BY time DESC, trade_id DESC LIMIT 1`);
		const stored = await getCandles(db.pool, q("5m", "2024-01-15T10:35:00Z", "2024-01-15T10:40:00Z"));
		expect(stored[0].close).toBe(last.rows[0].price);
		expect(got).toEqual(
			["10:45", "10:50", "10:55"].map((t) => ({ time: `2024-01-15T${t}:00.000Z`, open: stored[0].close, high: stored[0].close, low: stored[0].close, close: stored[0].close, volume: "0", trades: 0 })),
		);
		// nothing before the first trade ever
		const early = await getCandles(db.pool, q("15m", "2024-01-15T08:00:00Z", "2024-01-15T09:30:00Z", { fill: "previous" }));
		expect(early[0].time).toBe("2024-01-15T09:00:00.000Z");
		// and nothing filled past the open bucket
		const late = await getCandles(db.pool, q("15m", "2024-01-15T13:00:00Z", "2024-01-15T15:00:00Z", { fill: "previous" }));
		expect(late.map((c) => c.time)).toEqual(["2024-01-15T13:00:00.000Z", "2024-01-15T13:15:00.000Z", "2024-01-15T13:30:00.000Z"]);
	});

	it("fill=previous falls back to the stored candle when the ticks before `from` are gone (retention)", async () => {
		await writeTrades(db.pool, [
			{ venue: "kraken", symbol: "OLD-USD-SPOT", time: "2024-01-15T09:00:10.000000Z", tradeId: "1", price: "5.25", qty: "1" },
			{ venue: "kraken", symbol: "OLD-USD-SPOT", time: "2024-01-15T09:04:10.000000Z", tradeId: "2", price: "5.75", qty: "1" },
		]);
		await cascadeAll();
		await db.pool.query(`DELETE FROM trades WHERE symbol = 'OLD-USD-SPOT'`); // retention drops ticks, not candles
		const got = await getCandles(db.pool, { ...q("1m", "2024-01-15T09:10:00Z", "2024-01-15T09:12:00Z", { fill: "previous" }), symbol: "OLD-USD-SPOT" });
		expect(got.map((c) => [c.time, c.close, c.volume])).toEqual([
			["2024-01-15T09:10:00.000Z", "5.75", "0"],
			["2024-01-15T09:11:00.000Z", "5.75", "0"],
		]);
	});

	it("mid candles of the open bucket are live too", async () => {
		await writeQuotes(db.pool, [
			{ venue: "dukascopy", symbol: "EUR-USD-SPOT", time: isoMicro(Date.parse("2024-01-15T13:37:29.999Z"), 999), seq: "1", bid: "1.09001", ask: "1.09004", bidQty: "1000000", askQty: null },
		]);
		const got = await getCandles(db.pool, { ...q("4h", "2024-01-15T12:00:00Z", "2024-01-15T16:00:00Z"), venue: "dukascopy", symbol: "EUR-USD-SPOT", price: "mid" });
		expect(got[0].close).toBe("1.090025");
		await expectAllMatchTicks(["bid", "ask", "mid"]);
		await cascadeAll();
		expect(await getCandles(db.pool, { ...q("4h", "2024-01-15T12:00:00Z", "2024-01-15T16:00:00Z"), venue: "dukascopy", symbol: "EUR-USD-SPOT", price: "mid" })).toEqual(got);
	});

	it("rejects a range it cannot hold and returns nothing for an empty one", async () => {
		await expect(getCandles(db.pool, q("1m", "2000-01-01T00:00:00Z", "2024-01-01T00:00:00Z"))).rejects.toThrow(RangeError);
		expect(await getCandles(db.pool, q("1m", "2024-01-15T10:00:30Z", "2024-01-15T10:00:50Z"))).toEqual([]);
	});
});

describe("latestCandleTimes", () => {
	it("lists the latest bucket and its write time per venue, symbol, price type and timeframe", async () => {
		const got = await latestCandleTimes(db.pool);
		const want: { venue: string; symbol: string; priceType: string; timeframe: Timeframe; latestBucket: string; updatedAt: string }[] = [];
		for (const tf of TIMEFRAMES) {
			const r = await db.pool.query(
				`SELECT DISTINCT ON (venue, symbol, price_type) venue, symbol, price_type, bucket, updated_at FROM ${CANDLE_TABLE[tf]} ORDER BY venue, symbol, price_type, bucket DESC`,
			);
			for (const x of r.rows) want.push({ venue: x.venue, symbol: x.symbol, priceType: x.price_type, timeframe: tf, latestBucket: x.bucket.toISOString(), updatedAt: x.updated_at.toISOString() });
		}
		expect(got).toHaveLength(want.length);
		expect(new Set(got.map((g) => `${g.venue}/${g.symbol}/${g.priceType}`))).toEqual(
			new Set(["kraken/BTC-USD-SPOT/trade", "kraken/OLD-USD-SPOT/trade", "dukascopy/EUR-USD-SPOT/bid", "dukascopy/EUR-USD-SPOT/ask", "dukascopy/EUR-USD-SPOT/mid"]),
		);
		const key = (x: (typeof want)[number]) => `${x.venue}/${x.symbol}/${x.priceType}/${x.timeframe}`;
		expect(new Map(got.map((g) => [key(g), g]))).toEqual(new Map(want.map((w) => [key(w), w])));
		expect(got.find((g) => g.symbol === "BTC-USD-SPOT" && g.timeframe === "12h")?.latestBucket).toBe("2024-01-15T12:00:00.000Z");
	});
});
