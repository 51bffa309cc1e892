import type { Pool } from "pg";
import { encodeEnvelope, fastIsoMs, tradeEnvelope } from "../domain/codec";
import { marketTopic } from "../domain/topics";
import type { TradeItem } from "../domain/types";
import type { MarketLog } from "../log/types";
import { HttpError } from "../net/http";
import type { Queryable } from "../store/migrate";
import { withoutStoredTrades } from "../store/trade-ids";
import { pageMissingTrades } from "../venues/kraken/gap-repair";
import { KrakenApiError, type KrakenRest, type TradesPage } from "../venues/kraken/rest";
import { canonicalSymbol, SymbolError, wsSymbolOf } from "../venues/kraken/symbols";
import { HistoryError } from "./errors";
import type { Range } from "./missing";
import { findCatalogSymbol, type HistorySymbol } from "./symbols";

/**
 * Kraken history from trades. Kraken's OHLC endpoint serves only the latest 720 candles, so older candles can
 * only come from /0/public/Trades, paged with its `since` cursor. The trades go through the market-data log's
 * historical topics like live ones, and the tick-writer stores them; the candle cascade follows for the minutes
 * they touch. The trades key includes the time, which Kraken's REST gives with fewer decimals than its
 * WebSocket: every page is checked against the stored trade ids first, so a trade the live stream stored is
 * not stored again under another time.
 */

function classify(err: unknown, symbol: string): unknown {
	if (err instanceof KrakenApiError) {
		if (err.errors.some((e) => e.startsWith("EQuery:Unknown asset pair"))) return new HistoryError("UNKNOWN_SYMBOL", `Kraken does not know pair ${JSON.stringify(symbol)}`, "pair", { cause: err });
		return new HistoryError("VENUE_ERROR", err.message, undefined, { cause: err });
	}
	if (err instanceof HttpError) return new HistoryError(err.status === 418 || err.status === 403 ? "BANNED" : "VENUE_ERROR", `Kraken request failed: ${err.message}`, undefined, { cause: err });
	return err;
}

/**
 * The pair to fetch and the name to store it under: the catalog's entry when it has one, otherwise Kraken's own
 * AssetPairs (so "XBTUSD", "XBT/USD", "BTC/USD" and "BTC-USD-SPOT" all mean BTC/USD). Unknown: a HistoryError.
 */
export async function resolveKrakenSymbol(db: Queryable, rest: KrakenRest, name: string): Promise<HistorySymbol> {
	if (!/^[A-Za-z0-9][A-Za-z0-9._\-/]{0,63}$/.test(name)) throw new HistoryError("BAD_PARAMETER", `pair ${JSON.stringify(name)} is not a valid pair name`, "pair");
	const found = await findCatalogSymbol(db, "kraken", name);
	if (found) {
		// The REST name of a catalog pair comes from AssetPairs when Kraken's legacy codes cannot be guessed.
		if (!knownPair(rest, found.venueSymbol)) await rest.loadAssetPairs().catch(() => undefined);
		return found;
	}
	try {
		await rest.loadAssetPairs();
	} catch (err) {
		throw classify(err, name);
	}
	let ws: string | null = rest.wsSymbolOfPair(name.toUpperCase());
	if (!ws) {
		try {
			ws = wsSymbolOf(name);
		} catch (err) {
			if (!(err instanceof SymbolError)) throw err;
		}
	}
	const info = ws ? rest.pairInfo(ws) : undefined;
	if (!info) throw new HistoryError("UNKNOWN_SYMBOL", `Kraken does not know pair ${JSON.stringify(name)} (not in AssetPairs)`, "pair");
	return { venue: "kraken", symbol: canonicalSymbol(info.wsSymbol), venueSymbol: info.wsSymbol, meta: { restPair: info.restPair } };
}

function knownPair(rest: KrakenRest, ws: string): boolean {
	try {
		return rest.pairInfo(ws) !== undefined;
	} catch {
		return false;
	}
}

/** Oldest and newest stored trade of the symbol in [from, to), epoch ms; null when there is none. */
export async function storedTradeSpan(db: Queryable, venue: string, symbol: string, from: number, to: number): Promise<Range | null> {
	const r = await db.query<{ oldest: Date | null; newest: Date | null }>(
		"SELECT min(time) AS oldest, max(time) AS newest FROM trades WHERE venue = $1 AND symbol = $2 AND time >= $3 AND time < $4",
		[venue, symbol, new Date(from), new Date(to)],
	);
	const { oldest, newest } = r.rows[0];
	return oldest && newest ? { from: oldest.getTime(), to: newest.getTime() } : null;
}

/**
 * Where to page by time: [from, to) when nothing is stored; otherwise only before the oldest and after the
 * newest stored trade. Holes between the two are found by trade id (tradeIdHoles).
 */
export function tradeSegments(from: number, to: number, stored: Range | null): Range[] {
	if (!stored) return [{ from, to }];
	const out: Range[] = [];
	if (stored.from > from) out.push({ from, to: stored.from });
	// From the newest stored millisecond again: trades of that same instant may not all have been stored.
	if (stored.to < to) out.push({ from: stored.to, to });
	return out;
}

/** Trade ids missing between two stored trades: every id after `afterId` and before `beforeId`. */
export interface TradeHole {
	afterId: bigint;
	afterMs: number; // time of the stored trade `afterId`, epoch ms
	beforeId: bigint;
	beforeMs: number;
}

/**
 * Where stored trades of [from, to) skip trade ids (Kraken's ids are sequential per pair). One scan of the
 * primary key in time order, each trade compared with the next. A trade stored at REST precision can sort just
 * before its predecessor stored at WebSocket precision, which looks like a hole on both sides: those candidates
 * are checked against the ids stored within a second of their ends (one more query, all candidates at once),
 * and dropped when every id in between is there.
 */
export async function tradeIdHoles(db: Queryable, venue: string, symbol: string, from: number, to: number): Promise<TradeHole[]> {
	const r = await db.query<{ after_id: string; after_time: Date; before_id: string; before_time: Date }>(
		`SELECT after_id::text, after_time, before_id::text, before_time FROM (
		   SELECT trade_id AS after_id, time AS after_time, lead(trade_id) OVER w AS before_id, lead(time) OVER w AS before_time
		     FROM trades WHERE venue = $1 AND symbol = $2 AND time >= $3 AND time < $4
		   WINDOW w AS (ORDER BY time, trade_id)
		 ) s
		 WHERE before_id > after_id + 1
		 ORDER BY s.after_time, s.after_id`,
		[venue, symbol, new Date(from), new Date(to)],
	);
	if (!r.rows.length) return [];
	const near = await db.query<{ i: number; id: string }>(
		`SELECT h.i::int AS i, t.trade_id::text AS id
		   FROM unnest($3::timestamptz[], $4::timestamptz[]) WITH ORDINALITY AS h(a, b, i)
		   JOIN trades t ON t.venue = $1 AND t.symbol = $2 AND t.time BETWEEN h.a - interval '1 second' AND h.b + interval '1 second'`,
		[venue, symbol, r.rows.map((x) => x.after_time), r.rows.map((x) => x.before_time)],
	);
	const nearIds = new Map<number, Set<bigint>>();
	for (const x of near.rows) {
		let set = nearIds.get(x.i - 1);
		if (!set) nearIds.set(x.i - 1, (set = new Set()));
		set.add(BigInt(x.id));
	}
	const holes: TradeHole[] = [];
	r.rows.forEach((x, i) => {
		const hole = { afterId: BigInt(x.after_id), afterMs: x.after_time.getTime(), beforeId: BigInt(x.before_id), beforeMs: x.before_time.getTime() };
		const ids = nearIds.get(i) ?? new Set<bigint>();
		let complete = hole.beforeId - hole.afterId - 1n <= BigInt(ids.size);
		for (let id = hole.afterId + 1n; complete && id < hole.beforeId; id++) complete = ids.has(id);
		if (!complete) holes.push(hole);
	});
	return holes;
}

/** The `since` cursor (ns) that returns trades at or after `ms`: Kraken answers with trades strictly after it. */
export function sinceNs(ms: number): string {
	return (BigInt(Math.floor(ms)) * 1_000_000n - 1n).toString();
}

export interface KrakenTradesProgress {
	symbol: string;
	pages: number;
	published: number;
	at: number; // time of the newest trade seen, epoch ms
}

export interface KrakenTradesResult {
	venue: "kraken";
	symbol: string;
	venueSymbol: string;
	from: string;
	to: string;
	missingRanges: number; // segments paged by time (before the oldest, after the newest stored trade)
	skippedRanges: number; // 1 when a stored span [oldest, newest] was skipped
	holesFound: number; // trade id holes between stored trades
	holesFilled: number; // holes REST was paged through to their end
	pages: number;
	published: number; // trades handed to the log (the tick-writer stores each once)
	alreadyStored: number; // trades REST sent whose id was stored already (maybe under another time): not published
	rejected: string[]; // rows Kraken sent that could not be used, with the reason (first 20)
	rejectedCount: number;
}

/** Default of KRAKEN_HISTORY_LIVE_MARGIN_MS: history stays this far behind the present. */
export const LIVE_MARGIN_MS = 5 * 60_000;

/**
 * Where a history run stops: at `to`, but never closer to the present than `marginMs`. The last minutes are the
 * live stream's: its trades may still be on their way to the trades table, where the id check before publishing
 * (withoutStoredTrades) cannot see them, and REST gives each under another time than the socket (a second row).
 * Never paging into the future also ends a run on a busy pair instead of following the market forever.
 */
export function historyEnd(to: number, now: number, marginMs = LIVE_MARGIN_MS): number {
	return Math.min(to, now - marginMs);
}

export interface KrakenTradesJob {
	symbol: HistorySymbol; // venueSymbol is the v2 name, "BTC/USD"
	from: number;
	to: number;
	/** Page the whole range by time, ignoring the stored span and holes (stored trade ids are still not published again). */
	full?: boolean;
	now?: number;
	/** How far behind `now` the run stops (historyEnd); default LIVE_MARGIN_MS. */
	liveMarginMs?: number;
	onProgress?: (p: KrakenTradesProgress) => void;
}

/**
 * Page /0/public/Trades through the parts of [from, to) the database does not hold, publishing every page into
 * marketTopic("crypto", "kraken", pair, "trades", "historical"): by time before the oldest and after the newest
 * stored trade (stopping at `to`, or when Kraken has nothing newer), and by trade id through each hole between.
 */
export async function backfillKrakenTrades(pool: Pool, rest: KrakenRest, log: MarketLog, job: KrakenTradesJob): Promise<KrakenTradesResult> {
	if (!(Number.isFinite(job.from) && Number.isFinite(job.to) && job.from < job.to)) {
		throw new HistoryError("BAD_PARAMETER", `from (${new Date(job.from).toISOString()}) must be before to (${new Date(job.to).toISOString()})`, "from");
	}
	const { symbol, venueSymbol } = job.symbol;
	const to = historyEnd(job.to, job.now ?? Date.now(), job.liveMarginMs);
	const ask = !job.full && job.from < to;
	const stored = ask ? await storedTradeSpan(pool, "kraken", symbol, job.from, to) : null;
	// Asked before anything is published, so the run's own trades (stored while it pages) do not change the plan.
	const holes = stored ? await tradeIdHoles(pool, "kraken", symbol, job.from, to) : [];
	const segments = to <= job.from ? [] : tradeSegments(job.from, to, stored);
	const topic = marketTopic("crypto", "kraken", venueSymbol, "trades", "historical");
	const res: KrakenTradesResult = {
		venue: "kraken",
		symbol,
		venueSymbol,
		from: new Date(job.from).toISOString(),
		to: new Date(to).toISOString(),
		missingRanges: segments.length,
		skippedRanges: stored ? 1 : 0,
		holesFound: holes.length,
		holesFilled: 0,
		pages: 0,
		published: 0,
		alreadyStored: 0,
		rejected: [],
		rejectedCount: 0,
	};
	/** Counts a page and publishes those of `items` whose trade id is not stored yet; returns the page's newest time. */
	const take = async (page: TradesPage, items: TradeItem[]): Promise<number> => {
		res.pages++;
		for (const r of page.rejects) if (res.rejected.length < 20) res.rejected.push(r);
		res.rejectedCount += page.rejects.length;
		const { fresh, stored: known } = await withoutStoredTrades(pool, "kraken", symbol, items);
		res.alreadyStored += known;
		if (fresh.length) {
			await log.publish(topic, symbol, [encodeEnvelope(tradeEnvelope("kraken", symbol, fresh))]);
			res.published += fresh.length;
		}
		let newest = -Infinity;
		for (const t of page.trades) newest = Math.max(newest, fastIsoMs(t.time));
		job.onProgress?.({ symbol, pages: res.pages, published: res.published, at: newest });
		return newest;
	};
	for (const seg of segments) {
		let since = sinceNs(seg.from);
		for (;;) {
			let page;
			try {
				page = await rest.trades(venueSymbol, since);
			} catch (err) {
				throw classify(err, venueSymbol);
			}
			// Up to and including the oldest stored instant (its other trades may be missing), never at or past `to`.
			const newest = await take(
				page,
				page.trades.filter((t) => {
					const ms = fastIsoMs(t.time);
					return ms >= seg.from && ms <= seg.to && ms < to;
				}),
			);
			const exhausted = page.trades.length === 0 && page.rejects.length === 0; // caught up with Kraken
			if (exhausted || newest >= seg.to || page.last === since) break;
			since = page.last;
		}
	}
	for (const h of holes) {
		const gap = { wsSymbol: venueSymbol, fromMs: h.afterMs, toMs: h.beforeMs, afterId: h.afterId, beforeId: h.beforeId };
		let paged;
		try {
			// A hole may span days of trades: each page is published as it comes, none kept.
			paged = await pageMissingTrades(rest, gap, (missing, page) => take(page, missing).then(() => undefined), { maxPages: Infinity });
		} catch (err) {
			throw classify(err, venueSymbol);
		}
		if (paged.reachedEnd) res.holesFilled++;
	}
	return res;
}
