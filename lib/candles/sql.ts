/**
 * SQL fragments shared by the cascade and the live candle query, so both aggregate ticks the same way and
 * produce the same decimal strings. Every fragment reads a CTE of windows through LATERAL subqueries bounded by
 * the tables' primary keys (venue, symbol, time, ...) or (venue, symbol, price_type, bucket): the cost follows
 * the number of windows, never the size of the history.
 */
import { CANDLE_TABLE, TIMEFRAME_MS, TIMEFRAME_ORIGIN_MS, type Timeframe } from "../domain/timeframes";
import type { DirtySource } from "./buckets";

export const CANDLE_COLUMNS = "venue, symbol, price_type, bucket, open, high, low, close, volume, trades";

/** An interval literal for a timeframe (ours, never user input). */
export function intervalSql(tf: Timeframe): string {
	return `interval '${TIMEFRAME_MS[tf] / 1000} seconds'`;
}

/** The origin literal buckets of a timeframe are aligned to (for date_bin). */
export function originSql(tf: Timeframe): string {
	return `timestamptz '${new Date(TIMEFRAME_ORIGIN_MS[tf]).toISOString()}'`;
}

/** `date_bin` of a time column into buckets of a timeframe. */
export function binSql(tf: Timeframe, col: string): string {
	return `date_bin(${intervalSql(tf)}, ${col}, ${originSql(tf)})`;
}

export function tableOf(tf: Timeframe): string {
	return CANDLE_TABLE[tf];
}

function tickRange(alias: string, w: string): string {
	return `${alias}.venue = ${w}.venue AND ${alias}.symbol = ${w}.symbol AND ${alias}.time >= ${w}.bucket AND ${alias}.time < ${w}.bucket + interval '60 seconds'`;
}

/**
 * One row per (window, price type) that has ticks, with columns `CANDLE_COLUMNS`, from the raw ticks of 1m
 * windows in CTE `w` (venue, symbol, bucket). Windows without ticks yield no row.
 * trades -> 'trade': first/last by (time, trade_id), volume sum(qty), trades count.
 * quotes -> 'bid', 'ask', 'mid' ordered by (time, seq); a NULL size counts as 0; mid = (bid + ask) * 0.5, exact
 * in NUMERIC (a multiplication never rounds, where a NUMERIC division would at its chosen scale); mid volume is
 * half the summed bid and ask sizes.
 */
export function minuteFromTicksSql(source: DirtySource, w = "w"): string {
	if (source === "trades") {
		return `SELECT ${w}.venue, ${w}.symbol, 'trade'::text AS price_type, ${w}.bucket, f.price AS open, a.high, a.low, l.price AS close, a.volume, a.n AS trades
			FROM ${w}
			CROSS JOIN LATERAL (SELECT max(t.price) AS high, min(t.price) AS low, sum(t.qty) AS volume, count(*) AS n
				FROM trades t WHERE ${tickRange("t", w)}) a
			CROSS JOIN LATERAL (SELECT t.price FROM trades t WHERE ${tickRange("t", w)} ORDER BY t.time, t.trade_id LIMIT 1) f
			CROSS JOIN LATERAL (SELECT t.price FROM trades t WHERE ${tickRange("t", w)} ORDER BY t.time DESC, t.trade_id DESC LIMIT 1) l`;
	}
	return `SELECT ${w}.venue, ${w}.symbol, v.price_type, ${w}.bucket, v.open, v.high, v.low, v.close, v.volume, a.n AS trades
		FROM ${w}
		CROSS JOIN LATERAL (SELECT max(q.bid) AS hb, min(q.bid) AS lb, sum(coalesce(q.bid_qty, 0)) AS vb,
				max(q.ask) AS ha, min(q.ask) AS la, sum(coalesce(q.ask_qty, 0)) AS va,
				max((q.bid + q.ask) * 0.5) AS hm, min((q.bid + q.ask) * 0.5) AS lm, count(*) AS n
			FROM quotes q WHERE ${tickRange("q", w)}) a
		CROSS JOIN LATERAL (SELECT q.bid, q.ask FROM quotes q WHERE ${tickRange("q", w)} ORDER BY q.time, q.seq LIMIT 1) f
		CROSS JOIN LATERAL (SELECT q.bid, q.ask FROM quotes q WHERE ${tickRange("q", w)} ORDER BY q.time DESC, q.seq DESC LIMIT 1) l
		CROSS JOIN LATERAL (VALUES
			('bid'::text, f.bid, a.hb, a.lb, l.bid, a.vb),
			('ask'::text, f.ask, a.ha, a.la, l.ask, a.va),
			('mid'::text, (f.bid + f.ask) * 0.5, a.hm, a.lm, (l.bid + l.ask) * 0.5, (a.vb + a.va) * 0.5)
		) AS v(price_type, open, high, low, close, volume)`;
}

/** Whether a 1m window of CTE `w` still has any tick of the source (for deleting candles whose ticks are gone). */
export function minuteHasTicksSql(source: DirtySource, w = "w"): string {
	const alias = source === "trades" ? "t" : "q";
	return `EXISTS (SELECT 1 FROM ${source} ${alias} WHERE ${tickRange(alias, w)})`;
}

function childRange(tf: Timeframe, w: string): string {
	return `c.venue = ${w}.venue AND c.symbol = ${w}.symbol AND c.price_type = ${w}.price_type AND c.bucket >= ${w}.bucket AND c.bucket < ${w}.bucket + ${intervalSql(tf)}`;
}

/**
 * One row per window of level `tf` in CTE `w` (venue, symbol, price_type, bucket) that has child candles,
 * combined from the level below: open of the first child, close of the last, max high, min low, summed volume
 * and trades.
 */
export function levelFromChildrenSql(tf: Timeframe, child: Timeframe, w = "w"): string {
	const ct = tableOf(child);
	return `SELECT ${w}.venue, ${w}.symbol, ${w}.price_type, ${w}.bucket, f.open, a.high, a.low, l.close, a.volume, a.trades
		FROM ${w}
		CROSS JOIN LATERAL (SELECT max(c.high) AS high, min(c.low) AS low, sum(c.volume) AS volume, sum(c.trades)::bigint AS trades
			FROM ${ct} c WHERE ${childRange(tf, w)}) a
		CROSS JOIN LATERAL (SELECT c.open FROM ${ct} c WHERE ${childRange(tf, w)} ORDER BY c.bucket LIMIT 1) f
		CROSS JOIN LATERAL (SELECT c.close FROM ${ct} c WHERE ${childRange(tf, w)} ORDER BY c.bucket DESC LIMIT 1) l`;
}

export function levelHasChildrenSql(tf: Timeframe, child: Timeframe, w = "w"): string {
	return `EXISTS (SELECT 1 FROM ${tableOf(child)} c WHERE ${childRange(tf, w)})`;
}

/**
 * The INSERT .. ON CONFLICT of the rows of `select` into a level, touching only rows whose values really change
 * (compared as text, so a change of scale counts too), returning the keys written. No WITH clause: a CTE of a larger
 * statement.
 */
export function upsertIntoSql(tf: Timeframe, select: string): string {
	return `INSERT INTO ${tableOf(tf)} AS c (${CANDLE_COLUMNS})
		${select}
		ON CONFLICT (venue, symbol, price_type, bucket) DO UPDATE SET
			open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
			volume = EXCLUDED.volume, trades = EXCLUDED.trades, updated_at = now()
		WHERE (c.open::text, c.high::text, c.low::text, c.close::text, c.volume::text, c.trades)
			IS DISTINCT FROM (EXCLUDED.open::text, EXCLUDED.high::text, EXCLUDED.low::text, EXCLUDED.close::text, EXCLUDED.volume::text, EXCLUDED.trades)
		RETURNING c.venue, c.symbol, c.price_type, c.bucket`;
}

