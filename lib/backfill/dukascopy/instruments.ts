import type { AssetClass } from "../../domain/types";

/**
 * The Dukascopy instruments this service knows, with their decimal factors (price = integer / factor).
 * Embedded rather than read at run time: the values come from Dukascopy's instrument metadata
 * (dukascopy-node's instrument-meta-data.json), and test/backfill/instruments.spec.ts checks every row
 * against that file, so a wrong factor cannot slip in.
 */
export interface DukascopyInstrument {
	/** Datafeed name, upper case: "EURUSD" (URL path segment of the .bi5 feed). */
	id: string;
	/** JSON API code: "EUR-USD". */
	code: string;
	base: string;
	quote: string;
	/** Canonical symbol: "EUR-USD-SPOT". */
	symbol: string;
	asset: AssetClass;
	/** A power of ten: integer prices in the files are price * decimalFactor. */
	decimalFactor: number;
	/** Digits after the decimal point (log10 of decimalFactor). */
	decimals: number;
	/** First hour with ticks (ms), from the metadata. */
	firstTickHourMs: number;
	/** Listing exchange of an equity CFD (US, DE, HK, ...): its session is the trading calendar. */
	exchange?: string | null;
}

// id, decimal factor, asset class, first tick hour (UTC)
const TABLE: [string, number, AssetClass, string][] = [
	["EURUSD", 100000, "fx", "2003-05-04T19:00:00Z"],
	["GBPUSD", 100000, "fx", "2003-05-04T20:00:00Z"],
	["USDJPY", 1000, "fx", "2003-05-04T17:00:00Z"],
	["USDCHF", 100000, "fx", "2003-05-04T20:00:00Z"],
	["AUDUSD", 100000, "fx", "2003-08-03T17:00:00Z"],
	["USDCAD", 100000, "fx", "2003-08-03T17:00:00Z"],
	["NZDUSD", 100000, "fx", "2003-08-03T17:00:00Z"],
	["EURGBP", 100000, "fx", "2003-08-03T17:00:00Z"],
	["EURJPY", 1000, "fx", "2003-08-03T17:00:00Z"],
	["EURCHF", 100000, "fx", "2003-08-03T17:00:00Z"],
	["GBPJPY", 1000, "fx", "2003-08-03T17:00:00Z"],
	// Metals trade on the FX week (closed at the weekend), so they go with fx.
	["XAUUSD", 1000, "fx", "2003-05-05T00:00:00Z"],
	["XAGUSD", 1000, "fx", "2003-05-04T23:00:00Z"],
	["BTCUSD", 10, "crypto", "2017-05-07T23:00:00Z"],
	["ETHUSD", 10, "crypto", "2017-12-11T23:00:00Z"],
];

export const DUKASCOPY_INSTRUMENTS: ReadonlyMap<string, DukascopyInstrument> = new Map(
	TABLE.map(([id, decimalFactor, asset, first]) => {
		const base = id.slice(0, 3);
		const quote = id.slice(3);
		const decimals = Math.round(Math.log10(decimalFactor));
		if (10 ** decimals !== decimalFactor) throw new Error(`${id}: decimal factor ${decimalFactor} is not a power of ten`);
		return [id, { id, code: `${base}-${quote}`, base, quote, symbol: `${base}-${quote}-SPOT`, asset, decimalFactor, decimals, firstTickHourMs: Date.parse(first) }];
	}),
);

/**
 * Instruments beyond the built-in table, from the symbol catalog (all 1,499 of Dukascopy's metadata): the
 * process that runs the backfill loads them with `registerCatalogInstruments` (lib/catalog/instruments.ts).
 * The built-in table wins for its 15 ids, so their topics and classes stay what they were.
 */
const registered = new Map<string, DukascopyInstrument>();

export function registerInstruments(list: readonly DukascopyInstrument[]): void {
	for (const i of list) if (!DUKASCOPY_INSTRUMENTS.has(i.id)) registered.set(i.id, i);
}

export class UnknownInstrumentError extends Error {
	constructor(readonly instrument: string) {
		super(`unknown Dukascopy instrument ${JSON.stringify(instrument)} (known: ${[...DUKASCOPY_INSTRUMENTS.keys()].join(", ")}${registered.size ? ` and ${registered.size} more from the symbol catalog` : "; the symbol catalog lists the rest"})`);
		this.name = "UnknownInstrumentError";
	}
}

/** Look an instrument up by datafeed name ("EURUSD", "eurusd"), JSON API code ("EUR-USD") or canonical symbol ("EUR-USD-SPOT"). */
export function findInstrument(name: string): DukascopyInstrument | undefined {
	if (typeof name !== "string") return undefined;
	const n = name.toUpperCase().replace(/-(SPOT|CFD)$/, "").replace(/[-/_.]/g, "");
	return DUKASCOPY_INSTRUMENTS.get(n) ?? registered.get(n);
}

export function getInstrument(name: string): DukascopyInstrument {
	const i = findInstrument(name);
	if (!i) throw new UnknownInstrumentError(name);
	return i;
}
