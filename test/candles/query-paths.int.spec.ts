/**
 * getCandles answers fill=none ranges in one prepared statement on the pool and everything else with that statement
 * inside a read-only transaction (JIT off). Both paths must give the same candles, string for string: stored buckets, gaps, buckets
 * with a dirty minute (a late trade the cascade has not seen), the open bucket, and a repaired minute without
 * ticks inside a live bucket.
 */
import { floorBucket } from "../../lib/candles/buckets";
import { getCandles, getCandlesVia, ONE_STATEMENT_MAX_BUCKETS, type CandleQuery } from "../../lib/candles/query";
import { TIMEFRAMES, TIMEFRAME_MS, type Timeframe } from "../../lib/domain/timeframes";
import type { Candle, PriceType } from "../../lib/domain/types";
import type { TestDb } from "../helpers/db";
import { candleDb, cascadeAll as cascadeAllOf, isoMicro, QUERY_GAP, QUERY_NOW, QUERY_START, rng, seedQueryTicks, writeTrades } from "./fixtures";

const [START, NOW, GAP] = [QUERY_START, QUERY_NOW, QUERY_GAP];
const REPAIRED_MINUTE = "2024-01-15T10:52:00Z"; // inside the gap: a repaired 1m candle without ticks

let db: TestDb;

const cascadeAll = () => cascadeAllOf(db.pool, "query-paths-test");

function query(tf: Timeframe, from: number, to: number, price: PriceType): CandleQuery {
	const [venue, symbol] = price === "trade" ? ["kraken", "BTC-USD-SPOT"] : ["dukascopy", "EUR-USD-SPOT"];
	return { venue, symbol, timeframe: tf, from: new Date(from), to: new Date(to), price, fill: "none", now: NOW };
}

/** Every timeframe and price type over ranges that start mid-bucket, lie in the gap, cross the open bucket or end past it. */
function ranges(): CandleQuery[] {
	const r = rng(5);
	const out: CandleQuery[] = [];
	for (const price of ["trade", "bid", "ask", "mid"] as const) {
		for (const tf of TIMEFRAMES) {
			out.push(query(tf, Date.parse("2024-01-15T00:00:00Z"), Date.parse("2024-01-16T00:00:00Z"), price));
			out.push(query(tf, GAP[0] + 1_000, GAP[1] - 1_000, price));
			out.push(query(tf, floorBucket(NOW, tf) - 3 * TIMEFRAME_MS[tf], floorBucket(NOW, tf) + 2 * TIMEFRAME_MS[tf], price));
			for (let i = 0; i < 6; i++) {
				const from = START - 3_600_000 + Math.floor(r() * 6 * 3_600_000);
				out.push(query(tf, from, from + Math.floor(r() * 4 * 3_600_000) + 60_000, price));
			}
		}
	}
	return out;
}

async function expectPathsAgree(): Promise<Candle[][]> {
	const answers: Candle[][] = [];
	for (const q of ranges()) {
		const one = await getCandlesVia(db.pool, q, "one-statement");
		const snapshot = await getCandlesVia(db.pool, q, "snapshot");
		expect({ q, one }).toEqual({ q, one: snapshot });
		expect(await getCandles(db.pool, q)).toEqual(one);
		answers.push(one);
	}
	return answers;
}

beforeAll(async () => {
	db = await candleDb("candle_query_paths");
	await seedQueryTicks(db.pool, 31, 32);
});

afterAll(async () => {
	await db?.drop();
});

describe("getCandles: the one-statement path and the snapshot path", () => {
	it("agree before any cascade has run (every bucket live from the ticks)", async () => {
		const answers = await expectPathsAgree();
		expect(answers.filter((a) => a.length > 0).length).toBeGreaterThan(100);
	});

	it("agree on stored candles, gaps, dirty minutes, the open bucket and a repaired minute without ticks", async () => {
		await cascadeAll();
		// A repaired 1m candle in the gap (no ticks there), marked dirty so its buckets are answered live.
		await db.pool.query(
			`INSERT INTO candles_1m (venue, symbol, price_type, bucket, open, high, low, close, volume, trades, repaired)
			 VALUES ('kraken', 'BTC-USD-SPOT', 'trade', $1, 42000.5, 42001.25, 41999.75, 42000, 0, 0, true)`,
			[REPAIRED_MINUTE],
		);
		await db.pool.query(`INSERT INTO dirty_buckets (venue, symbol, source, bucket) VALUES ('kraken', 'BTC-USD-SPOT', 'trades', $1)`, [REPAIRED_MINUTE]);
		// Late trades after the cascade: their minutes are dirty, the stored candles stale.
		await writeTrades(db.pool, [
			{ venue: "kraken", symbol: "BTC-USD-SPOT", time: isoMicro(Date.parse("2024-01-15T09:31:10Z"), 5), tradeId: "900001", price: "0.25", qty: "3" },
			{ venue: "kraken", symbol: "BTC-USD-SPOT", time: isoMicro(Date.parse("2024-01-15T12:05:59Z"), 999), tradeId: "900002", price: "123456.789", qty: "0.00000001" },
			{ venue: "kraken", symbol: "BTC-USD-SPOT", time: isoMicro(Date.parse("2024-01-15T13:37:05Z"), 0), tradeId: "900003", price: "99999.99", qty: "0.5" },
		]);
		const dirty = await db.pool.query(`SELECT count(*)::int AS n FROM dirty_buckets`);
		expect(dirty.rows[0].n).toBe(4);

		const answers = await expectPathsAgree();
		const all = answers.flat();
		expect(all.some((c) => c.repaired)).toBe(true);
		expect(all.some((c) => c.low === "0.25")).toBe(true);
		expect(all.some((c) => c.high === "123456.789")).toBe(true);
		expect(all.some((c) => c.high === "99999.99")).toBe(true); // the open bucket

		// The cascade catches up: the stored answer is the live answer it replaced.
		await cascadeAll();
		const after = [];
		for (const q of ranges()) after.push(await getCandlesVia(db.pool, q, "one-statement"));
		expect(after).toEqual(answers);
	});

	it("getCandles takes one statement only for fill=none and bounded ranges; both paths still answer the rest", async () => {
		const q = query("1m", START, START + (ONE_STATEMENT_MAX_BUCKETS + 1) * 60_000, "trade");
		const long = await getCandles(db.pool, q);
		expect(long.length).toBeGreaterThan(100);
		expect(await getCandlesVia(db.pool, q, "one-statement")).toEqual(long);
		await expect(getCandlesVia(db.pool, { ...q, fill: "previous" }, "one-statement")).rejects.toThrow(RangeError);
	});
});
