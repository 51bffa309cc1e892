import type { Pool } from "pg";
import { withTransaction } from "../store/pool";
import { MARK_DIRTY_SQL } from "./cascade";

/**
 * Filling a live feed's gap from the venue's own candles (sql/009): candles, not ticks. The venue candles are
 * kept in repair_candles as they came; each 1m bucket of the gap that has no quotes gets bid, ask and mid
 * candles built from them, flagged `repaired`, and is marked dirty so the cascade builds (and flags) every level
 * above. A minute that has ticks keeps its tick candle. A repaired candle's `trades` is the venue's tick count and
 * its volume 0 (the venue gives no sizes); its mid high/low are the mean of the bid and ask highs/lows (a bound,
 * not the exact mid extreme, which the venue's BA candles do not carry).
 */

export interface VenueBidAskCandle {
	/** Start, ISO-8601 UTC. */
	time: string;
	bid: { open: string; high: string; low: string; close: string };
	ask: { open: string; high: string; low: string; close: string };
	/** The venue's tick count. */
	volume: string;
}

export interface RepairTarget {
	venue: string;
	symbol: string;
	granularity: string;
	gapId: string | null;
}

/** Store bid and ask candles and their mid; returns the rows written. */
export async function storeRepairCandles(pool: Pool, t: RepairTarget, candles: VenueBidAskCandle[]): Promise<number> {
	if (!candles.length) return 0;
	const col = (f: (c: VenueBidAskCandle) => string) => candles.map(f);
	const { rowCount } = await pool.query(
		`WITH x AS (SELECT * FROM unnest($5::timestamptz[], $6::numeric[], $7::numeric[], $8::numeric[], $9::numeric[], $10::numeric[], $11::numeric[], $12::numeric[], $13::numeric[], $14::numeric[])
				AS u(bucket, bo, bh, bl, bc, ao, ah, al, ac, v))
		INSERT INTO repair_candles AS r (venue, symbol, price_type, granularity, bucket, open, high, low, close, volume, gap_id)
		SELECT $1, $2, p.price_type, $3, x.bucket, p.o, p.h, p.l, p.c, x.v, $4::bigint FROM x
		CROSS JOIN LATERAL (VALUES ('bid', x.bo, x.bh, x.bl, x.bc), ('ask', x.ao, x.ah, x.al, x.ac),
			('mid', (x.bo + x.ao) * 0.5, (x.bh + x.ah) * 0.5, (x.bl + x.al) * 0.5, (x.bc + x.ac) * 0.5)) AS p(price_type, o, h, l, c)
		ON CONFLICT (venue, symbol, price_type, granularity, bucket) DO UPDATE SET open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low,
			close = EXCLUDED.close, volume = EXCLUDED.volume, gap_id = EXCLUDED.gap_id, fetched_at = now()`,
		[
			t.venue,
			t.symbol,
			t.granularity,
			t.gapId,
			col((c) => c.time),
			col((c) => c.bid.open),
			col((c) => c.bid.high),
			col((c) => c.bid.low),
			col((c) => c.bid.close),
			col((c) => c.ask.open),
			col((c) => c.ask.high),
			col((c) => c.ask.low),
			col((c) => c.ask.close),
			col((c) => c.volume),
		],
	);
	return rowCount ?? 0;
}

/**
 * Build the 1m candles of [fromIso, toIso) that have no quotes from the stored repair candles, flag them and
 * mark them dirty for the cascade; returns the minutes written.
 */
export async function fillRepairedMinutes(pool: Pool, t: RepairTarget, fromIso: string, toIso: string): Promise<string[]> {
	return withTransaction(pool, async (client) => {
		const { rows } = await client.query<{ bucket: Date }>(
			`WITH g AS (
				SELECT price_type, m, (array_agg(open ORDER BY bucket))[1] AS o, max(high) AS h, min(low) AS l,
					(array_agg(close ORDER BY bucket DESC))[1] AS c, sum(volume) AS n
				FROM (SELECT *, date_bin(interval '60 seconds', bucket, timestamptz '1970-01-01 00:00:00+00') AS m FROM repair_candles
					WHERE venue = $1 AND symbol = $2 AND granularity = $3 AND bucket >= date_bin(interval '60 seconds', $4::timestamptz, timestamptz '1970-01-01 00:00:00+00') AND bucket < $5) r
				GROUP BY price_type, m)
			INSERT INTO candles_1m AS c (venue, symbol, price_type, bucket, open, high, low, close, volume, trades, repaired)
			SELECT $1, $2, g.price_type, g.m, g.o, g.h, g.l, g.c, 0, g.n, true FROM g
			WHERE NOT EXISTS (SELECT 1 FROM quotes q WHERE q.venue = $1 AND q.symbol = $2 AND q.time >= g.m AND q.time < g.m + interval '60 seconds')
			ON CONFLICT (venue, symbol, price_type, bucket) DO UPDATE SET open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low,
				close = EXCLUDED.close, volume = EXCLUDED.volume, trades = EXCLUDED.trades, repaired = true, updated_at = now()
			WHERE c.repaired
			RETURNING c.bucket`,
			[t.venue, t.symbol, t.granularity, fromIso, toIso],
		);
		const minutes = [...new Set(rows.map((r) => r.bucket.toISOString()))].sort();
		if (minutes.length) await client.query(MARK_DIRTY_SQL, [minutes.map(() => t.venue), minutes.map(() => t.symbol), minutes.map(() => "quotes"), minutes]);
		return minutes;
	});
}
