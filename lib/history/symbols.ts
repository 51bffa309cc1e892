import type { Queryable } from "../store/migrate";

/** A catalog entry as history needs it: canonical name for storage, venue spelling for the venue's API. */
export interface HistorySymbol {
	venue: string;
	symbol: string; // canonical BASE-QUOTE-TYPE
	venueSymbol: string;
	meta: Record<string, unknown>;
}

/** The active crypto spot symbols of the catalog (sql/001 + 008 `symbols`), optionally of one venue (klines and trades history is spot only). */
export async function activeCryptoSymbols(db: Queryable, venue?: string): Promise<HistorySymbol[]> {
	const r = await db.query<{ venue: string; symbol: string; venue_symbol: string; meta: Record<string, unknown> }>(
		`SELECT venue, symbol, venue_symbol, meta FROM symbols
		  WHERE active AND asset_class = 'crypto' AND kind = 'SPOT' AND ($1::text IS NULL OR venue = $1)
		  ORDER BY venue, symbol`,
		[venue ?? null],
	);
	return r.rows.map((x) => ({ venue: x.venue, symbol: x.symbol, venueSymbol: x.venue_symbol, meta: x.meta ?? {} }));
}

/**
 * One catalog entry by any of its names: the canonical symbol (BTC-USD-SPOT), the venue symbol (BTC/USD) or the
 * venue symbol without separators (BTCUSD), case-insensitively; null when the catalog does not know it.
 */
export async function findCatalogSymbol(db: Queryable, venue: string, name: string): Promise<HistorySymbol | null> {
	const r = await db.query<{ venue: string; symbol: string; venue_symbol: string; meta: Record<string, unknown> }>(
		`SELECT venue, symbol, venue_symbol, meta FROM symbols
		  WHERE venue = $1 AND (upper(symbol) = upper($2) OR upper(venue_symbol) = upper($2)
		        OR upper(regexp_replace(venue_symbol, '[^A-Za-z0-9]', '', 'g')) = upper(regexp_replace($2, '[^A-Za-z0-9]', '', 'g')))
		  ORDER BY (upper(symbol) = upper($2)) DESC, (upper(venue_symbol) = upper($2)) DESC, (kind = 'SPOT') DESC
		  LIMIT 1`,
		[venue, name],
	);
	const x = r.rows[0];
	return x ? { venue: x.venue, symbol: x.symbol, venueSymbol: x.venue_symbol, meta: x.meta ?? {} } : null;
}
