/**
 * Cascade cost follows new data, not history: one cycle after one minute of new trades on top of
 * 10,000,000 stored trades, divided by a full rebuild of the six levels from the same table.
 *   npm run bench:cascade [-- --trades 10000000]
 */
import { rebuildAll, runCascadeCycle } from "../lib/candles/cascade";
import { benchDatabase, seconds } from "./common";

const N = Number(process.argv[process.argv.indexOf("--trades") + 1] || 10_000_000) || 10_000_000;
const SYMBOLS = 5;
const DAYS = 30;
const START = "2024-01-01T00:00:00Z";

async function main() {
	const db = await benchDatabase("cascade");
	try {
		const t0 = performance.now();
		// History straight from SQL (the writer is not what this measures): N trades over 30 days, 5 symbols.
		await db.pool.query(
			`INSERT INTO trades (venue, symbol, time, trade_id, price, qty, side, recv_time)
			 SELECT 'kraken', 'SYM' || (i % $2) || '-USD-SPOT',
			        timestamptz '${START}' + (i::float8 / $1 * $3 * 86400) * interval '1 second',
			        i, round((40000 + 1000 * sin(i / 5000.0) + (i % 97))::numeric, 2), ((i % 1000) + 1) / 10000.0,
			        CASE WHEN i % 2 = 0 THEN 'b' ELSE 's' END,
			        timestamptz '${START}' + (i::float8 / $1 * $3 * 86400) * interval '1 second'
			   FROM generate_series(1, $1::bigint) AS i`,
			[N, SYMBOLS, DAYS],
		);
		await db.pool.query("VACUUM ANALYZE trades");
		console.log(`stored ${N} trades over ${DAYS} days for ${SYMBOLS} symbols in ${seconds(performance.now() - t0)}`);

		const full = await rebuildAll(db.pool);
		console.log(`full rebuild of six levels: ${seconds(full.durationMs)} (rows per level ${JSON.stringify(full.perLevel)})`);
		await db.pool.query("VACUUM ANALYZE");

		// One minute of new trades right after the history: 1,000 trades/s across the symbols.
		const perMinute = 60_000;
		const cycles: number[] = [];
		for (let rep = 0; rep < 3; rep++) {
			const minuteStart = `timestamptz '${START}' + interval '${DAYS} days' + interval '${rep} minutes'`;
			await db.pool.query(
				`WITH ins AS (
				   INSERT INTO trades (venue, symbol, time, trade_id, price, qty, side, recv_time)
				   SELECT 'kraken', 'SYM' || (i % $2) || '-USD-SPOT', ${minuteStart} + (i % 60000) * interval '1 millisecond',
				          $3::bigint + i, 40000 + (i % 500) / 100.0, 0.01, 'b', now()
				     FROM generate_series(1, $1::bigint) AS i
				   RETURNING venue, symbol, time)
				 INSERT INTO dirty_buckets (venue, symbol, source, bucket)
				 SELECT DISTINCT venue, symbol, 'trades', date_trunc('minute', time) FROM ins
				 ON CONFLICT DO NOTHING`,
				[perMinute, SYMBOLS, N + 1 + rep * perMinute],
			);
			const r = await runCascadeCycle(db.pool, { fenceToken: 1, holder: "bench" });
			cycles.push(r.durationMs);
			console.log(`cycle ${rep + 1} after ${perMinute} new trades in one minute: ${r.durationMs.toFixed(1)} ms, claimed ${r.claimed}, rows per level ${JSON.stringify(r.perLevel)}`);
		}
		cycles.sort((a, b) => a - b);
		const cycleMs = cycles[1];
		const ratio = cycleMs / full.durationMs;
		console.log(
			JSON.stringify({
				bench: "cascade",
				stored_trades: N,
				new_trades: perMinute,
				cycle_ms_median: Number(cycleMs.toFixed(1)),
				full_rebuild_ms: Math.round(full.durationMs),
				ratio_cycle_vs_full: Number(ratio.toFixed(5)),
				goal: "<= 0.05",
			}),
		);
	} finally {
		await db.drop();
	}
}

main().catch((err) => {
	console.error(err);
	process.exit(1);
});
