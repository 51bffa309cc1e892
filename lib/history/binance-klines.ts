import { isDecimalString } from "../domain/decimal";

/**
 * Binance spot klines (GET /api/v3/klines): the wire row, its exact parse, and the interval grid.
 * A row is `[openTime, open, high, low, close, volume, closeTime, quoteVolume, trades, takerBase, takerQuote, ignore]`
 * with times as epoch-ms numbers, counts as numbers and every price or volume as a decimal string, which is kept
 * verbatim: no float ever touches a price.
 */
export type BinanceKlineRow = [number, string, string, string, string, string, number, string, number, string, string, string?];

export interface Kline {
	openTime: number; // epoch ms, the kline's identity
	closeTime: number; // epoch ms, openTime + interval - 1
	open: string;
	high: string;
	low: string;
	close: string;
	volume: string;
	quoteVolume: string;
	trades: number;
	takerBaseVolume: string;
	takerQuoteVolume: string;
}

export class KlineParseError extends Error {
	constructor(
		readonly index: number,
		message: string,
	) {
		super(message);
		this.name = "KlineParseError";
	}
}

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/**
 * The intervals whose open times form a fixed grid, so "which klines are missing" is exact arithmetic.
 * Binance aligns them to the UTC epoch, except weeks, which start on Monday (the epoch was a Thursday).
 * 3d and 1M are left out: 3d has no documented anchor and months are not a fixed length.
 */
export const KLINE_INTERVALS: Record<string, { ms: number; offsetMs: number }> = {
	"1s": { ms: 1000, offsetMs: 0 },
	"1m": { ms: MIN, offsetMs: 0 },
	"3m": { ms: 3 * MIN, offsetMs: 0 },
	"5m": { ms: 5 * MIN, offsetMs: 0 },
	"15m": { ms: 15 * MIN, offsetMs: 0 },
	"30m": { ms: 30 * MIN, offsetMs: 0 },
	"1h": { ms: HOUR, offsetMs: 0 },
	"2h": { ms: 2 * HOUR, offsetMs: 0 },
	"4h": { ms: 4 * HOUR, offsetMs: 0 },
	"6h": { ms: 6 * HOUR, offsetMs: 0 },
	"8h": { ms: 8 * HOUR, offsetMs: 0 },
	"12h": { ms: 12 * HOUR, offsetMs: 0 },
	"1d": { ms: DAY, offsetMs: 0 },
	"1w": { ms: 7 * DAY, offsetMs: 4 * DAY }, // 1970-01-05 was the first Monday
};

export function isKlineInterval(s: unknown): s is string {
	return typeof s === "string" && Object.prototype.hasOwnProperty.call(KLINE_INTERVALS, s);
}

/** The interval's grid: length and the open time of the first kline at or after `ms`. */
export function intervalGrid(interval: string): { ms: number; offsetMs: number; ceil(t: number): number } {
	const g = KLINE_INTERVALS[interval];
	if (!g) throw new RangeError(`interval ${JSON.stringify(interval)} is not one of ${Object.keys(KLINE_INTERVALS).join(", ")}`);
	return { ...g, ceil: (t: number) => Math.ceil((t - g.offsetMs) / g.ms) * g.ms + g.offsetMs };
}

export const EPOCH_MS_MIN = 631152000000; // 1990: a time in seconds would be far below
export const EPOCH_MS_MAX = 4102444800000; // 2100

function ms(v: unknown, what: string, i: number): number {
	if (typeof v !== "number" || !Number.isSafeInteger(v) || v < EPOCH_MS_MIN || v > EPOCH_MS_MAX) {
		throw new KlineParseError(i, `kline ${i}: ${what} ${JSON.stringify(v)} is not epoch milliseconds`);
	}
	return v;
}

function dec(v: unknown, what: string, i: number): string {
	if (!isDecimalString(v) || v.startsWith("-")) throw new KlineParseError(i, `kline ${i}: ${what} ${JSON.stringify(v)} is not a non-negative decimal string`);
	return v;
}

/**
 * Parse one /api/v3/klines response. Every row is checked (times in ms and on the interval's grid, decimal
 * strings, closeTime = openTime + interval - 1, ascending open times); the first bad row throws with its index,
 * since a page that does not look like Binance's is a protocol problem, not data to half-keep.
 */
export function parseKlines(body: unknown, interval: string): Kline[] {
	const grid = intervalGrid(interval);
	if (!Array.isArray(body)) throw new KlineParseError(-1, `klines response is not an array: ${JSON.stringify(body).slice(0, 200)}`);
	const out: Kline[] = [];
	let prev = -Infinity;
	for (let i = 0; i < body.length; i++) {
		const r = body[i];
		if (!Array.isArray(r) || r.length < 11) throw new KlineParseError(i, `kline ${i}: expected an array of 12 fields, got ${JSON.stringify(r).slice(0, 200)}`);
		const openTime = ms(r[0], "openTime", i);
		const closeTime = ms(r[6], "closeTime", i);
		if ((openTime - grid.offsetMs) % grid.ms !== 0) throw new KlineParseError(i, `kline ${i}: openTime ${openTime} is not on the ${interval} grid`);
		if (closeTime !== openTime + grid.ms - 1) throw new KlineParseError(i, `kline ${i}: closeTime ${closeTime} is not openTime + ${interval} - 1 ms`);
		if (openTime <= prev) throw new KlineParseError(i, `kline ${i}: openTime ${openTime} does not follow ${prev}`);
		prev = openTime;
		const trades = r[8];
		if (typeof trades !== "number" || !Number.isSafeInteger(trades) || trades < 0) throw new KlineParseError(i, `kline ${i}: trades ${JSON.stringify(trades)} is not a count`);
		out.push({
			openTime,
			closeTime,
			open: dec(r[1], "open", i),
			high: dec(r[2], "high", i),
			low: dec(r[3], "low", i),
			close: dec(r[4], "close", i),
			volume: dec(r[5], "volume", i),
			quoteVolume: dec(r[7], "quoteVolume", i),
			trades,
			takerBaseVolume: dec(r[9], "takerBaseVolume", i),
			takerQuoteVolume: dec(r[10], "takerQuoteVolume", i),
		});
	}
	return out;
}

/** Kline back to Binance's wire row (the fake venue and the benchmark speak the real shape). */
export function klineRow(k: Kline): BinanceKlineRow {
	return [k.openTime, k.open, k.high, k.low, k.close, k.volume, k.closeTime, k.quoteVolume, k.trades, k.takerBaseVolume, k.takerQuoteVolume, "0"];
}
