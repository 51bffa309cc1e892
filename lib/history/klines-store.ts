import type { Pool, PoolClient } from "pg";
import type { Queryable } from "../store/migrate";
import { copyBinaryInto, copyInto, isDataException } from "../writer/copy";
import { binaryRowHead } from "../writer/copy-binary";
import type { Kline } from "./binance-klines";
import { isoUtc } from "../domain/time";
import { klineRowsCopy, type KlineCopy, type KlineRowFormat } from "./kline-page";
import { EMPTY_RANGES_SQL, STORED_RUNS_SQL, type Range } from "./missing";

export interface KlineKey {
	venue: string;
	symbol: string; // canonical
	interval: string;
}

/**
 * Upsert one page of klines in one statement (arrays as parameters). ON CONFLICT DO UPDATE rather than DO
 * NOTHING: only closed klines are stored, so a re-fetch normally returns identical values and the WHERE clause
 * turns it into no write at all; but when the venue has revised a kline (Binance has, after incidents) its
 * latest answer wins instead of the first one we happened to see. Returns rows inserted and rows changed.
 */
export async function upsertKlines(db: Queryable, key: KlineKey, rows: readonly Kline[]): Promise<{ inserted: number; updated: number }> {
	if (rows.length === 0) return { inserted: 0, updated: 0 };
	const col = <T>(f: (k: Kline) => T) => rows.map(f);
	const r = await db.query<{ inserted: boolean }>(
		`INSERT INTO klines AS k (venue, symbol, interval, open_time, close_time, open, high, low, close, volume, quote_volume, trades, taker_base_volume, taker_quote_volume)
		 SELECT $1, $2, $3, u.* FROM unnest($4::timestamptz[], $5::timestamptz[], $6::numeric[], $7::numeric[], $8::numeric[], $9::numeric[],
		                                    $10::numeric[], $11::numeric[], $12::bigint[], $13::numeric[], $14::numeric[]) AS u
		 ON CONFLICT (venue, symbol, interval, open_time) DO UPDATE SET
		     close_time = EXCLUDED.close_time, open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
		     volume = EXCLUDED.volume, quote_volume = EXCLUDED.quote_volume, trades = EXCLUDED.trades,
		     taker_base_volume = EXCLUDED.taker_base_volume, taker_quote_volume = EXCLUDED.taker_quote_volume, fetched_at = now()
		 WHERE (k.close_time, k.open, k.high, k.low, k.close, k.volume, k.quote_volume, k.trades, k.taker_base_volume, k.taker_quote_volume)
		       IS DISTINCT FROM
		       (EXCLUDED.close_time, EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close, EXCLUDED.volume, EXCLUDED.quote_volume,
		        EXCLUDED.trades, EXCLUDED.taker_base_volume, EXCLUDED.taker_quote_volume)
		 RETURNING (xmax = 0) AS inserted`,
		[
			key.venue,
			key.symbol,
			key.interval,
			col((k) => isoUtc(k.openTime)),
			col((k) => isoUtc(k.closeTime)),
			col((k) => k.open),
			col((k) => k.high),
			col((k) => k.low),
			col((k) => k.close),
			col((k) => k.volume),
			col((k) => k.quoteVolume),
			col((k) => k.trades),
			col((k) => k.takerBaseVolume),
			col((k) => k.takerQuoteVolume),
		],
	);
	const inserted = r.rows.filter((x) => x.inserted).length;
	return { inserted, updated: r.rows.length - inserted };
}

export const KLINE_COLUMNS = ["venue", "symbol", "interval", "open_time", "close_time", "open", "high", "low", "close", "volume", "quote_volume", "trades", "taker_base_volume", "taker_quote_volume"] as const;

/** COPY text format: backslash, tab and newline would break a field (catalog names are free text). */
function copyText(s: string): string {
	return /[\\\t\n\r]/.test(s) ? s.replace(/\\/g, "\\\\").replace(/\t/g, "\\t").replace(/\n/g, "\\n").replace(/\r/g, "\\r") : s;
}

/** The escaped "venue\tsymbol\tinterval\t" every COPY row of this key starts with. */
export function klineCopyPrefix(key: KlineKey): string {
	return `${copyText(key.venue)}\t${copyText(key.symbol)}\t${copyText(key.interval)}\t`;
}

/** How the key's rows start, as text and as binary COPY rows (see kline-page.ts). */
export function klineRowFormat(key: KlineKey): KlineRowFormat {
	return { prefix: klineCopyPrefix(key), head: binaryRowHead([key.venue, key.symbol, key.interval].map((t) => Buffer.from(t)), KLINE_COLUMNS.length) };
}

/** Klines as one COPY text (rows in KLINE_COLUMNS order, each ending in a newline); the key's fields escaped once. */
export function klinesCopyText(key: KlineKey, rows: readonly Kline[]): string {
	return klineRowsCopy(klineCopyPrefix(key), rows);
}

/**
 * Write klines inside the caller's transaction. The pager asks only for klines the database lacks, so a batch
 * nearly always holds new rows only: COPY them (the fast path; `copy` when the caller has their rows for COPY
 * already: binary from the page scanner, text otherwise), and only when COPY meets a stored kline (a concurrent
 * run, a revised kline) fall back, under a savepoint, to the upsert, which needs the Kline objects (`rows`, or a
 * function making them on demand). So does a binary COPY that PostgreSQL refuses (a data exception the text of the
 * same klines would not cause: a fault of the scanner's encoder), which `onBinaryRefused` hears of.
 */
export async function writeKlines(
	client: PoolClient,
	key: KlineKey,
	rows: readonly Kline[] | (() => readonly Kline[]),
	copy?: readonly KlineCopy[],
	onBinaryRefused?: (err: Error) => void,
): Promise<{ inserted: number; updated: number }> {
	const list = typeof rows === "function" ? rows : () => rows;
	const pieces = copy ?? [klinesCopyText(key, list())];
	const binary: Buffer[] = [];
	const text: string[] = [];
	for (const p of pieces) {
		if (typeof p === "string") {
			if (p.length) text.push(p);
		} else if (p.binary.length) binary.push(p.binary);
	}
	if (!binary.length && !text.length) return { inserted: 0, updated: 0 };
	await client.query("SAVEPOINT klines_copy");
	try {
		let n = binary.length ? await copyBinaryInto(client, "klines", KLINE_COLUMNS, binary) : 0;
		if (text.length) n += await copyInto(client, "klines", KLINE_COLUMNS, text);
		await client.query("RELEASE SAVEPOINT klines_copy");
		return { inserted: n, updated: 0 };
	} catch (err) {
		const refused = binary.length > 0 && isDataException(err);
		if ((err as { code?: string }).code !== "23505" && !refused) throw err; // unique_violation: some of these are stored
		await client.query("ROLLBACK TO SAVEPOINT klines_copy");
		if (refused) onBinaryRefused?.(err as Error);
		return upsertKlines(client, key, list());
	}
}

/** Remember ranges the venue answered with no klines, so the next run does not ask again. */
export async function recordEmptyRanges(db: Queryable, key: KlineKey, ranges: readonly Range[]): Promise<void> {
	if (ranges.length === 0) return;
	await db.query(
		`INSERT INTO kline_empty_ranges (venue, symbol, interval, from_time, to_time)
		 SELECT $1, $2, $3, f, t FROM unnest($4::timestamptz[], $5::timestamptz[]) AS u(f, t)
		 ON CONFLICT (venue, symbol, interval, from_time) DO UPDATE SET to_time = greatest(kline_empty_ranges.to_time, EXCLUDED.to_time), checked_at = now()`,
		[key.venue, key.symbol, key.interval, ranges.map((r) => isoUtc(r.from)), ranges.map((r) => isoUtc(r.to))],
	);
}

/** What the database holds for [from, to): runs of consecutive stored klines and known-empty ranges. */
export async function storedCoverage(pool: Queryable, key: KlineKey, from: number, to: number, intervalMs: number): Promise<{ stored: Range[]; empty: Range[] }> {
	const args = [key.venue, key.symbol, key.interval, isoUtc(from), isoUtc(to)];
	const runs = await pool.query<{ first: string; last: string }>(STORED_RUNS_SQL, [...args, intervalMs]);
	const empty = await pool.query<{ from_ms: string; to_ms: string }>(EMPTY_RANGES_SQL, args);
	return {
		stored: runs.rows.map((r) => ({ from: Number(r.first), to: Number(r.last) + intervalMs })),
		empty: empty.rows.map((r) => ({ from: Number(r.from_ms), to: Number(r.to_ms) })),
	};
}

/** Stored klines in [from, to) by open time, oldest first (GET /api/klines). */
export async function queryKlines(pool: Pool, key: KlineKey, from: Date, to: Date, limit: number): Promise<Array<Record<string, unknown>>> {
	const r = await pool.query(
		`SELECT open_time, close_time, open, high, low, close, volume, quote_volume, trades, taker_base_volume, taker_quote_volume
		   FROM klines WHERE venue = $1 AND symbol = $2 AND interval = $3 AND open_time >= $4 AND open_time < $5
		  ORDER BY open_time LIMIT $6`,
		[key.venue, key.symbol, key.interval, from, to, limit],
	);
	return r.rows.map((x) => ({
		openTime: new Date(x.open_time).toISOString(),
		closeTime: new Date(x.close_time).toISOString(),
		open: x.open,
		high: x.high,
		low: x.low,
		close: x.close,
		volume: x.volume,
		quoteVolume: x.quote_volume,
		trades: Number(x.trades),
		takerBaseVolume: x.taker_base_volume,
		takerQuoteVolume: x.taker_quote_volume,
	}));
}
