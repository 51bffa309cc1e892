import { isTimeframe, TIMEFRAME_MS, TIMEFRAMES, type Timeframe } from "../domain/timeframes";
import type { PriceType } from "../domain/types";
import type { CandleQuery } from "../candles/query";

/** Request parameters of the REST API, parsed and checked. Every problem becomes a ParamError naming the parameter. */
export class ParamError extends Error {
	constructor(
		readonly param: string,
		message: string,
		/** Machine-readable type of the 400 answer. */
		readonly code = "INVALID_PARAMETER",
	) {
		super(message);
	}
}

type Params = Record<string, unknown>;

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._\-/]{0,63}$/;
const DATE_ONLY_RE = /^\d{4}-\d{2}-\d{2}$/;
const DATETIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;
export const PRICE_TYPES: PriceType[] = ["trade", "bid", "ask", "mid"];

function str(p: Params, name: string): string | undefined {
	const v = p[name];
	if (v === undefined || v === null || v === "") return undefined;
	if (typeof v !== "string") {
		if (typeof v === "number") return String(v);
		throw new ParamError(name, `${name} must be given once, as a string`);
	}
	return v;
}

export function requiredName(p: Params, name: string): string {
	const v = str(p, name);
	if (v === undefined) throw new ParamError(name, `${name} is required`);
	if (!NAME_RE.test(v)) throw new ParamError(name, `${name} ${JSON.stringify(v)} is not a valid name`);
	return v;
}

/** An ISO-8601 date (UTC midnight), an ISO-8601 date-time with a zone, or epoch milliseconds. */
export function parseTime(p: Params, name: string): Date | undefined {
	const v = str(p, name);
	if (v === undefined) return undefined;
	let ms = NaN;
	if (/^\d{10,16}$/.test(v)) {
		ms = Number(v);
		if (v.length === 10) throw new ParamError(name, `${name}=${v} looks like epoch seconds; give epoch milliseconds or an ISO-8601 time`);
	} else if (DATE_ONLY_RE.test(v)) ms = Date.parse(v + "T00:00:00Z");
	else if (DATETIME_RE.test(v)) ms = Date.parse(v);
	if (!Number.isFinite(ms)) throw new ParamError(name, `${name}=${JSON.stringify(v)} is not a date: use ISO-8601 (2024-01-15 or 2024-01-15T13:00:00Z) or epoch milliseconds`);
	const ymd = /^(\d{4})-(\d{2})-(\d{2})/.exec(v);
	if (ymd) {
		// Date.parse rolls a day that does not exist (2024-02-30) over into the next month.
		const [y, m, d] = [Number(ymd[1]), Number(ymd[2]), Number(ymd[3])];
		const day = new Date(Date.UTC(y, m - 1, d));
		if (day.getUTCFullYear() !== y || day.getUTCMonth() !== m - 1 || day.getUTCDate() !== d) throw new ParamError(name, `${name}=${JSON.stringify(v)} is not a date: ${ymd[0]} does not exist`);
	}
	return new Date(ms);
}

export function enumParam<T extends string>(p: Params, name: string, allowed: readonly T[], def: T): T {
	const v = str(p, name);
	if (v === undefined) return def;
	if (!(allowed as readonly string[]).includes(v)) throw new ParamError(name, `${name}=${JSON.stringify(v)} is not one of ${allowed.join(", ")}`);
	return v as T;
}

/** An optional integer parameter from min to max (a query-string text or a JSON number); `def` when absent. */
export function intParam(p: Params, name: string, def: number, min: number, max: number): number {
	const v = str(p, name);
	if (v === undefined) return def;
	const n = Number(v);
	if (!/^\d+$/.test(v) || n < min || n > max) throw new ParamError(name, `${name}=${JSON.stringify(v)} must be an integer from ${min} to ${max}`);
	return n;
}

function range(p: Params, now: Date, defaultSpanMs: number): { from: Date; to: Date } {
	const to = parseTime(p, "to") ?? now;
	const from = parseTime(p, "from") ?? new Date(to.getTime() - defaultSpanMs);
	if (from.getTime() >= to.getTime()) throw new ParamError("from", `from (${from.toISOString()}) must be before to (${to.toISOString()})`);
	return { from, to };
}

export type { CandleQuery };

export function parseCandleQuery(p: Params, opts: { now?: Date; maxBuckets: number }): CandleQuery {
	const venue = requiredName(p, "venue");
	const symbol = requiredName(p, "symbol");
	const tfRaw = str(p, "timeframe");
	if (tfRaw === undefined) throw new ParamError("timeframe", `timeframe is required: one of ${TIMEFRAMES.join(", ")}`);
	if (!isTimeframe(tfRaw)) throw new ParamError("timeframe", `timeframe=${JSON.stringify(tfRaw)} is not one of ${TIMEFRAMES.join(", ")}`);
	const tfMs = TIMEFRAME_MS[tfRaw];
	const { from, to } = range(p, opts.now ?? new Date(), Math.min(500, opts.maxBuckets) * tfMs);
	const buckets = Math.ceil((to.getTime() - from.getTime()) / tfMs);
	if (buckets > opts.maxBuckets) {
		throw new ParamError("from", `range too large: ${buckets} ${tfRaw} buckets requested, at most ${opts.maxBuckets}; narrow from/to or use a larger timeframe`);
	}
	return {
		venue,
		symbol,
		timeframe: tfRaw,
		from,
		to,
		price: enumParam(p, "price", PRICE_TYPES, "trade"),
		fill: enumParam(p, "fill", ["none", "previous"] as const, "none"),
	};
}

export interface TickQuery {
	venue: string;
	symbol: string;
	from: Date;
	to: Date;
	limit: number;
	cursor: { time: string; id: string } | null;
}

export function parseTickQuery(p: Params, opts: { now?: Date; maxRows: number; maxRangeMs?: number }): TickQuery {
	const venue = requiredName(p, "venue");
	const symbol = requiredName(p, "symbol");
	const { from, to } = range(p, opts.now ?? new Date(), 3_600_000);
	const maxRange = opts.maxRangeMs ?? 31 * 86_400_000;
	if (to.getTime() - from.getTime() > maxRange) throw new ParamError("from", `range too large: at most ${maxRange / 86_400_000} days per request; page with cursor`);
	const limit = intParam(p, "limit", Math.min(1000, opts.maxRows), 1, opts.maxRows);
	const c = str(p, "cursor");
	return { venue, symbol, from, to, limit, cursor: c === undefined ? null : decodeCursor(c) };
}

export function encodeCursor(time: string, id: string): string {
	return Buffer.from(JSON.stringify([time, id])).toString("base64url");
}

export function decodeCursor(c: string): { time: string; id: string } {
	try {
		const v = JSON.parse(Buffer.from(c, "base64url").toString("utf8"));
		if (Array.isArray(v) && v.length === 2 && typeof v[0] === "string" && !Number.isNaN(Date.parse(v[0])) && /^\d{1,19}$/.test(v[1])) return { time: v[0], id: v[1] };
	} catch {
		/* fall through */
	}
	throw new ParamError("cursor", "cursor is not one this API returned");
}
