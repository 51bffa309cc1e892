import type { Pool } from "pg";
import { TIMEFRAME_MS, type Timeframe } from "../domain/timeframes";
import { latestCandleTimes, type LatestCandleTime } from "../candles/query";
import { sourceOfPriceType } from "../candles/buckets";

export interface FreshnessRow {
	venue: string;
	symbol: string;
	priceType: string;
	timeframe: Timeframe;
	latestBucket: string;
	updatedAt: string;
	/** Seconds from the end of the latest stored bucket to now; 0 while that bucket is still open. */
	lagSeconds: number;
	/** Event time of the newest stored tick of this venue and symbol. */
	latestTick: string | null;
}

/** The seeds' "check data freshness" query as an endpoint: per venue, symbol and timeframe, latest bucket and lag. */
export async function freshness(pool: Pool, now = new Date()): Promise<FreshnessRow[]> {
	const latest = await latestCandleTimes(pool);
	const ticks = new Map<string, string | null>();
	const key = (r: LatestCandleTime) => `${r.venue}\u0000${r.symbol}\u0000${sourceOfPriceType(r.priceType)}`;
	for (const r of latest) {
		const k = key(r);
		if (ticks.has(k)) continue;
		const table = sourceOfPriceType(r.priceType);
		// Index backward scan on the primary key: cheap on any history size.
		const { rows } = await pool.query(`SELECT max(time) AS t FROM ${table} WHERE venue = $1 AND symbol = $2`, [r.venue, r.symbol]);
		ticks.set(k, rows[0]?.t ? new Date(rows[0].t).toISOString() : null);
	}
	return latest.map((r) => {
		const end = Date.parse(r.latestBucket) + TIMEFRAME_MS[r.timeframe];
		return {
			venue: r.venue,
			symbol: r.symbol,
			priceType: r.priceType,
			timeframe: r.timeframe,
			latestBucket: r.latestBucket,
			updatedAt: r.updatedAt,
			lagSeconds: Math.max(0, Math.round((now.getTime() - end) / 1000)),
			latestTick: ticks.get(key(r)) ?? null,
		};
	});
}
