/**
 * Order-book snapshots as book_snapshots stores them and /api/books serves them. Prices and sizes are the
 * venue's exact decimal strings, best level first on both sides.
 */

/** [price, qty], both exact decimal strings. */
export type BookLevel = [price: string, qty: string];

export type BookSource = "rest" | "ws";

export interface BookSnapshot {
	venue: string;
	symbol: string; // standard symbol, e.g. BTC-USDT-SPOT
	/** Exchange time of the book when the venue gives one, else the retrieval time (ISO-8601 UTC). */
	time: string;
	recvTime: string;
	source: BookSource;
	/** Binance's lastUpdateId (a decimal string: bigint in the table); null where the venue has none. */
	lastUpdateId: string | null;
	/** Kraken's CRC32 of the live book (unsigned); null for REST snapshots. */
	checksum: number | null;
	bids: BookLevel[];
	asks: BookLevel[];
}

/** One book to snapshot: a venue's symbol under its standard name, and where its REST depth lives. */
export interface BookTarget {
	venue: string; // as the catalog names it (kraken, binance)
	symbol: string; // standard symbol: the name it is stored under
	venueSymbol: string; // as the venue's API spells it: BTC/USD, BTCUSDT
	market: "kraken-spot" | "binance-spot" | "binance-usdm";
}

/** A book levels list from a venue answer was not usable. */
export class BookParseError extends Error {
	constructor(message: string) {
		super(message);
		this.name = "BookParseError";
	}
}

const DECIMAL_RE = /^(0|[1-9]\d*)(\.\d+)?$/;

/** `[[price, qty, ...], ...]` with decimal-string prices and sizes, as [price, qty] pairs; anything else is a BookParseError. */
export function parseLevels(rows: unknown, side: string): BookLevel[] {
	if (!Array.isArray(rows)) throw new BookParseError(`${side} is not a list of levels`);
	return rows.map((r, i) => {
		if (!Array.isArray(r) || r.length < 2) throw new BookParseError(`${side}[${i}] is not [price, qty]`);
		const [price, qty] = r;
		if (typeof price !== "string" || !DECIMAL_RE.test(price)) throw new BookParseError(`${side}[${i}] price ${JSON.stringify(price)} is not a decimal string`);
		if (typeof qty !== "string" || !DECIMAL_RE.test(qty)) throw new BookParseError(`${side}[${i}] qty ${JSON.stringify(qty)} is not a decimal string`);
		return [price, qty];
	});
}
