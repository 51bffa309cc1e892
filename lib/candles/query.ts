/**
 * Reading candles. Stored candles come from candles_<tf>; a bucket that the cascade has not caught up with
 * (one of its minutes is still in dirty_buckets) and the still-open bucket are answered live by combining the
 * stored 1m candles of their clean minutes with an aggregation of the raw ticks of their dirty minutes and of
 * the current minute, exactly as the cascade will combine them, so a tick shows in every timeframe as soon as
 * it is committed and the answer does not change when the cascade runs.
 *
 * Two ways to the same answer:
 * - one statement (fill=none, at most ONE_STATEMENT_MAX_BUCKETS buckets, the API's usual case): stored
 *   candles, dirty minutes, the open minute and the live aggregation in one prepared SQL statement, so one
 *   round trip, no planning per query, and one snapshot (a statement sees one snapshot; no transaction);
 * - a snapshot transaction (fill=previous or a longer range): stored candles, then the dirty minutes, then the
 *   live buckets, and for fill=previous the close before the range, in one REPEATABLE READ transaction.
 */
import type { Pool, PoolClient } from "pg";
import { TIMEFRAMES, TIMEFRAME_MS, type Timeframe } from "../domain/timeframes";
import { isoUtc } from "../domain/time";
import type { Candle, PriceType } from "../domain/types";
import { ceilBucket, countBucketsInRange, floorBucket, sourceOfPriceType, type DirtySource } from "./buckets";
import { binSql, intervalSql, minuteFromTicksSql, minuteHasTicksSql, tableOf } from "./sql";
import { withTransaction } from "../store/pool";

export interface CandleQuery {
	venue: string;
	symbol: string;
	timeframe: Timeframe;
	/** Buckets whose start lies in [from, to) are returned. */
	from: Date;
	to: Date;
	price: PriceType;
	/** 'previous': every bucket up to the open one, an empty one carrying the previous close with zero volume. */
	fill: "none" | "previous";
	/** The clock; defaults to the current time. The bucket containing it is computed live. */
	now?: Date;
}

/** Refuse absurd ranges before building them in memory; the API limits ranges far below this. */
export const MAX_QUERY_BUCKETS = 1_000_000;

/**
 * Ranges up to this many buckets (fill=none) are answered in one statement. The bound keeps that statement's
 * planned cost far below jit_above_cost: unlike the snapshot path it runs outside a transaction, so it cannot
 * `SET LOCAL jit = off`, and JIT compilation would cost more than these index-bound reads.
 */
export const ONE_STATEMENT_MAX_BUCKETS = 10_000;

/** How a query is answered; `auto` (getCandles) picks the one statement whenever it applies. */
export type CandlePath = "auto" | "one-statement" | "snapshot";

interface CandleRow {
	bucket: Date;
	open: string;
	high: string;
	low: string;
	close: string;
	volume: string;
	trades: string;
	repaired?: boolean;
}

function toCandle(r: CandleRow): Candle {
	const c: Candle = { time: r.bucket.toISOString(), open: r.open, high: r.high, low: r.low, close: r.close, volume: r.volume, trades: Number(r.trades) };
	if (r.repaired) c.repaired = true; // built (partly) from venue candles for a feed gap (sql/009)
	return c;
}

/** Price of one tick of the source for a price type, in the same expression the candles use. */
function tickPriceSql(p: PriceType): string {
	return p === "trade" ? "price" : p === "bid" ? "bid" : p === "ask" ? "ask" : "(bid + ask) * 0.5";
}

/** A validated query in milliseconds. */
interface Range {
	tf: Timeframe;
	size: number;
	/** Start of the first bucket that starts at or after `from`. */
	first: number;
	toMs: number;
	/** End of the last bucket that starts before `to`. */
	end: number;
	nowMs: number;
	/** Start of the open bucket (the one holding now). */
	nowBucket: number;
	count: number;
	source: DirtySource;
}

function rangeOf(q: CandleQuery): Range {
	const tf = q.timeframe;
	const fromMs = q.from.getTime();
	const toMs = q.to.getTime();
	const nowMs = (q.now ?? new Date()).getTime();
	if (!Number.isFinite(fromMs) || !Number.isFinite(toMs) || !Number.isFinite(nowMs)) throw new RangeError("from, to and now must be valid dates");
	if (!TIMEFRAMES.includes(tf)) throw new RangeError(`unknown timeframe ${String(tf)}`);
	const count = countBucketsInRange(fromMs, toMs, tf);
	if (count > MAX_QUERY_BUCKETS) throw new RangeError(`range holds ${count} ${tf} buckets, more than ${MAX_QUERY_BUCKETS}`);
	return {
		tf,
		size: TIMEFRAME_MS[tf],
		first: ceilBucket(fromMs, tf),
		toMs,
		end: ceilBucket(toMs, tf),
		nowMs,
		nowBucket: floorBucket(nowMs, tf),
		count,
		source: sourceOfPriceType(q.price),
	};
}

const iso = isoUtc;

/**
 * The live candles of a timeframe from CTE `w` (venue, symbol, bucket: the live minutes) and `lb` (b: the live
 * buckets): raw ticks of the live minutes plus the stored 1m candles of the buckets' other minutes, combined as
 * the cascade combines them. `$1` venue, `$2` symbol, `$3` price type; `liveMinutes` is an array expression of
 * the live minutes. Yields bucket, open, high, low, close, volume, trades, repaired; a live bucket with no
 * candle at all yields no row.
 */
function liveCandlesSql(tf: Timeframe, source: DirtySource, liveMinutes: string): string {
	return `SELECT ${binSql(tf, "bucket")} AS bucket,
			(array_agg(open ORDER BY bucket))[1] AS open, max(high) AS high, min(low) AS low,
			(array_agg(close ORDER BY bucket DESC))[1] AS close, sum(volume) AS volume, sum(trades)::bigint AS trades, bool_or(repaired) AS repaired
		FROM (
			SELECT x.bucket, x.open, x.high, x.low, x.close, x.volume, x.trades, false AS repaired
			FROM (${minuteFromTicksSql(source)}) x WHERE x.price_type = $3
			UNION ALL
			SELECT c.bucket, c.open, c.high, c.low, c.close, c.volume, c.trades, c.repaired
			FROM lb JOIN ${tableOf("1m")} c ON c.venue = $1 AND c.symbol = $2 AND c.price_type = $3
				AND c.bucket >= lb.b AND c.bucket < lb.b + ${intervalSql(tf)}
			-- a repaired minute without ticks (sql/009) is its stored candle, live or not
			WHERE c.bucket <> ALL (${liveMinutes}) OR (c.repaired AND NOT ${minuteHasTicksSql(source, "c")})
		) ch
		GROUP BY 1`;
}

/**
 * The whole answer for fill=none in one statement. Params: $1 venue, $2 symbol, $3 price type, $4 source,
 * $5 first bucket, $6 `to`, $7 end of the last bucket, $8 the open minute when the open bucket is in range
 * (else NULL). Stored candles of the live buckets are replaced by the live answer, even by none.
 */
function oneStatementSql(tf: Timeframe, source: DirtySource): string {
	return `WITH lm AS (
			SELECT bucket AS m FROM dirty_buckets WHERE venue = $1 AND symbol = $2 AND source = $4 AND bucket >= $5 AND bucket < $7
			UNION
			SELECT $8::timestamptz WHERE $8::timestamptz IS NOT NULL),
		w AS (SELECT $1::text AS venue, $2::text AS symbol, m AS bucket FROM lm),
		lb AS (SELECT DISTINCT ${binSql(tf, "m")} AS b FROM lm),
		live AS (${liveCandlesSql(tf, source, "ARRAY(SELECT m FROM lm)")})
		SELECT s.bucket, s.open, s.high, s.low, s.close, s.volume, s.trades, s.repaired FROM ${tableOf(tf)} s
		WHERE s.venue = $1 AND s.symbol = $2 AND s.price_type = $3 AND s.bucket >= $5 AND s.bucket < $6
			AND NOT EXISTS (SELECT 1 FROM lb WHERE lb.b = s.bucket)
		UNION ALL
		SELECT bucket, open, high, low, close, volume, trades, repaired FROM live WHERE bucket >= $5 AND bucket < $6
		ORDER BY bucket`;
}

const oneStatementTexts = new Map<string, string>();

/** oneStatementSql, built once per timeframe and source (the prepared statement's text goes with every query). */
function oneStatementText(tf: Timeframe, source: DirtySource): string {
	const key = `${tf}/${source}`;
	let text = oneStatementTexts.get(key);
	if (text === undefined) oneStatementTexts.set(key, (text = oneStatementSql(tf, source)));
	return text;
}

export async function getCandles(pool: Pool, q: CandleQuery): Promise<Candle[]> {
	return getCandlesVia(pool, q, "auto");
}

/**
 * getCandles by a chosen path (tests and the bench compare them; both give the same answer). `one-statement`
 * applies to fill=none only.
 */
export async function getCandlesVia(pool: Pool, q: CandleQuery, path: CandlePath): Promise<Candle[]> {
	const r = rangeOf(q);
	if (r.count === 0) return [];
	if (path === "one-statement" && q.fill !== "none") throw new RangeError("the one-statement path answers fill=none only");
	if (path === "one-statement" || (path === "auto" && q.fill === "none" && r.count <= ONE_STATEMENT_MAX_BUCKETS)) return inOneStatement(pool, q, r);
	return inSnapshot(pool, q, r);
}

/** The one statement (fill=none's whole answer), on the pool or on a transaction's client. */
async function oneStatementRows(db: Pool | PoolClient, q: CandleQuery, r: Range): Promise<CandleRow[]> {
	const openMinute = r.nowBucket >= r.first && r.nowBucket < r.toMs ? iso(floorBucket(r.nowMs, "1m")) : null;
	// A named (prepared) statement: parsed and planned once per connection and timeframe instead of per query, which
	// would cost more than running it. After five runs PostgreSQL keeps a generic plan (the same index-bound plan).
	const res = await db.query<CandleRow>({
		name: `mdp_candles_${r.tf}_${r.source}`,
		text: oneStatementText(r.tf, r.source),
		values: [q.venue, q.symbol, q.price, r.source, iso(r.first), iso(r.toMs), iso(r.end), openMinute],
	});
	return res.rows;
}

async function inOneStatement(pool: Pool, q: CandleQuery, r: Range): Promise<Candle[]> {
	return (await oneStatementRows(pool, q, r)).map(toCandle);
}

/**
 * The same statement in a read-only snapshot with JIT off (short index-bound reads; JIT would only add latency):
 * for fill=previous, which also reads the close before the range, and for ranges beyond ONE_STATEMENT_MAX_BUCKETS.
 */
async function inSnapshot(pool: Pool, q: CandleQuery, r: Range): Promise<Candle[]> {
	const { tf, size, first, toMs, nowBucket } = r;
	return withTransaction(pool, async (client) => {
		const rows = await oneStatementRows(client, q, r);
		if (q.fill !== "previous") return rows.map(toCandle);
		const byBucket = new Map(rows.map((x) => [x.bucket.getTime(), toCandle(x)]));
		let prev = await closeBefore(client, q, first, tf);
		const out: Candle[] = [];
		// Fill up to the open bucket, not into the future.
		for (let b = first; b < toMs; b += size) {
			const c = byBucket.get(b);
			if (c) {
				out.push(c);
				prev = c.close;
			} else if (prev !== null && b <= nowBucket) {
				out.push({ time: iso(b), open: prev, high: prev, low: prev, close: prev, volume: "0", trades: 0 });
			}
		}
		return out;
	}, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL jit = off");
}

/**
 * The close of the last non-empty bucket before `first`: the last tick before it when ticks are still there
 * (always current, even if the cascade has not run), else the last stored candle (ticks past retention).
 */
async function closeBefore(client: PoolClient, q: CandleQuery, first: number, tf: Timeframe): Promise<string | null> {
	const at = new Date(first).toISOString();
	const tick =
		q.price === "trade"
			? await client.query<{ p: string; time: Date }>(
					`SELECT price AS p, time FROM trades WHERE venue = $1 AND symbol = $2 AND time < $3 ORDER BY time DESC, trade_id DESC LIMIT 1`,
					[q.venue, q.symbol, at],
				)
			: await client.query<{ p: string; time: Date }>(
					`SELECT ${tickPriceSql(q.price)} AS p, time FROM quotes WHERE venue = $1 AND symbol = $2 AND time < $3 ORDER BY time DESC, seq DESC LIMIT 1`,
					[q.venue, q.symbol, at],
				);
	const stored = await client.query<{ close: string; bucket: Date }>(
		`SELECT close, bucket FROM ${tableOf(tf)} WHERE venue = $1 AND symbol = $2 AND price_type = $3 AND bucket < $4 ORDER BY bucket DESC LIMIT 1`,
		[q.venue, q.symbol, q.price, at],
	);
	const t = tick.rows[0];
	const s = stored.rows[0];
	if (t && (!s || t.time.getTime() >= s.bucket.getTime())) return t.p;
	return s ? s.close : null;
}

export interface LatestCandleTime {
	venue: string;
	symbol: string;
	priceType: PriceType;
	timeframe: Timeframe;
	/** Start of the latest stored bucket, ISO-8601 UTC. */
	latestBucket: string;
	/** When that candle was last written, ISO-8601 UTC. */
	updatedAt: string;
}

/**
 * Per venue, symbol, price type and timeframe: the latest stored bucket and when it was written. A skip scan
 * over the primary key (one index probe per distinct instrument), cheap on any history size.
 */
export async function latestCandleTimes(pool: Pool): Promise<LatestCandleTime[]> {
	const parts = TIMEFRAMES.map((tf) => {
		const t = tableOf(tf);
		return `(WITH RECURSIVE k AS (
				(SELECT venue, symbol, price_type FROM ${t} ORDER BY venue, symbol, price_type LIMIT 1)
				UNION ALL
				SELECT n.venue, n.symbol, n.price_type FROM k CROSS JOIN LATERAL (
					SELECT c.venue, c.symbol, c.price_type FROM ${t} c
					WHERE (c.venue, c.symbol, c.price_type) > (k.venue, k.symbol, k.price_type)
					ORDER BY c.venue, c.symbol, c.price_type LIMIT 1) n
			)
			SELECT '${tf}'::text AS timeframe, k.venue, k.symbol, k.price_type, l.bucket, l.updated_at
			FROM k CROSS JOIN LATERAL (
				SELECT c.bucket, c.updated_at FROM ${t} c
				WHERE c.venue = k.venue AND c.symbol = k.symbol AND c.price_type = k.price_type
				ORDER BY c.bucket DESC LIMIT 1) l)`;
	});
	const r = await pool.query<{ timeframe: Timeframe; venue: string; symbol: string; price_type: PriceType; bucket: Date; updated_at: Date }>(parts.join("\nUNION ALL\n"));
	const order = new Map(TIMEFRAMES.map((tf, i) => [tf, i]));
	return r.rows
		.map((x) => ({
			venue: x.venue,
			symbol: x.symbol,
			priceType: x.price_type,
			timeframe: x.timeframe,
			latestBucket: x.bucket.toISOString(),
			updatedAt: x.updated_at.toISOString(),
		}))
		.sort((a, b) =>
			a.venue < b.venue ? -1 : a.venue > b.venue ? 1 : a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : a.priceType < b.priceType ? -1 : a.priceType > b.priceType ? 1 : order.get(a.timeframe)! - order.get(b.timeframe)!,
		);
}
