/**
 * Candle query latency (issue 12, item 3): 10,000,000 trades over 100 symbols (quick: 1,000,000), generated in
 * SQL, the whole cascade built once (rebuildAll), then many random candle queries (random symbol, timeframe and
 * a range of 100..500 buckets) through lib/candles/query.ts getCandles, the function behind /api/candles.
 * Baseline: the minimal direct SQL selecting the same stored candles (one SELECT on the level's table), timed
 * query by query interleaved with getCandles in the same run. The clock is the real one, so no bucket of the
 * 2024 data is open; nothing is dirty after the rebuild. For comparison the same queries also go through the
 * snapshot-transaction path (getCandlesVia "snapshot": the same statement inside a read-only transaction, as
 * fill=previous and very long ranges take it); its p99 is a detail, not the ratio.
 *   ratio = getCandles p99 / direct SQL p99 — LOWER is better; goal <= 1.25
 *   npm run bench:candles [-- --quick] [-- --trades 10000000] [-- --queries 4000] [-- --runs 3]
 * Progress goes to stderr; the one result line to stdout.
 */
import type { Pool } from "pg";
import { rebuildAll } from "../lib/candles/cascade";
import { floorBucket } from "../lib/candles/buckets";
import { getCandles, getCandlesVia, type CandleQuery } from "../lib/candles/query";
import { tableOf } from "../lib/candles/sql";
import { TIMEFRAMES, TIMEFRAME_MS, type Timeframe } from "../lib/domain/timeframes";
import type { Candle } from "../lib/domain/types";
import { benchDatabase, fmt, insertSyntheticTrades, median, percentile, report, RUNS, seconds, sizeArg } from "./common";
import { rng } from "../test/candles/fixtures";

const N = sizeArg("--trades", 10_000_000, 1_000_000);
const QUERIES = sizeArg("--queries", 4_000, 1_200);
const SYMBOLS = 100;
/** 30 days at full size; the quick run keeps the same trades per minute over fewer days. */
const DAYS = Math.max(1, Math.round((30 * N) / 10_000_000));
const START_MS = Date.parse("2024-01-01T00:00:00Z");
const END_MS = START_MS + DAYS * 86_400_000;
const WARMUP = 200;

const log = (...a: unknown[]) => console.error(...a);


function symbolOf(i: number): string {
	return `SYM${i}-USD-SPOT`;
}

/** Random queries: a symbol, a timeframe, 100..500 buckets ending somewhere in the data (or just past it). */
function makeQueries(n: number, seed: number): CandleQuery[] {
	const r = rng(seed);
	const out: CandleQuery[] = [];
	for (let i = 0; i < n; i++) {
		const tf = TIMEFRAMES[Math.floor(r() * TIMEFRAMES.length)];
		const size = TIMEFRAME_MS[tf];
		const buckets = 100 + Math.floor(r() * 401);
		const end = floorBucket(START_MS + size + r() * (END_MS - START_MS), tf);
		out.push({ venue: "kraken", symbol: symbolOf(Math.floor(r() * SYMBOLS)), timeframe: tf, from: new Date(end - buckets * size), to: new Date(end), price: "trade", fill: "none" });
	}
	return out;
}

/** The baseline: the one SELECT of the stored candles a hand-written endpoint would run. */
async function directCandles(pool: Pool, q: CandleQuery): Promise<Candle[]> {
	const r = await pool.query<{ bucket: Date; open: string; high: string; low: string; close: string; volume: string; trades: string }>(
		`SELECT bucket, open, high, low, close, volume, trades FROM ${tableOf(q.timeframe)}
		 WHERE venue = $1 AND symbol = $2 AND price_type = $3 AND bucket >= $4 AND bucket < $5 ORDER BY bucket`,
		[q.venue, q.symbol, q.price, q.from, q.to],
	);
	return r.rows.map((x) => ({ time: x.bucket.toISOString(), open: x.open, high: x.high, low: x.low, close: x.close, volume: x.volume, trades: Number(x.trades) }));
}

async function main() {
	const db = await benchDatabase("candles");
	try {
		const t0 = performance.now();
		// History straight from SQL: N trades evenly over DAYS days, symbols interleaved, prices exact decimals.
		await insertSyntheticTrades(db.pool, { n: N, symbols: SYMBOLS, days: DAYS, startIso: new Date(START_MS).toISOString() });
		await db.pool.query("VACUUM ANALYZE trades");
		log(`candle-query: stored ${fmt(N)} trades over ${DAYS} days for ${SYMBOLS} symbols in ${seconds(performance.now() - t0)}`);
		const full = await rebuildAll(db.pool);
		log(`candle-query: cascade rebuilt in ${seconds(full.durationMs)} (rows per level ${JSON.stringify(full.perLevel)})`);
		await db.pool.query("VACUUM ANALYZE");

		// Warm the caches and check that both paths answer the same, candle for candle.
		for (const q of makeQueries(WARMUP, 1)) {
			const [a, b] = [await getCandles(db.pool, q), await directCandles(db.pool, q)];
			if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`getCandles and the direct SQL differ for ${JSON.stringify(q)}`);
		}

		const libP99: number[] = [];
		const sqlP99: number[] = [];
		const libP50: number[] = [];
		const sqlP50: number[] = [];
		const perRun: number[] = [];
		const snapP99: number[] = [];
		const snapP50: number[] = [];
		let rows = 0;
		for (let run = 1; run <= RUNS; run++) {
			const lib: number[] = [];
			const direct: number[] = [];
			const snapshot: number[] = [];
			const queries = makeQueries(QUERIES, 100 + run);
			for (let i = 0; i < queries.length; i++) {
				const q = queries[i];
				// Alternate which goes first, so neither always finds the pages the other just read.
				const timeLib = async () => {
					const s = performance.now();
					const c = await getCandles(db.pool, q);
					lib.push(performance.now() - s);
					return c;
				};
				const timeSql = async () => {
					const s = performance.now();
					const c = await directCandles(db.pool, q);
					direct.push(performance.now() - s);
					return c;
				};
				const [a, b] = i % 2 ? [await timeLib(), await timeSql()] : [await timeSql(), await timeLib()].reverse();
				if (a.length !== b.length) throw new Error(`getCandles returned ${a.length} candles, the direct SQL ${b.length}, for ${JSON.stringify(q)}`);
				rows += a.length;
				const s = performance.now();
				await getCandlesVia(db.pool, q, "snapshot");
				snapshot.push(performance.now() - s);
			}
			lib.sort((x, y) => x - y);
			direct.sort((x, y) => x - y);
			snapshot.sort((x, y) => x - y);
			snapP99.push(percentile(snapshot, 99));
			snapP50.push(percentile(snapshot, 50));
			libP99.push(percentile(lib, 99));
			sqlP99.push(percentile(direct, 99));
			libP50.push(percentile(lib, 50));
			sqlP50.push(percentile(direct, 50));
			perRun.push(libP99[libP99.length - 1] / sqlP99[sqlP99.length - 1]);
			log(
				`run ${run}/${RUNS}: ${fmt(queries.length)} queries; getCandles p50 ${lib[lib.length >> 1].toFixed(2)} ms p99 ${libP99.at(-1)!.toFixed(2)} ms; ` +
					`direct SQL p50 ${direct[direct.length >> 1].toFixed(2)} ms p99 ${sqlP99.at(-1)!.toFixed(2)} ms; ratio ${perRun.at(-1)!.toFixed(3)} ` +
					`(snapshot path p50 ${snapP50.at(-1)!.toFixed(2)} ms p99 ${snapP99.at(-1)!.toFixed(2)} ms, ratio ${(snapP99.at(-1)! / sqlP99.at(-1)!).toFixed(3)})`,
			);
		}
		const ratio = median(perRun);
		report({
			bench: "candle-query-p99",
			ratio,
			goal: 1.25,
			better: "lower",
			figure: `p99 ${median(libP99).toFixed(2)} ms (p50 ${median(libP50).toFixed(2)} ms)`,
			baseline: `direct SQL p99 ${median(sqlP99).toFixed(2)} ms (p50 ${median(sqlP50).toFixed(2)} ms)`,
			trades: N,
			symbols: SYMBOLS,
			days: DAYS,
			queries_per_run: QUERIES,
			runs: RUNS,
			mean_candles_per_query: Number((rows / (QUERIES * RUNS)).toFixed(1)),
			lib_p99_ms_runs: libP99.map((x) => Number(x.toFixed(3))),
			sql_p99_ms_runs: sqlP99.map((x) => Number(x.toFixed(3))),
			ratio_runs: perRun.map((x) => Number(x.toFixed(3))),
			snapshot_path_p99_ms_runs: snapP99.map((x) => Number(x.toFixed(3))),
			snapshot_path_ratio_runs: snapP99.map((x, i) => Number((x / sqlP99[i]).toFixed(3))),
			rebuild_ms: Math.round(full.durationMs),
		});
	} finally {
		await db.drop();
	}
}

main().catch((err) => {
	console.error(err);
	process.exit(1);
});
