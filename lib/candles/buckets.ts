/**
 * Candle bucket math (UTC; 1m..1d aligned to the Unix epoch, 1w to Monday 1970-01-05, like date_bin with that origin) and the
 * cascade plan: which windows each level has to rebuild when some 1m buckets changed. Pure: no I/O.
 */
import { TIMEFRAMES, TIMEFRAME_MS, TIMEFRAME_ORIGIN_MS, type Timeframe } from "../domain/timeframes";
import type { PriceType } from "../domain/types";

export type DirtySource = "trades" | "quotes";

/** The candle price types one source feeds. */
export const SOURCE_PRICE_TYPES: Record<DirtySource, readonly PriceType[]> = {
	trades: ["trade"],
	quotes: ["bid", "ask", "mid"],
};

export function sourceOfPriceType(p: PriceType): DirtySource {
	return p === "trade" ? "trades" : "quotes";
}

/** The level each timeframe is built from (null for 1m, which is built from ticks). */
export const CHILD_TIMEFRAME: Record<Timeframe, Timeframe | null> = {
	"1m": null,
	"5m": "1m",
	"15m": "5m",
	"1h": "15m",
	"4h": "1h",
	"12h": "4h",
	"1d": "12h",
	"1w": "1d",
};

function toMs(t: number | Date | string): number {
	const ms = typeof t === "number" ? t : typeof t === "string" ? Date.parse(t) : t.getTime();
	if (!Number.isFinite(ms)) throw new RangeError(`not a time: ${String(t)}`);
	return ms;
}

/** Start of the bucket containing t. */
export function floorBucket(t: number | Date | string, tf: Timeframe): number {
	const size = TIMEFRAME_MS[tf];
	const origin = TIMEFRAME_ORIGIN_MS[tf];
	return Math.floor((toMs(t) - origin) / size) * size + origin;
}

/** Start of the first bucket that starts at or after t. */
export function ceilBucket(t: number | Date | string, tf: Timeframe): number {
	const size = TIMEFRAME_MS[tf];
	const origin = TIMEFRAME_ORIGIN_MS[tf];
	return Math.ceil((toMs(t) - origin) / size) * size + origin;
}

/** Start of the bucket after the one containing t. */
export function nextBucket(t: number | Date | string, tf: Timeframe): number {
	return floorBucket(t, tf) + TIMEFRAME_MS[tf];
}

/** Start of the `parent` bucket that contains the bucket starting at `childStart` (every child bucket lies in one parent: a week is seven whole days). */
export function parentBucket(childStart: number | Date | string, parent: Timeframe): number {
	return floorBucket(childStart, parent);
}

/** Starts of the buckets whose start lies in [from, to), oldest first. */
export function bucketsInRange(from: number | Date | string, to: number | Date | string, tf: Timeframe): number[] {
	const size = TIMEFRAME_MS[tf];
	const end = toMs(to);
	const out: number[] = [];
	for (let b = ceilBucket(from, tf); b < end; b += size) out.push(b);
	return out;
}

/** How many buckets start in [from, to), without listing them. */
export function countBucketsInRange(from: number | Date | string, to: number | Date | string, tf: Timeframe): number {
	const first = ceilBucket(from, tf);
	const end = toMs(to);
	return end <= first ? 0 : Math.ceil((end - first) / TIMEFRAME_MS[tf]);
}

/** One candle window: a bucket of one price type of one instrument. `bucket` is the start in ms. */
export interface CandleWindow {
	venue: string;
	symbol: string;
	priceType: PriceType;
	bucket: number;
}

export interface DirtyMinute {
	venue: string;
	symbol: string;
	source: DirtySource;
	bucket: number | Date | string;
}

const SEP = "\u0000";

/** The distinct `parent` windows containing the given windows, sorted by venue, symbol, price type, bucket. */
export function parentWindows(children: Iterable<CandleWindow>, parent: Timeframe): CandleWindow[] {
	const seen = new Map<string, CandleWindow>();
	for (const c of children) {
		const bucket = parentBucket(c.bucket, parent);
		const k = c.venue + SEP + c.symbol + SEP + c.priceType + SEP + bucket;
		if (!seen.has(k)) seen.set(k, { venue: c.venue, symbol: c.symbol, priceType: c.priceType, bucket });
	}
	return sortWindows([...seen.values()]);
}

export function sortWindows(ws: CandleWindow[]): CandleWindow[] {
	return ws.sort((a, b) =>
		a.venue < b.venue ? -1 : a.venue > b.venue ? 1 : a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : a.priceType < b.priceType ? -1 : a.priceType > b.priceType ? 1 : a.bucket - b.bucket,
	);
}

/** The 1m windows (one per price type of the source) of some dirty minutes, deduplicated and sorted. */
export function minuteWindows(dirty: Iterable<DirtyMinute>): CandleWindow[] {
	const seen = new Map<string, CandleWindow>();
	for (const d of dirty) {
		const bucket = floorBucket(d.bucket, "1m");
		for (const priceType of SOURCE_PRICE_TYPES[d.source]) {
			const k = d.venue + SEP + d.symbol + SEP + priceType + SEP + bucket;
			if (!seen.has(k)) seen.set(k, { venue: d.venue, symbol: d.symbol, priceType, bucket });
		}
	}
	return sortWindows([...seen.values()]);
}

/**
 * The cascade plan: for dirty 1m buckets, the windows every level must rebuild, each level's windows being the
 * parents of the level below. This is the upper bound; the cascade itself narrows each level to the parents of
 * the child candles that actually changed.
 */
export function cascadePlan(dirty: Iterable<DirtyMinute>): Record<Timeframe, CandleWindow[]> {
	const plan = {} as Record<Timeframe, CandleWindow[]>;
	let below: CandleWindow[] = minuteWindows(dirty);
	for (const tf of TIMEFRAMES) {
		plan[tf] = tf === "1m" ? below : parentWindows(below, tf);
		below = plan[tf];
	}
	return plan;
}

/** Columnar form of windows, for passing to SQL as unnest() arrays. */
export function windowColumns(ws: readonly CandleWindow[]): { venue: string[]; symbol: string[]; priceType: string[]; bucket: string[] } {
	const venue: string[] = [];
	const symbol: string[] = [];
	const priceType: string[] = [];
	const bucket: string[] = [];
	for (const w of ws) {
		venue.push(w.venue);
		symbol.push(w.symbol);
		priceType.push(w.priceType);
		bucket.push(new Date(w.bucket).toISOString());
	}
	return { venue, symbol, priceType, bucket };
}

export interface WindowSummary {
	venue: string;
	symbol: string;
	timeframe: Timeframe;
	priceTypes: PriceType[];
	/** Start of the earliest changed bucket, ISO-8601 UTC. */
	from: string;
	/** End (exclusive) of the latest changed bucket, ISO-8601 UTC. */
	to: string;
}

/** Compact summary of changed windows: one entry per venue, symbol and level, spanning earliest to latest bucket. */
export function summarizeWindows(tf: Timeframe, ws: Iterable<CandleWindow>): WindowSummary[] {
	const acc = new Map<string, { venue: string; symbol: string; types: Set<PriceType>; min: number; max: number }>();
	for (const w of ws) {
		const k = w.venue + SEP + w.symbol;
		const a = acc.get(k);
		if (!a) acc.set(k, { venue: w.venue, symbol: w.symbol, types: new Set([w.priceType]), min: w.bucket, max: w.bucket });
		else {
			a.types.add(w.priceType);
			if (w.bucket < a.min) a.min = w.bucket;
			if (w.bucket > a.max) a.max = w.bucket;
		}
	}
	return [...acc.values()].map((a) => ({
		venue: a.venue,
		symbol: a.symbol,
		timeframe: tf,
		priceTypes: [...a.types].sort(),
		from: new Date(a.min).toISOString(),
		to: new Date(a.max + TIMEFRAME_MS[tf]).toISOString(),
	}));
}
