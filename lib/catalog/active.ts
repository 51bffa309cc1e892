import { canonicalSymbol, wsSymbol } from "../venues/kraken/symbols";
import { isFiat } from "./assets";
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
