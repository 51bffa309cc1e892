import { canonicalSymbol, wsSymbol } from "../venues/kraken/symbols";
import { isFiat } from "./assets";
import { seedActiveOnce } from "./catalog";
import type { PgDbAdapter } from "./pg-adapter";
import type { CatalogInstrument } from "./types";

/**
 * Catalog rows for Kraken v2 pairs ("BTC/USD") known before any sync (KRAKEN_SYMBOLS on a first start):
 * enough to stream and store them; the next Kraken sync fills in precision, sizes and status.
 */
export function krakenSeedRows(pairs: readonly string[]): CatalogInstrument[] {
	return pairs.map((p) => {
		const ws = wsSymbol(p);
		const [base, quote] = ws.split("/");
		return {
			venue: "kraken",
			venueSymbol: ws,
			symbol: canonicalSymbol(ws),
			assetClass: isFiat(base) && isFiat(quote) ? "fx" : "crypto",
			base,
			quote,
			settle: null,
			type: "SPOT",
			expiry: null,
			tickSize: null,
			lotSize: null,
			pricePrecision: null,
			qtyPrecision: null,
			status: "online",
			description: null,
			meta: { seededFrom: "KRAKEN_SYMBOLS" },
		};
	});
}

/**
 * The venue symbols to stream at start: the catalog's active ones. On the very first start (no row of
 * the venue ever activated or deactivated) the configured seeds are activated first; after that the
 * configuration no longer matters, the catalog does.
 */
export async function startupVenueSymbols(store: PgDbAdapter, venue: string, seeds: readonly CatalogInstrument[]): Promise<{ symbols: string[]; seeded: string[] }> {
	const seeded = await seedActiveOnce(store, venue, seeds);
	const rows = (await store.find({ query: { venue, active: true }, sort: ["venueSymbol"] })) as { venueSymbol: string }[];
	return { symbols: rows.map((r) => r.venueSymbol), seeded };
}
