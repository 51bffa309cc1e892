/**
 * The candle cascade: one fenced transaction claims dirty 1m buckets, rebuilds their 1m candles from the raw
 * ticks, then 5m from 1m, 15m from 5m, 1h from 15m, 4h from 1h, 12h from 4h, 1d from 12h and 1w from 1d, each level only over the
 * parents of the windows that really changed below it. Set-based (one statement per level over
 * unnest() arrays) and bounded by primary-key ranges, so a cycle costs what its dirty windows cost, whatever
 * the size of the history. Plain SQL: works the same on TimescaleDB hypertables.
 *
 * Contract with the tick-writer: it inserts ticks and marks their 1m buckets in dirty_buckets in the same
 * transaction. The mark must lock an existing row (`ON CONFLICT ... DO UPDATE`, see MARK_DIRTY_SQL): with
 * `DO NOTHING` a writer that meets an existing mark takes no lock, the cascade may claim that mark and rebuild
 * before the writer commits, and the writer's ticks then stay out of the candles until that minute is marked
 * again. A locked mark is skipped (SKIP LOCKED) and claimed by the next cycle, after the writer committed.
 */
import type { Pool, PoolClient } from "pg";
import { TIMEFRAMES, type Timeframe } from "../domain/timeframes";
import type { PriceType } from "../domain/types";
import { withTransaction, type Logger } from "../store/pool";
import {
	CHILD_TIMEFRAME,
	SOURCE_PRICE_TYPES,
	parentWindows,
	sortWindows,
	summarizeWindows,
	windowColumns,
	type CandleWindow,
	type DirtySource,
	type WindowSummary,
} from "./buckets";
import { binSql, intervalSql, levelFromChildrenSql, levelHasChildrenSql, minuteFromTicksSql, minuteHasTicksSql, tableOf, upsertIntoSql } from "./sql";

export const DEFAULT_FENCE_NAME = "cascade-refresher";
export const DEFAULT_MAX_DIRTY = 50_000;

/**
 * How a tick-writer should mark the 1m buckets it touched (params: venue[], symbol[], source[], bucket[] as
 * minute starts, ideally sorted so concurrent writers lock rows in one order). DO UPDATE locks an existing
 * mark until the writer commits, which keeps the cascade from claiming it early (see the file comment).
 */
export const MARK_DIRTY_SQL = `INSERT INTO dirty_buckets (venue, symbol, source, bucket)
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
	ON CONFLICT (venue, symbol, source, bucket) DO UPDATE SET marked_at = EXCLUDED.marked_at`;

export type FenceToken = string | bigint | number;

/** A newer leader has written with a higher fencing token: this one must stop acting. */
export class FencedOutError extends Error {
	override readonly name = "FencedOutError";
	constructor(
		readonly fenceName: string,
		readonly token: bigint,
		readonly currentToken: bigint | null,
		readonly currentHolder: string | null,
	) {
		super(`fence ${fenceName}: token ${token} is not newer than ${currentToken ?? "?"} (held by ${currentHolder ?? "?"})`);
	}
}

export interface CascadeOptions {
	fenceToken: FenceToken;
	holder: string;
	fenceName?: string;
	/** Dirty 1m buckets claimed per cycle (default 50,000); the rest wait for the next cycle. */
	maxDirty?: number;
	logger?: Logger;
}

export interface CycleResult {
	/** Dirty 1m buckets claimed (and so rebuilt) by this cycle. */
	claimed: number;
	/** Candle rows written (inserted, changed or deleted) per level. */
	perLevel: Record<Timeframe, number>;
	/** Changed windows, one entry per venue, symbol and level: [from, to) spans the changed buckets. */
	windows: WindowSummary[];
	durationMs: number;
}

function toBigInt(t: FenceToken): bigint {
	if (typeof t === "bigint") return t;
	if (typeof t === "number" && !Number.isSafeInteger(t)) throw new RangeError(`fence token ${t} is not an integer`);
	if (typeof t === "string" && !/^-?\d+$/.test(t)) throw new RangeError(`fence token ${JSON.stringify(t)} is not an integer`);
	return BigInt(t);
}

function zeroCounts(): Record<Timeframe, number> {
	return Object.fromEntries(TIMEFRAMES.map((tf) => [tf, 0])) as Record<Timeframe, number>;
}

/**
 * Take the fence inside the caller's transaction, strictly: a leadership's first write needs a token above every
 * token ever used, and later writes of the same leadership pass only with that same token AND holder. Two
 * holders that were handed one token (a Redis that lost its counter) cannot both write: the first one wins, the
 * other is fenced out. The fence row then stays locked until commit, so two leaders' cycles never interleave.
 */
export async function takeFence(client: PoolClient, name: string, token: FenceToken, holder: string): Promise<void> {
	const tok = toBigInt(token);
	const r = await client.query(
		`INSERT INTO leader_fence AS f (name, token, holder, updated_at) VALUES ($1, $2, $3, now())
		 ON CONFLICT (name) DO UPDATE SET token = EXCLUDED.token, holder = EXCLUDED.holder, updated_at = now()
		 WHERE f.token < EXCLUDED.token OR (f.token = EXCLUDED.token AND f.holder IS NOT DISTINCT FROM EXCLUDED.holder)
		 RETURNING f.token`,
		[name, tok.toString(), holder],
	);
	if (r.rowCount === 1) return;
	const cur = await client.query<{ token: string; holder: string | null }>("SELECT token, holder FROM leader_fence WHERE name = $1", [name]);
	throw new FencedOutError(name, tok, cur.rows[0] ? BigInt(cur.rows[0].token) : null, cur.rows[0]?.holder ?? null);
}

/** The newest token the database has accepted for a fence (0 when none). */
export async function currentFenceToken(db: Pool | PoolClient, name = DEFAULT_FENCE_NAME): Promise<bigint> {
	const r = await db.query<{ token: string }>("SELECT token FROM leader_fence WHERE name = $1", [name]);
	return r.rows[0] ? BigInt(r.rows[0].token) : 0n;
}

interface KeyRow {
	venue: string;
	symbol: string;
	price_type: PriceType;
	bucket: Date;
}

function rowsToWindows(rows: KeyRow[]): CandleWindow[] {
	return rows.map((r) => ({ venue: r.venue, symbol: r.symbol, priceType: r.price_type, bucket: r.bucket.getTime() }));
}

const W_MINUTES = `WITH w AS (SELECT DISTINCT venue, symbol, bucket FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS u(venue, symbol, bucket))`;
const W_LEVEL = `WITH w AS (SELECT DISTINCT venue, symbol, price_type, bucket FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) AS u(venue, symbol, price_type, bucket))`;

/**
 * The 1m rebuild of one source as one statement (one round trip, one snapshot): upsert the candles of the
 * windows that have ticks, delete the non-repaired candles of the windows whose ticks are all gone (a disjoint
 * set of rows: no ticks, no upsert), and return the keys of both. A repaired 1m candle (built from venue candles
 * for a feed gap, sql/009) without ticks is kept; with `withRepaired` (only while some 1m candle is repaired at
 * all) the keys of such candles of these minutes are returned too, so the levels above are rebuilt over them.
 * Params: venue[], symbol[], bucket[]. Exported for EXPLAIN checks.
 */
export function minuteRebuildSql(source: DirtySource, withRepaired: boolean): string {
	const types = SOURCE_PRICE_TYPES[source].map((p) => `'${p}'`).join(", ");
	const kept = `SELECT c.venue, c.symbol, c.price_type, c.bucket FROM ${tableOf("1m")} c JOIN w ON c.venue = w.venue AND c.symbol = w.symbol AND c.bucket = w.bucket
			WHERE c.price_type IN (${types}) AND c.repaired`;
	return `${W_MINUTES},
		up AS (${upsertIntoSql("1m", minuteFromTicksSql(source))}),
		del AS (DELETE FROM ${tableOf("1m")} c USING w
			WHERE c.venue = w.venue AND c.symbol = w.symbol AND c.price_type IN (${types}) AND c.bucket = w.bucket
				AND NOT c.repaired AND NOT ${minuteHasTicksSql(source)}
			RETURNING c.venue, c.symbol, c.price_type, c.bucket)
		SELECT * FROM up UNION ALL SELECT * FROM del${withRepaired ? `
		UNION ALL ${kept}` : ""}`;
}

/** Set `repaired` on the windows of level tf in CTE w from its children. Params: venue[], symbol[], price_type[], bucket[]. */
export function levelRepairedFlagSql(tf: Timeframe): string {
	const child = CHILD_TIMEFRAME[tf]!;
	return `${W_LEVEL}
		UPDATE ${tableOf(tf)} p SET repaired = NOT p.repaired FROM w
		WHERE p.venue = w.venue AND p.symbol = w.symbol AND p.price_type = w.price_type AND p.bucket = w.bucket
			AND p.repaired IS DISTINCT FROM EXISTS (SELECT 1 FROM ${tableOf(child)} c WHERE c.venue = w.venue AND c.symbol = w.symbol
				AND c.price_type = w.price_type AND c.bucket >= w.bucket AND c.bucket < w.bucket + ${intervalSql(tf)} AND c.repaired)`;
}

/**
 * The rebuild of level tf (not 1m) from its child level as one statement: upsert the windows that have children,
 * delete the candles of the windows that have none left (disjoint: no children, no upsert row), return the keys
 * of both. Params: venue[], symbol[], price_type[], bucket[].
 */
export function levelRebuildSql(tf: Timeframe): string {
	const child = CHILD_TIMEFRAME[tf];
	if (!child) throw new RangeError(`${tf} is built from ticks, not from a child level`);
	return `${W_LEVEL},
		up AS (${upsertIntoSql(tf, levelFromChildrenSql(tf, child))}),
		del AS (DELETE FROM ${tableOf(tf)} c USING w
			WHERE c.venue = w.venue AND c.symbol = w.symbol AND c.price_type = w.price_type AND c.bucket = w.bucket
				AND NOT ${levelHasChildrenSql(tf, child)}
			RETURNING c.venue, c.symbol, c.price_type, c.bucket)
		SELECT * FROM up UNION ALL SELECT * FROM del`;
}

/**
 * How a cycle's transaction starts (one round trip):
 * - jit off: many short index probes; JIT compilation (triggered by the row estimates of large unnest() arrays)
 *   would cost ~200 ms per statement and save nothing.
 * - synchronous_commit off: the commit does not wait for its WAL flush (up to 3 x wal_writer_delay later). Safe
 *   here because a cycle only writes what the durable ticks and marks determine: a crash in that window loses
 *   the whole transaction or none of it (never part of it), so the claimed marks come back with the old candles
 *   and the next cycle rebuilds the same rows; and WAL is flushed in order, so a later durable commit (another
 *   leader's higher fence token) is never kept while an earlier one is lost, and the fence stays monotonic.
 */
const CYCLE_BEGIN = "BEGIN; SET LOCAL jit = off; SET LOCAL synchronous_commit = off";

/** Claim up to `max` dirty minutes that no writer holds locked. */
export const CLAIM_SQL = `DELETE FROM dirty_buckets
	WHERE (venue, symbol, source, bucket) IN (
		SELECT venue, symbol, source, bucket FROM dirty_buckets LIMIT $1 FOR UPDATE SKIP LOCKED)
	RETURNING venue, symbol, source, bucket`;

/** Rebuild 1m..1w over the given dirty minutes inside the caller's transaction; returns the changed windows per level. */
async function cascadeOver(client: PoolClient, claimed: { venue: string; symbol: string; source: DirtySource; bucket: Date }[]): Promise<Record<Timeframe, CandleWindow[]>> {
	const changed = {} as Record<Timeframe, CandleWindow[]>;
	// Repaired candles matter only while some 1m candle is repaired (one probe of a small partial index). The
	// cascade never creates a repaired candle nor deletes one, so the answer holds for the whole cycle: a repair
	// committed meanwhile marks its minutes dirty for the next cycle.
	const anyRepaired = (await client.query<{ r: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${tableOf("1m")} WHERE repaired) AS r`)).rows[0].r;
	const minute: CandleWindow[] = [];
	for (const source of ["trades", "quotes"] as const) {
		const mine = claimed.filter((c) => c.source === source);
		if (!mine.length) continue;
		const params = [mine.map((c) => c.venue), mine.map((c) => c.symbol), mine.map((c) => c.bucket.toISOString())];
		const rows = await client.query<KeyRow>(minuteRebuildSql(source, anyRepaired), params);
		minute.push(...rowsToWindows(rows.rows));
	}
	changed["1m"] = sortWindows(minute);
	let below = changed["1m"];
	for (const tf of TIMEFRAMES) {
		if (tf === "1m") continue;
		if (!below.length) {
			changed[tf] = [];
			continue;
		}
		const cols = windowColumns(parentWindows(below, tf));
		const params = [cols.venue, cols.symbol, cols.priceType, cols.bucket];
		const rows = await client.query<KeyRow>(levelRebuildSql(tf), params);
		if (anyRepaired) await client.query(levelRepairedFlagSql(tf), params);
		changed[tf] = sortWindows(rowsToWindows(rows.rows));
		below = changed[tf];
	}
	return changed;
}

/**
 * One cascade cycle in one transaction: fence, claim up to maxDirty dirty minutes, rebuild 1m from ticks and
 * every level above from the one below over exactly the changed windows. Throws FencedOutError (and changes
 * nothing) when a newer token has been used.
 */
export async function runCascadeCycle(pool: Pool, opts: CascadeOptions): Promise<CycleResult> {
	const t0 = performance.now();
	const fenceName = opts.fenceName ?? DEFAULT_FENCE_NAME;
	const maxDirty = opts.maxDirty ?? DEFAULT_MAX_DIRTY;
	if (!Number.isInteger(maxDirty) || maxDirty < 1) throw new RangeError(`maxDirty must be a positive integer (got ${maxDirty})`);
	const result = await withTransaction(pool, async (client): Promise<CycleResult> => {
		await takeFence(client, fenceName, opts.fenceToken, opts.holder);
		const claim = await client.query<{ venue: string; symbol: string; source: DirtySource; bucket: Date }>(CLAIM_SQL, [maxDirty]);
		const perLevel = zeroCounts();
		const windows: WindowSummary[] = [];
		if (claim.rows.length) {
			const changed = await cascadeOver(client, claim.rows);
			for (const tf of TIMEFRAMES) {
				perLevel[tf] = changed[tf].length;
				windows.push(...summarizeWindows(tf, changed[tf]));
			}
		}
		return { claimed: claim.rows.length, perLevel, windows, durationMs: 0 };
	}, CYCLE_BEGIN);
	result.durationMs = performance.now() - t0;
	if (result.claimed) {
		opts.logger?.debug?.(`cascade: ${result.claimed} dirty minutes, written ${TIMEFRAMES.map((tf) => `${tf}=${result.perLevel[tf]}`).join(" ")} in ${result.durationMs.toFixed(1)} ms`);
	}
	return result;
}

export interface RebuildAllOptions {
	/** Take this fence first, like a cycle does (recommended while a cascade leader may be running). */
	fence?: { token: FenceToken; holder: string; name?: string };
	logger?: Logger;
}

export interface RebuildAllResult {
	/** Candle rows written per level. */
	perLevel: Record<Timeframe, number>;
	/** Dirty marks cleared (the rebuild covers them). */
	clearedDirty: number;
	durationMs: number;
}

/**
 * Rebuild all levels from all ticks in one transaction: empty the candle tables, aggregate 1m from trades
 * and quotes, then each level from the one below, all set-based. For an operator after a restore, and the
 * baseline the incremental cascade is measured against. Readers are not blocked: they see the old candles
 * until the transaction commits and the rebuilt ones after (the deleted rows are reclaimed by autovacuum).
 */
export async function rebuildAll(pool: Pool, opts: RebuildAllOptions = {}): Promise<RebuildAllResult> {
	const t0 = performance.now();
	const { perLevel, cleared } = await withTransaction(pool, async (client) => {
		if (opts.fence) await takeFence(client, opts.fence.name ?? DEFAULT_FENCE_NAME, opts.fence.token, opts.fence.holder);
		// Marks a writer still holds stay for the next cycle; every other one is covered by this rebuild.
		const cleared = await client.query(`DELETE FROM dirty_buckets WHERE (venue, symbol, source, bucket) IN (
			SELECT venue, symbol, source, bucket FROM dirty_buckets FOR UPDATE SKIP LOCKED)`);
		// DELETE, not TRUNCATE: TRUNCATE takes an ACCESS EXCLUSIVE lock that blocks every reader until commit;
		// with DELETE readers keep their snapshot of the old candles and see the rebuilt ones at commit, at once.
		for (const tf of TIMEFRAMES) await client.query(`DELETE FROM ${tableOf(tf)}`);
		const perLevel = zeroCounts();
		const t = await client.query(`INSERT INTO ${tableOf("1m")} (venue, symbol, price_type, bucket, open, high, low, close, volume, trades)
			SELECT venue, symbol, 'trade', b, (array_agg(price ORDER BY time, trade_id))[1], max(price), min(price),
				(array_agg(price ORDER BY time DESC, trade_id DESC))[1], sum(qty), count(*)
			FROM (SELECT venue, symbol, ${binSql("1m", "time")} AS b, time, trade_id, price, qty FROM trades) x
			GROUP BY venue, symbol, b`);
		const q = await client.query(`INSERT INTO ${tableOf("1m")} (venue, symbol, price_type, bucket, open, high, low, close, volume, trades)
			SELECT g.venue, g.symbol, v.price_type, g.b, v.open, v.high, v.low, v.close, v.volume, g.n
			FROM (
				SELECT venue, symbol, b,
					(array_agg(bid ORDER BY time, seq))[1] AS obid, (array_agg(ask ORDER BY time, seq))[1] AS oask,
					(array_agg(bid ORDER BY time DESC, seq DESC))[1] AS cbid, (array_agg(ask ORDER BY time DESC, seq DESC))[1] AS cask,
					max(bid) AS hb, min(bid) AS lb, sum(coalesce(bid_qty, 0)) AS vb,
					max(ask) AS ha, min(ask) AS la, sum(coalesce(ask_qty, 0)) AS va,
					max((bid + ask) * 0.5) AS hm, min((bid + ask) * 0.5) AS lm, count(*) AS n
				FROM (SELECT venue, symbol, ${binSql("1m", "time")} AS b, time, seq, bid, ask, bid_qty, ask_qty FROM quotes) x
				GROUP BY venue, symbol, b
			) g
			CROSS JOIN LATERAL (VALUES
				('bid'::text, g.obid, g.hb, g.lb, g.cbid, g.vb),
				('ask'::text, g.oask, g.ha, g.la, g.cask, g.va),
				('mid'::text, (g.obid + g.oask) * 0.5, g.hm, g.lm, (g.cbid + g.cask) * 0.5, (g.vb + g.va) * 0.5)
			) AS v(price_type, open, high, low, close, volume)`);
		perLevel["1m"] = (t.rowCount ?? 0) + (q.rowCount ?? 0);
		for (const tf of TIMEFRAMES) {
			const child = CHILD_TIMEFRAME[tf];
			if (!child) continue;
			const r = await client.query(`INSERT INTO ${tableOf(tf)} (venue, symbol, price_type, bucket, open, high, low, close, volume, trades)
				SELECT venue, symbol, price_type, b, (array_agg(open ORDER BY bucket))[1], max(high), min(low),
					(array_agg(close ORDER BY bucket DESC))[1], sum(volume), sum(trades)
				FROM (SELECT *, ${binSql(tf, "bucket")} AS b FROM ${tableOf(child)}) x
				GROUP BY venue, symbol, price_type, b`);
			perLevel[tf] = r.rowCount ?? 0;
		}
		return { perLevel, cleared: cleared.rowCount ?? 0 };
	});
	const res = { perLevel, clearedDirty: cleared, durationMs: performance.now() - t0 };
	opts.logger?.info(`candles: full rebuild wrote ${TIMEFRAMES.map((tf) => `${tf}=${perLevel[tf]}`).join(" ")} in ${res.durationMs.toFixed(0)} ms`);
	return res;
}

/**
 * Mark every 1m bucket of [from, to) that has ticks or a stored candle (optionally of one venue / symbol)
 * dirty, so that the cascade leader rebuilds it and every level above on its next cycle. For an operator
 * (`cascade refresh` in the REPL) after a repair or a manual change. Returns the marks written.
 */
export async function markRangeDirty(pool: Pool, range: { from: Date; to: Date; venue?: string | null; symbol?: string | null }): Promise<number> {
	const filter = "time >= $1 AND time < $2 AND ($3::text IS NULL OR venue = $3) AND ($4::text IS NULL OR symbol = $4)";
	const r = await pool.query(
		`INSERT INTO dirty_buckets (venue, symbol, source, bucket)
		 SELECT venue, symbol, 'trades', ${binSql("1m", "time")} FROM trades WHERE ${filter}
		 UNION SELECT venue, symbol, 'quotes', ${binSql("1m", "time")} FROM quotes WHERE ${filter}
		 UNION SELECT venue, symbol, CASE WHEN price_type = 'trade' THEN 'trades' ELSE 'quotes' END, bucket FROM ${tableOf("1m")}
		  WHERE bucket >= $1 AND bucket < $2 AND ($3::text IS NULL OR venue = $3) AND ($4::text IS NULL OR symbol = $4)
		 ON CONFLICT (venue, symbol, source, bucket) DO UPDATE SET marked_at = EXCLUDED.marked_at`,
		[range.from, range.to, range.venue ?? null, range.symbol ?? null],
	);
	return r.rowCount ?? 0;
}

/**
 * Per timeframe a cycle touched: seconds from the end of the newest bucket it rebuilt to `nowMs` (0 while
 * that bucket is still open). A live feed keeps these near 0; a growing value means the cascade is behind.
 */
export function cascadeLagSeconds(r: Pick<CycleResult, "windows">, nowMs: number): Partial<Record<Timeframe, number>> {
	const newestEnd = new Map<Timeframe, number>();
	for (const w of r.windows) newestEnd.set(w.timeframe, Math.max(newestEnd.get(w.timeframe) ?? 0, Date.parse(w.to)));
	const lag: Partial<Record<Timeframe, number>> = {};
	for (const [tf, end] of newestEnd) lag[tf] = Math.max(0, Math.round((nowMs - end) / 1000));
	return lag;
}
