import { ParamError, parseTime, requiredName } from "../api/params";
import { isKlineInterval, KLINE_INTERVALS } from "./binance-klines";

/** Parameters of the exchange-history actions and of GET /api/klines, checked; problems are ParamErrors naming the parameter. */
type Params = Record<string, unknown>;

export interface HistoryRange {
	from: number;
	to: number;
}

/** from and to are required for a backfill (no silent "last hour" default); from before to. */
export function historyRange(p: Params): HistoryRange {
	const from = parseTime(p, "from");
	if (!from) throw new ParamError("from", "from is required (ISO-8601 date or time, or epoch milliseconds)");
	const to = parseTime(p, "to");
	if (!to) throw new ParamError("to", "to is required (ISO-8601 date or time, or epoch milliseconds)");
	if (from.getTime() >= to.getTime()) throw new ParamError("from", `from (${from.toISOString()}) must be before to (${to.toISOString()})`);
	return { from: from.getTime(), to: to.getTime() };
}

export function klineInterval(p: Params, def?: string): string {
	const v = p.interval ?? def;
	if (v === undefined || v === "") throw new ParamError("interval", `interval is required: one of ${Object.keys(KLINE_INTERVALS).join(", ")}`);
	if (!isKlineInterval(v)) throw new ParamError("interval", `interval=${JSON.stringify(v)} is not one of ${Object.keys(KLINE_INTERVALS).join(", ")}`);
	return v;
}

export function klinesVenue(p: Params): "binance" {
	const v = p.venue ?? "binance";
	if (v !== "binance") throw new ParamError("venue", `venue=${JSON.stringify(v)}: klines history is served for binance only (Kraken history comes from trades)`);
	return v;
}

export interface KlinesQuery {
	venue: string;
	symbol: string;
	interval: string;
	from: Date;
	to: Date;
	limit: number;
}

/** GET /api/klines?venue=&symbol=&interval=&from=&to=&limit= */
export function parseKlinesQuery(p: Params, opts: { maxRows: number }): KlinesQuery {
	const venue = requiredName(p, "venue");
	const symbol = requiredName(p, "symbol");
	const interval = klineInterval(p);
	const { from, to } = historyRange(p);
	let limit = Math.min(1000, opts.maxRows);
	if (p.limit !== undefined && p.limit !== "") {
		const n = Number(p.limit);
		if (!/^\d+$/.test(String(p.limit)) || n < 1 || n > opts.maxRows) throw new ParamError("limit", `limit=${JSON.stringify(p.limit)} must be an integer from 1 to ${opts.maxRows}`);
		limit = n;
	}
	return { venue, symbol, interval, from: new Date(from), to: new Date(to), limit };
}
