/**
 * The symbol catalog's vocabulary. One row per venue instrument, normalised to our standard names
 * (BASE-QUOTE-TYPE: BTC-USDT-SPOT, BTC-USDT-PERP, BTC-USD-FUTURE_240329, AAPL.US-USD-CFD).
 */
export const CATALOG_ASSET_CLASSES = ["crypto", "fx", "metal", "index", "equity", "commodity"] as const;
export type CatalogAssetClass = (typeof CATALOG_ASSET_CLASSES)[number];
export const INSTRUMENT_TYPES = ["SPOT", "PERP", "FUTURE", "CFD"] as const;
export type InstrumentType = (typeof INSTRUMENT_TYPES)[number];
export const INSTRUMENT_STATUSES = ["online", "halted", "delisted"] as const;
export type InstrumentStatus = (typeof INSTRUMENT_STATUSES)[number];

/** What a venue adapter produces: a catalog row without our bookkeeping (active flag, times). */
export interface CatalogInstrument {
	venue: string;
	venueSymbol: string; // as the venue spells it: BTCUSDT, BTC/USD, EUR_USD, AAPLUSUSD
	symbol: string; // standard
	assetClass: CatalogAssetClass;
	base: string;
	quote: string;
	settle: string | null; // settlement asset of a derivative (quote: linear, base: inverse); null for spot
	type: InstrumentType;
	expiry: string | null; // ISO, dated futures only
	tickSize: string | null; // exact decimal text
	lotSize: string | null;
	pricePrecision: number | null;
	qtyPrecision: number | null;
	status: InstrumentStatus;
	description: string | null;
	/** Venue specifics other code needs (Binance market, Dukascopy decimal factor, ...). */
	meta: Record<string, unknown>;
}

/** A stored catalog row. */
export interface CatalogRow extends CatalogInstrument {
	id: string; // venue:symbol
	active: boolean;
	updatedAt: string;
	createdAt: string;
	changedAt: Record<string, string>; // attribute -> ISO time it last changed
}

/** One venue's instrument list, fetched and normalised. */
export interface VenueCatalogAdapter {
	readonly venue: string;
	/** A name for logs ("binance spot", "binance usd-m"). */
	readonly source: string;
	load(signal?: AbortSignal): Promise<CatalogInstrument[]>;
	/** Whether a stored row of the venue came from this source (Binance: spot, USD-M and COIN-M share the venue). Default: all. */
	owns?(row: Pick<CatalogRow, "meta">): boolean;
}

/** Raised by an adapter when the venue answered something that is not its instrument list. */
export class CatalogSourceError extends Error {
	constructor(
		readonly source: string,
		message: string,
		options?: { cause?: unknown },
	) {
		super(`${source}: ${message}`, options);
		this.name = "CatalogSourceError";
	}
}

/** Decimal places of an exact decimal text: "0.00010000" -> 4 (trailing zeros do not count), "1" -> 0. */
export function decimalsOf(step: string): number {
	const [, frac = ""] = step.split(".");
	return frac.replace(/0+$/, "").length;
}

/** "0.00010000" -> "0.0001", "1.0" -> "1": a step as its shortest exact text. */
export function trimDecimal(s: string): string {
	if (!/^\d+(\.\d+)?$/.test(s)) throw new Error(`${JSON.stringify(s)} is not a decimal`);
	if (!s.includes(".")) return s.replace(/^0+(?=\d)/, "");
	const t = s.replace(/0+$/, "").replace(/\.$/, "");
	return t.replace(/^0+(?=\d)/, "");
}

/** 10^-n as exact text: 2 -> "0.01", 0 -> "1". */
export function stepOfDecimals(n: number): string {
	return n <= 0 ? "1" : `0.${"0".repeat(n - 1)}1`;
}
