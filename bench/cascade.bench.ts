/**
 * Cascade cost follows new data, not history (issue 12: incremental cycle <= 0.02 of a full rebuild on 10M
 * trades). History: N trades over 30 days for 10 symbols, generated in SQL (the writer is not what this
 * measures). Each run, interleaved: a full rebuild of all levels from the trades table (the baseline), then a
 * batch of new trades (BATCH_MINUTES minutes right after the history, all symbols, with their dirty marks as
 * the tick-writer makes them) and the one cascade cycle the refresher runs over it. Ratio = median cycle /
 * median rebuild.
 *   npm run bench:cascade [-- --quick] [-- --trades 10000000] [-- --batch 20000] [-- --runs 3]
 */
import { TIMEFRAMES } from "../lib/domain/timeframes";
import { rebuildAll, runCascadeCycle } from "../lib/candles/cascade";
import { tableOf } from "../lib/candles/sql";
import { benchDatabase, fmt, insertSyntheticTrades, median, report, RUNS, seconds, sizeArg } from "./common";

const N = sizeArg("--trades", 10_000_000, 1_000_000);
/** New trades per batch, spread over BATCH_MINUTES minutes and all symbols. */
const BATCH = sizeArg("--batch", 20_000, 20_000);
const BATCH_MINUTES = 3;
const SYMBOLS = 10;
const DAYS = 30;
const START = "2024-01-01T00:00:00Z";

async function vacuumCandles(db: { pool: import("pg").Pool }): Promise<void> {
	// the state a running system is in between cycles: autovacuum has seen the candle tables
	for (const tf of TIMEFRAMES) await db.pool.query(`VACUUM ANALYZE ${tableOf(tf)}`);
	await db.pool.query("VACUUM ANALYZE dirty_buckets");
}

async function main() {
	const db = await benchDatabase("cascade");
	try {
		const t0 = performance.now();
		// History straight from SQL: N trades over DAYS days, SYMBOLS symbols, exact numeric prices and sizes.
		await insertSyntheticTrades(db.pool, { n: N, symbols: SYMBOLS, days: DAYS, startIso: START });
		await db.pool.query("VACUUM ANALYZE trades");
		console.error(`stored ${fmt(N)} trades over ${DAYS} days for ${SYMBOLS} symbols in ${seconds(performance.now() - t0)}`);

		const fulls: number[] = [];
		const cycles: number[] = [];
		let nextId = N + 1;
		for (let run = 0; run < RUNS; run++) {
			const full = await rebuildAll(db.pool);
			fulls.push(full.durationMs);
			console.error(`run ${run + 1}: full rebuild ${seconds(full.durationMs)} (rows per level ${JSON.stringify(full.perLevel)})`);
			await vacuumCandles(db);

			// BATCH new trades over BATCH_MINUTES minutes after the history (later each run), across all symbols,
			// marked dirty like the tick-writer does.
			const from = `timestamptz '${START}' + interval '${DAYS} days' + interval '${run * BATCH_MINUTES} minutes'`;
			await db.pool.query(
				`WITH ins AS (
				   INSERT INTO trades (venue, symbol, time, trade_id, price, qty, side, recv_time)
				   SELECT 'kraken', 'SYM' || (i % $2) || '-USD-SPOT', ${from} + (i::float8 / $1 * $4 * 60) * interval '1 second',
				          $3::bigint + i, 40000 + (i % 500) / 100.0, 0.01, 'b', now()
				     FROM generate_series(0, $1::bigint - 1) AS i
				   RETURNING venue, symbol, time)
				 INSERT INTO dirty_buckets (venue, symbol, source, bucket)
				 SELECT DISTINCT venue, symbol, 'trades', date_trunc('minute', time) FROM ins
				 ON CONFLICT (venue, symbol, source, bucket) DO UPDATE SET marked_at = EXCLUDED.marked_at`,
				[BATCH, SYMBOLS, nextId, BATCH_MINUTES],
			);
			nextId += BATCH;
			const r = await runCascadeCycle(db.pool, { fenceToken: 1, holder: "bench" });
			cycles.push(r.durationMs);
			console.error(`run ${run + 1}: cycle after ${fmt(BATCH)} new trades: ${r.durationMs.toFixed(1)} ms, claimed ${r.claimed}, rows per level ${JSON.stringify(r.perLevel)}`);
			if (r.claimed !== SYMBOLS * BATCH_MINUTES) throw new Error(`expected ${SYMBOLS * BATCH_MINUTES} dirty minutes, claimed ${r.claimed}`);
		}
		const fullMs = median(fulls);
		const cycleMs = median(cycles);
		report({
			bench: "cascade",
			ratio: cycleMs / fullMs,
			goal: 0.02,
			better: "lower",
			figure: `cycle ${cycleMs.toFixed(1)} ms`,
			baseline: `full rebuild ${fmt(fullMs)} ms`,
			trades: N,
			new_trades: BATCH,
			dirty_minutes: SYMBOLS * BATCH_MINUTES,
			full_ms: Math.round(fullMs),
			incremental_ms: Number(cycleMs.toFixed(1)),
			full_runs_ms: fulls.map((x) => Math.round(x)),
			incremental_runs_ms: cycles.map((x) => Number(x.toFixed(1))),
			runs: RUNS,
		});
	} finally {
		await db.drop();
	}
}

main().catch((err) => {
	console.error(err);
	process.exit(1);
});
