import type { Pool } from "pg";
import { findInstrument } from "../backfill/dukascopy/instruments";
import { closestMatches } from "../catalog/match";
import { PgDbAdapter, SYMBOLS_TABLE } from "../catalog/pg-adapter";
import type { CatalogRow } from "../catalog/types";
import type { AssetClass, PriceType } from "../domain/types";

/**
 * What the read and ingest paths know about a venue/symbol.
 *
 * A symbol is KNOWN to the reads (/api/candles, /api/trades, /api/quotes, /api/klines) when any of:
 *   1. the catalog has a row for it (standard symbol, any status, active or not);
 *   2. PostgreSQL holds data for it (a trade, a quote or a kline): data stored before the catalog
 *      listed it, or replayed with INGEST_ALLOW_UNKNOWN, stays readable;
 *   3. it is one of the built-in Dukascopy instruments (the backfill can always produce it).
 * Reads answer 404 naming the venue/symbol and the closest catalog matches only when none holds, and only
 * ask when the result is empty, so a read with data costs nothing extra.
 * Ingest (POST /api/ingest, npm run replay) is stricter: only 1 and 3, so that a typo cannot create a
 * phantom market (INGEST_ALLOW_UNKNOWN=true lifts it).
 */
export class UnknownMarketError extends Error {
	constructor(
		readonly venue: string,
		readonly symbol: string,
		readonly matches: string[],
	) {
		super(`unknown symbol ${JSON.stringify(symbol)} on venue ${JSON.stringify(venue)}${matches.length ? `; closest: ${matches.join(", ")}` : "; the catalog lists nothing close (GET /api/symbols)"}`);
		this.name = "UnknownMarketError";
	}
}

export class SymbolKnowledge {
	private readonly store: PgDbAdapter;

	constructor(private readonly pool: Pool) {
		this.store = new PgDbAdapter(SYMBOLS_TABLE, () => pool);
	}

	private async catalogRow(venue: string, symbol: string): Promise<CatalogRow | null> {
		return (await this.store.findOne({ venue, symbol })) as CatalogRow | null;
	}

	private async hasData(venue: string, symbol: string): Promise<boolean> {
		const { rows } = await this.pool.query<{ ok: boolean }>(
			`SELECT EXISTS (SELECT 1 FROM trades WHERE venue = $1 AND symbol = $2)
			     OR EXISTS (SELECT 1 FROM quotes WHERE venue = $1 AND symbol = $2)
			     OR EXISTS (SELECT 1 FROM klines WHERE venue = $1 AND symbol = $2) AS ok`,
			[venue, symbol],
		);
		return rows[0].ok;
	}

	private builtIn(venue: string, symbol: string): boolean {
		return venue === "dukascopy" && findInstrument(symbol)?.symbol === symbol;
	}

	/** The closest catalog names: the venue's symbols, or the catalog's venues when the venue has none. */
	async matches(venue: string, symbol: string): Promise<string[]> {
		const rows = (await this.store.find({ query: { venue } })) as unknown as CatalogRow[];
		if (rows.length) return closestMatches(rows, symbol);
		const venues = (await this.pool.query<{ venue: string }>("SELECT DISTINCT venue FROM symbols ORDER BY venue LIMIT 5")).rows.map((r) => r.venue);
		return venues.map((v) => `venue ${v}`);
	}

	/** For reads: throw UnknownMarketError unless the symbol is known (rules 1-3). Call it when a read came back empty. */
	async assertReadable(venue: string, symbol: string): Promise<void> {
		if (this.builtIn(venue, symbol) || (await this.catalogRow(venue, symbol)) || (await this.hasData(venue, symbol))) return;
		throw new UnknownMarketError(venue, symbol, await this.matches(venue, symbol));
	}

	/** For ingest: the pairs of `pairs` that are unknown by rules 1 and 3. */
	async unknownForIngest(pairs: readonly { venue: string; symbol: string }[]): Promise<UnknownMarketError[]> {
		const out: UnknownMarketError[] = [];
		const seen = new Set<string>();
		for (const p of pairs) {
			const k = `${p.venue}\u0000${p.symbol}`;
			if (seen.has(k)) continue;
			seen.add(k);
			if (this.builtIn(p.venue, p.symbol) || (await this.catalogRow(p.venue, p.symbol))) continue;
			out.push(new UnknownMarketError(p.venue, p.symbol, await this.matches(p.venue, p.symbol)));
		}
		return out;
	}

	/**
	 * The candle price when the request names none: trade for crypto, bid for everything quoted rather
	 * than traded (fx, metals, indices, equity CFDs, commodities), as ARCHITECTURE.md says. The class comes
	 * from the catalog, else from the built-in Dukascopy table; quote-only venues (dukascopy, oanda) are bid.
	 */
	async defaultPrice(venue: string, symbol: string): Promise<PriceType> {
		const row = await this.catalogRow(venue, symbol);
		const cls: AssetClass | null = row?.assetClass ?? (venue === "dukascopy" ? (findInstrument(symbol)?.asset ?? null) : null);
		if (cls) return cls === "crypto" && venue !== "dukascopy" && venue !== "oanda" ? "trade" : "bid";
		return venue === "dukascopy" || venue === "oanda" ? "bid" : "trade";
	}
}
