import { isDecimalString } from "../../domain/decimal";
import { parseExact } from "../../domain/exact-json";
import type { QuoteItem } from "../../domain/types";
import type { Candlestick, CandlesResponse, CandlestickData, ClientPrice, PricingHeartbeat } from "./messages";

/**
 * Pure OANDA decoding: stream bytes into lines, lines into prices and heartbeats, prices into domain quotes,
 * candle responses into exact candles. Times never pass through a JS Date: the nanosecond RFC 3339 string is
 * cut to microseconds for the database, and the nanoseconds below the microsecond become the quote's `seq`, so
 * (time, seq) is the exact venue time: a re-delivered or re-streamed price has the same key and its insert is
 * a no-op.
 */

export const VENUE = "oanda";

const INSTRUMENT_RE = /^[A-Z0-9]{2,10}_[A-Z0-9]{2,10}$/;
const RFC3339_RE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/;
const UNIX_RE = /^(\d{1,12})(?:\.(\d{1,9}))?$/;

export function isInstrument(s: unknown): s is string {
	return typeof s === "string" && INSTRUMENT_RE.test(s);
}

/** "EUR_USD" → "EUR-USD-SPOT". */
export function canonicalSymbol(instrument: string): string {
	if (!isInstrument(instrument)) throw new RangeError(`not an OANDA instrument: ${JSON.stringify(instrument)}`);
	return `${instrument.replace("_", "-")}-SPOT`;
}

/** "EUR-USD-SPOT" or "EUR_USD" → "EUR_USD". */
export function instrumentOf(symbol: string): string {
	const s = symbol.trim().toUpperCase();
	if (isInstrument(s)) return s;
	const m = /^([A-Z0-9]{2,10})-([A-Z0-9]{2,10})-SPOT$/.exec(s);
	if (!m) throw new RangeError(`not an OANDA instrument or symbol: ${JSON.stringify(symbol)}`);
	return `${m[1]}_${m[2]}`;
}

export interface NanoTime {
	/** ISO-8601 UTC with microseconds, for the database: "2016-10-27T08:38:43.094548Z". */
	micros: string;
	/** Nanoseconds below the microsecond (0..999). */
	subMicroNs: number;
	/** Milliseconds since the epoch (for ages and latency only, never stored). */
	ms: number;
}

/** Milliseconds of a "YYYY-MM-DDTHH:MM:SS" UTC string, by calendar arithmetic (days from civil). */
function secondsMs(ymdhms: string): number {
	const y = Number(ymdhms.slice(0, 4));
	const mo = Number(ymdhms.slice(5, 7));
	const d = Number(ymdhms.slice(8, 10));
	const h = Number(ymdhms.slice(11, 13));
	const mi = Number(ymdhms.slice(14, 16));
	const s = Number(ymdhms.slice(17, 19));
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return NaN;
	const yy = mo <= 2 ? y - 1 : y;
	const era = Math.floor(yy / 400);
	const yoe = yy - era * 400;
	const doy = Math.floor((153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5) + d - 1;
	const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
	const days = era * 146097 + doe - 719468;
	return ((days * 24 + h) * 60 + mi) * 60_000 + s * 1000;
}

/** An RFC 3339 UTC time with up to nanoseconds; null when it is not one. */
export function parseNanoTime(s: unknown): NanoTime | null {
	if (typeof s !== "string") return null;
	const m = RFC3339_RE.exec(s);
	if (!m) return null;
	const base = secondsMs(m[1]);
	if (!Number.isFinite(base)) return null;
	const frac = (m[2] ?? "").padEnd(9, "0");
	return { micros: `${m[1]}.${frac.slice(0, 6)}Z`, subMicroNs: Number(frac.slice(6)), ms: base + Number(frac.slice(0, 3)) };
}

/** A time as OANDA writes it in either datetime format (RFC 3339, or UNIX seconds "1509126185.000000000"). */
export function parseAnyTime(s: unknown): NanoTime | null {
	if (typeof s !== "string") return null;
	const u = UNIX_RE.exec(s);
	if (!u) return parseNanoTime(s);
	const ms = Number(u[1]) * 1000;
	if (!Number.isSafeInteger(ms)) return null;
	const whole = new Date(ms).toISOString().slice(0, 19); // whole seconds: exact through a Date
	return parseNanoTime(`${whole}.${(u[2] ?? "").padEnd(9, "0")}Z`);
}

export type DecodedLine =
	| { kind: "price"; price: ClientPrice; time: NanoTime }
	| { kind: "heartbeat"; heartbeat: PricingHeartbeat; time: NanoTime }
	| { kind: "rejected"; reason: string };

function bucketsOk(v: unknown): string | null {
	if (!Array.isArray(v)) return "not a list";
	for (const b of v) {
		if (!b || typeof b !== "object") return "a level is not an object";
		const { price, liquidity } = b as Record<string, unknown>;
		if (!isDecimalString(price) || price.startsWith("-")) return `price ${JSON.stringify(price)} is not a positive decimal`;
		if (!isDecimalString(liquidity) || liquidity.startsWith("-")) return `liquidity ${JSON.stringify(liquidity)} is not a decimal`;
	}
	return null;
}

/** One line of the pricing stream. Unknown line types are rejected (counted by the caller), never thrown. */
export function decodeLine(text: string): DecodedLine {
	let msg: unknown;
	try {
		msg = parseExact(text);
	} catch (err) {
		return { kind: "rejected", reason: `not JSON: ${(err as Error).message}` };
	}
	if (!msg || typeof msg !== "object" || Array.isArray(msg)) return { kind: "rejected", reason: "not a JSON object" };
	const o = msg as Record<string, unknown>;
	const time = parseNanoTime(o.time);
	if (o.type === "HEARTBEAT") {
		if (!time) return { kind: "rejected", reason: `HEARTBEAT with a bad time ${JSON.stringify(o.time)}` };
		return { kind: "heartbeat", heartbeat: o as unknown as PricingHeartbeat, time };
	}
	if (o.type !== "PRICE") return { kind: "rejected", reason: `unknown line type ${JSON.stringify(o.type)}` };
	if (!isInstrument(o.instrument)) return { kind: "rejected", reason: `PRICE with a bad instrument ${JSON.stringify(o.instrument)}` };
	if (!time) return { kind: "rejected", reason: `PRICE with a bad time ${JSON.stringify(o.time)}` };
	for (const side of ["bids", "asks"] as const) {
		const bad = bucketsOk(o[side]);
		if (bad) return { kind: "rejected", reason: `PRICE ${side}: ${bad}` };
	}
	if (o.tradeable !== undefined && typeof o.tradeable !== "boolean") return { kind: "rejected", reason: "PRICE tradeable is not a boolean" };
	return { kind: "price", price: o as unknown as ClientPrice, time };
}

/**
 * Whether a price may be traded on. OANDA streams indicative, non-tradeable prices (market closed, instrument
 * halted): they are not stored as quotes (see README), only counted.
 */
export function isTradeable(p: ClientPrice): boolean {
	if (typeof p.tradeable === "boolean") return p.tradeable;
	return p.status === undefined || p.status === "tradeable";
}

/** A PRICE as a domain quote: top of book (first level of each side) with its liquidity; null when a side is empty. */
export function quoteOf(p: ClientPrice, time: NanoTime, recvTime: string): QuoteItem | null {
	const bid = p.bids[0];
	const ask = p.asks[0];
	if (!bid || !ask) return null;
	return { time: time.micros, seq: String(time.subMicroNs), bid: bid.price, ask: ask.price, bidQty: bid.liquidity, askQty: ask.liquidity, recvTime };
}

/**
 * Splits the chunked HTTP body into lines. Chunks are cut anywhere (inside a line, inside a UTF-8 character);
 * lines are decoded only once complete. A line longer than `maxLineBytes` is discarded up to its newline and
 * reported once as an overlong line.
 */
export class LineSplitter {
	private parts: Buffer[] = [];
	private size = 0;
	private overlong = false;

	constructor(private readonly maxLineBytes = 1 << 20) {}

	/** Complete lines in `chunk` (and in what came before it); `onOverlong` for each line too long to keep. */
	push(chunk: Buffer, onOverlong?: (bytes: number) => void): string[] {
		const lines: string[] = [];
		let from = 0;
		for (;;) {
			const nl = chunk.indexOf(10, from);
			if (nl < 0) break;
			const piece = chunk.subarray(from, nl);
			if (this.overlong) {
				onOverlong?.(this.size + piece.length);
				this.overlong = false;
			} else {
				const buf = this.parts.length ? Buffer.concat([...this.parts, piece]) : piece;
				const text = buf.toString("utf8").replace(/\r$/, "");
				if (text.trim()) lines.push(text);
			}
			this.parts = [];
			this.size = 0;
			from = nl + 1;
		}
		const rest = chunk.subarray(from);
		if (rest.length) {
			this.size += rest.length;
			if (this.overlong || this.size > this.maxLineBytes) {
				this.overlong = true;
				this.parts = [];
			} else this.parts.push(Buffer.from(rest));
		}
		return lines;
	}

	/** Bytes of an incomplete line held. */
	get pending(): number {
		return this.size;
	}

	reset(): void {
		this.parts = [];
		this.size = 0;
		this.overlong = false;
	}
}

export interface CandleOhlc {
	open: string;
	high: string;
	low: string;
	close: string;
}

export interface OandaCandle {
	/** Bucket start, ISO with microseconds. */
	time: string;
	timeMs: number;
	bid: CandleOhlc | null;
	ask: CandleOhlc | null;
	mid: CandleOhlc | null;
	volume: string;
	complete: boolean;
}

function ohlc(d: CandlestickData | undefined, where: string): CandleOhlc | null {
	if (d === undefined) return null;
	for (const k of ["o", "h", "l", "c"] as const) if (!isDecimalString(d?.[k])) throw new RangeError(`${where}.${k} = ${JSON.stringify(d?.[k])} is not a decimal`);
	return { open: d.o, high: d.h, low: d.l, close: d.c };
}

/** A candles response (text, read exactly) as exact candles; throws RangeError on a malformed one. */
export function parseCandles(text: string): { instrument: string; granularity: string; candles: OandaCandle[] } {
	const r = parseExact(text) as CandlesResponse;
	if (!r || typeof r !== "object" || !Array.isArray(r.candles)) throw new RangeError("candles response without a candles list");
	return {
		instrument: String(r.instrument),
		granularity: String(r.granularity),
		candles: r.candles.map((c: Candlestick, i) => {
			const t = parseAnyTime(c.time);
			if (!t) throw new RangeError(`candles[${i}].time ${JSON.stringify(c.time)} is not a time`);
			if (!isDecimalString(c.volume)) throw new RangeError(`candles[${i}].volume is not a number`);
			return { time: t.micros, timeMs: t.ms, bid: ohlc(c.bid, `candles[${i}].bid`), ask: ohlc(c.ask, `candles[${i}].ask`), mid: ohlc(c.mid, `candles[${i}].mid`), volume: c.volume, complete: c.complete === true || (c.complete as unknown) === "true" };
		}),
	};
}
