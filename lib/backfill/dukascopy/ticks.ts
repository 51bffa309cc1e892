import { isoUtc } from "../../domain/time";
import type { QuoteItem } from "../../domain/types";
import { HOUR_MS } from "../hours";
import type { DukascopyInstrument } from "./instruments";

export { HOUR_MS };

interface HourColumns {
	instrument: string; // datafeed id, "EURUSD"
	hourStartMs: number;
	count: number;
	/** ms since the hour start */
	offsets: Uint32Array;
	ask: Uint32Array;
	bid: Uint32Array;
}

/**
 * One hour of Dukascopy ticks, as columns. Prices stay the feed's integers (price * decimalFactor) until
 * they are rendered as decimal strings (quoteItems). Volumes stay as the source sends them: the .bi5
 * files' float32 millions of the base currency (rounded to whole units, half to even), or the JSON API's
 * base units as exact decimal strings (its JSON number text, never narrowed to a float32). Both are
 * rendered as base units.
 */
export type DecodedHour = HourColumns &
	({ volumeUnit: "millions"; askVolume: Float32Array; bidVolume: Float32Array } | { volumeUnit: "units"; askVolume: string[]; bidVolume: string[] });

/** A file or response that cannot be decoded, with the hour it belongs to. Not worth retrying. */
export class CorruptHourError extends Error {
	constructor(
		readonly instrument: string,
		readonly hourStartMs: number,
		readonly detail: string,
		options?: { cause?: unknown },
	) {
		super(`${instrument} ${new Date(hourStartMs).toISOString().slice(0, 13)}:00Z: ${detail}`, options);
		this.name = "CorruptHourError";
	}
}

/** An hour from the .bi5 datafeed (float32 volumes in millions) and one from the JSON API (decimal volumes in units). */
export type Bi5Hour = Extract<DecodedHour, { volumeUnit: "millions" }>;
export type JsonHour = Extract<DecodedHour, { volumeUnit: "units" }>;

export function emptyHour(instrument: string, hourStartMs: number, volumeUnit: "millions", count?: number): Bi5Hour;
export function emptyHour(instrument: string, hourStartMs: number, volumeUnit: "units", count?: number): JsonHour;
export function emptyHour(instrument: string, hourStartMs: number, volumeUnit: DecodedHour["volumeUnit"], count = 0): DecodedHour {
	const cols = { instrument, hourStartMs, count, offsets: new Uint32Array(count), ask: new Uint32Array(count), bid: new Uint32Array(count) };
	return volumeUnit === "millions"
		? { ...cols, volumeUnit, askVolume: new Float32Array(count), bidVolume: new Float32Array(count) }
		: { ...cols, volumeUnit, askVolume: new Array<string>(count).fill("0"), bidVolume: new Array<string>(count).fill("0") };
}

/** Reject what cannot be a tick of this hour: an offset outside the hour, offsets going back, a volume that is not a finite non-negative number. */
export function checkHour(h: DecodedHour): void {
	let prev = 0;
	for (let i = 0; i < h.count; i++) {
		const o = h.offsets[i];
		if (o >= HOUR_MS) throw new CorruptHourError(h.instrument, h.hourStartMs, `tick ${i} is ${o} ms after the hour start (outside the hour)`);
		if (o < prev) throw new CorruptHourError(h.instrument, h.hourStartMs, `tick ${i} goes back in time (${o} ms after ${prev} ms)`);
		prev = o;
		if (h.volumeUnit !== "millions") continue; // decimal strings are checked as they are decoded
		const av = h.askVolume[i];
		const bv = h.bidVolume[i];
		if (!(av >= 0 && av < Infinity) || !(bv >= 0 && bv < Infinity)) throw new CorruptHourError(h.instrument, h.hourStartMs, `tick ${i} has an invalid volume (${av}, ${bv})`);
	}
}

/** An integer price in units of 10^-decimals as an exact decimal string with exactly `decimals` digits: (114545, 5) -> "1.14545". */
export function scaledPrice(n: number, decimals: number): string {
	if (decimals === 0) return String(n);
	const s = String(n).padStart(decimals + 1, "0");
	return `${s.slice(0, s.length - decimals)}.${s.slice(s.length - decimals)}`;
}

/**
 * A float32 volume as the shortest decimal that reads back as the same float32: 1.48 (stored as
 * 1.48000001907...) becomes "1.48", as the JSON API spells it, so both sources give the same string.
 * Plain notation, never an exponent.
 */
export function float32Decimal(v: number): string {
	if (v === 0) return "0";
	let s = "";
	for (let p = 1; p <= 9; p++) {
		s = v.toPrecision(p);
		if (Math.fround(Number(s)) === v) break;
	}
	return plainDecimal(s);
}

/** A plain non-negative decimal string times 10^6, exactly: "0.000001" -> "1", "2.06" -> "2060000". */
export function timesMillion(s: string): string {
	const dot = s.indexOf(".");
	const int = dot < 0 ? s : s.slice(0, dot);
	const frac = (dot < 0 ? "" : s.slice(dot + 1)).padEnd(6, "0");
	const whole = (int + frac.slice(0, 6)).replace(/^0+(?=\d)/, "");
	const rest = frac.slice(6).replace(/0+$/, "");
	return rest ? `${whole}.${rest}` : whole;
}

/** "1.2e-7" -> "0.00000012", "1.5e+21" -> "1500000000000000000000", trailing fraction zeros dropped. */
export function plainDecimal(s: string): string {
	const e = s.search(/e/i);
	let mant = e < 0 ? s : s.slice(0, e);
	const exp = e < 0 ? 0 : Number(s.slice(e + 1));
	const neg = mant.startsWith("-");
	if (neg) mant = mant.slice(1);
	const dot = mant.indexOf(".");
	let digits = dot < 0 ? mant : mant.slice(0, dot) + mant.slice(dot + 1);
	let point = (dot < 0 ? mant.length : dot) + exp;
	if (point <= 0) {
		digits = "0".repeat(1 - point) + digits;
		point = 1;
	} else if (point > digits.length) digits += "0".repeat(point - digits.length);
	let int = digits.slice(0, point).replace(/^0+(?=\d)/, "");
	let frac = digits.slice(point).replace(/0+$/, "");
	if (int === "") int = "0";
	return (neg ? "-" : "") + int + (frac ? "." + frac : "");
}

/**
 * Renders each distinct value once: prices and volumes repeat a lot, within an hour and from one hour to
 * the next. The cache starts over once it holds `cap` values, so memory stays bounded over a long backfill.
 */
export function memo(fn: (v: number) => string, cap = 1 << 16): (v: number) => string {
	const cache = new Map<number, string>();
	return (v) => {
		let s = cache.get(v);
		if (s === undefined) {
			s = fn(v);
			if (cache.size >= cap) cache.clear();
			cache.set(v, s);
		}
		return s;
	};
}

/** Price renderers by decimals, and the .bi5 volume renderer, shared by every hour (pure functions of their value). */
const priceRenderers = new Map<number, (n: number) => string>();
const millionsRenderer = memo((v) => timesMillion(float32Decimal(v)));

function priceRenderer(decimals: number): (n: number) => string {
	let r = priceRenderers.get(decimals);
	if (!r) priceRenderers.set(decimals, (r = memo((n) => scaledPrice(n, decimals))));
	return r;
}

/**
 * How one hour's ticks render as exact text, shared by the quote items and the wire encoder: prices at the
 * instrument's decimals, sizes in units (a .bi5 hour's float32 millions made exact and scaled), each memoised
 * (ticks repeat their prices, see memo).
 */
export function hourRenderers(h: DecodedHour, decimals: number): { price: (n: number) => string; bidQty: (i: number) => string; askQty: (i: number) => string } {
	const price = priceRenderer(decimals);
	let askQty: (i: number) => string;
	let bidQty: (i: number) => string;
	if (h.volumeUnit === "millions") {
		const [a, b] = [h.askVolume, h.bidVolume];
		askQty = (i) => millionsRenderer(a[i]);
		bidQty = (i) => millionsRenderer(b[i]);
	} else {
		const [a, b] = [h.askVolume, h.bidVolume];
		askQty = (i) => a[i];
		bidQty = (i) => b[i];
	}
	return { price, bidQty, askQty };
}

/**
 * The hour's ticks as quote items. seq is the tick's index within its hour: unique per (time, seq),
 * and the same whenever the same hour is fetched again, from either source, so a re-run is a no-op.
 * Volumes are base units (see DecodedHour): .bi5 as the shortest decimal of their float32 value times
 * 10^6, JSON API as the decimal the API sent.
 */
export function quoteItems(h: DecodedHour, inst: DukascopyInstrument, recvTime: string): QuoteItem[] {
	const out: QuoteItem[] = new Array(h.count);
	const { price, bidQty, askQty } = hourRenderers(h, inst.decimals);
	for (let i = 0; i < h.count; i++) {
		out[i] = {
			time: isoUtc(h.hourStartMs + h.offsets[i]),
			seq: String(i),
			bid: price(h.bid[i]),
			ask: price(h.ask[i]),
			bidQty: bidQty(i),
			askQty: askQty(i),
			recvTime,
		};
	}
	return out;
}
