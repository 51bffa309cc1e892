import type { BooksQuery } from "../orderbook/store";
import { canonicalSymbol } from "../venues/kraken/symbols";
import { intParam, ParamError, parseTime, requiredName } from "./params";

type Params = Record<string, unknown>;

/** A book is stored under its standard symbol; Kraken's v2 spelling (BTC/USD) is accepted too. */
function bookSymbol(venue: string, symbol: string): string {
	if (venue === "kraken" && symbol.includes("/")) {
		try {
			return canonicalSymbol(symbol);
		} catch (err) {
			throw new ParamError("symbol", (err as Error).message);
		}
	}
	return symbol.toUpperCase();
}

/** GET /api/books?venue=&symbol=&from=&to=&limit=&source= */
export function parseBooksQuery(p: Params, opts: { maxRows: number }): BooksQuery {
	const venue = requiredName(p, "venue").toLowerCase();
	const symbol = bookSymbol(venue, requiredName(p, "symbol"));
	const from = parseTime(p, "from") ?? null;
	const to = parseTime(p, "to") ?? null;
	if (from && to && from.getTime() >= to.getTime()) throw new ParamError("from", `from (${from.toISOString()}) must be before to (${to.toISOString()})`);
	const limit = intParam(p, "limit", Math.min(100, opts.maxRows), 1, Math.min(1000, opts.maxRows));
	const source = p.source === undefined || p.source === "" ? null : p.source;
	if (source !== null && source !== "rest" && source !== "ws") throw new ParamError("source", `source=${JSON.stringify(source)} is not one of rest, ws`);
	return { venue, symbol, from, to, source, limit };
}

/** GET /api/books/latest?venue=&symbol= */
export function parseLatestBookQuery(p: Params): { venue: string; symbol: string } {
	const venue = requiredName(p, "venue").toLowerCase();
	return { venue, symbol: bookSymbol(venue, requiredName(p, "symbol")) };
}
