import type { Pool } from "pg";
import { encodeEnvelope, fastIsoMs, tradeEnvelope } from "../domain/codec";
import { marketTopic } from "../domain/topics";
import type { TradeItem } from "../domain/types";
import type { MarketLog } from "../log/types";
import { HttpError } from "../net/http";
import type { Queryable } from "../store/migrate";
import { KrakenApiError, type KrakenRest } from "../venues/kraken/rest";
import { canonicalSymbol, SymbolError, wsSymbolOf } from "../venues/kraken/symbols";
import { HistoryError } from "./errors";
import type { Range } from "./missing";
import { findCatalogSymbol, type HistorySymbol } from "./symbols";

/**
 * Kraken history from trades. Kraken's OHLC endpoint serves only the latest 720 candles, so older candles can
 * only come from /0/public/Trades, paged with its `since` cursor. The trades go through the market-data log's
 * historical topics like live ones: the tick-writer stores each once (natural key) and the candle cascade
 * follows for the minutes they touch.
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
 * Where to page: [from, to) when nothing is stored; otherwise only before the oldest and after the newest stored
 * trade. Trades are irregular, so a hole between the two is not visible from here; the tick-writer's key makes
 * a wider re-run (or `full`) harmless.
 */
export function tradeSegments(from: number, to: number, stored: Range | null): Range[] {
	if (!stored) return [{ from, to }];
	const out: Range[] = [];
	if (stored.from > from) out.push({ from, to: stored.from });
	// From the newest stored millisecond again: trades of that same instant may not all have been stored.
	if (stored.to < to) out.push({ from: stored.to, to });
	return out;
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
	missingRanges: number; // segments paged
	skippedRanges: number; // 1 when a stored span [oldest, newest] was skipped
	pages: number;
	published: number; // trades handed to the log (the tick-writer stores each once)
	rejected: string[]; // rows Kraken sent that could not be used, with the reason (first 20)
	rejectedCount: number;
}

export interface KrakenTradesJob {
	symbol: HistorySymbol; // venueSymbol is the v2 name, "BTC/USD"
	from: number;
	to: number;
	/** Page the whole range, ignoring what is stored (finds holes between the oldest and newest stored trade). */
	full?: boolean;
	now?: number;
	onProgress?: (p: KrakenTradesProgress) => void;
}

/**
 * Page /0/public/Trades through the parts of [from, to) the database does not hold, publishing every page into
 * marketTopic("crypto", "kraken", pair, "trades", "historical"). Stops at `to`, or when Kraken has nothing newer.
 */
export async function backfillKrakenTrades(pool: Pool, rest: KrakenRest, log: MarketLog, job: KrakenTradesJob): Promise<KrakenTradesResult> {
	if (!(Number.isFinite(job.from) && Number.isFinite(job.to) && job.from < job.to)) {
		throw new HistoryError("BAD_PARAMETER", `from (${new Date(job.from).toISOString()}) must be before to (${new Date(job.to).toISOString()})`, "from");
	}
	const { symbol, venueSymbol } = job.symbol;
	// Never page into the future: on a busy pair every page has a few newer trades, and the run would follow
	// the live market forever instead of ending.
	const to = Math.min(job.to, job.now ?? Date.now());
	const stored = job.full || to <= job.from ? null : await storedTradeSpan(pool, "kraken", symbol, job.from, to);
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
		pages: 0,
		published: 0,
		rejected: [],
		rejectedCount: 0,
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
			res.pages++;
			for (const r of page.rejects) if (res.rejected.length < 20) res.rejected.push(r);
			res.rejectedCount += page.rejects.length;
			const items: TradeItem[] = [];
			let newest = -Infinity;
			for (const t of page.trades) {
				const ms = fastIsoMs(t.time);
				if (ms > newest) newest = ms;
				// Up to and including the oldest stored instant (its other trades may be missing), never at or past `to`.
				if (ms >= seg.from && ms <= seg.to && ms < to) items.push(t);
			}
			if (items.length) {
				await log.publish(topic, symbol, [encodeEnvelope(tradeEnvelope("kraken", symbol, items))]);
				res.published += items.length;
			}
			job.onProgress?.({ symbol, pages: res.pages, published: res.published, at: newest });
			const exhausted = page.trades.length === 0 && page.rejects.length === 0; // caught up with Kraken
			if (exhausted || newest >= seg.to || page.last === since) break;
			since = page.last;
		}
	}
	return res;
}
