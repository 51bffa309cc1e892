import Decimal from "decimal.js";
import { TIMEFRAME_MS, TIMEFRAMES, type Timeframe } from "../../lib/domain/timeframes";
import type { Candle, TradeItem } from "../../lib/domain/types";

/** Deterministic pseudo-random trades (xorshift), with equal timestamps and many decimal places. */
export function makeTrades(n: number, startMs: number, spanMs: number, seed = 1, firstId = 1): TradeItem[] {
	let x = seed >>> 0 || 1;
	const rnd = () => {
		x ^= x << 13;
		x ^= x >>> 17;
		x ^= x << 5;
		return (x >>> 0) / 4294967296;
	};
	const times = Array.from({ length: n }, () => startMs + Math.floor(rnd() * spanMs)).sort((a, b) => a - b);
	return times.map((t, i) => {
		const price = new Decimal(40000).plus(new Decimal(Math.floor(rnd() * 2_000_000)).div(100)).toFixed(2);
		const qty = new Decimal(Math.floor(rnd() * 1e8) + 1).div(1e8).toFixed(8);
		const time = new Date(t).toISOString();
		return { tradeId: String(firstId + i), side: rnd() < 0.5 ? "buy" : "sell", price, qty, time, recvTime: time };
	});
}

/** Start of the bucket holding t, from the calendar (weeks: back to Monday 00:00 UTC), not from the library's bucket math. */
export function referenceBucketStart(t: number, tf: Timeframe): number {
	if (tf === "1w") {
		const midnight = Math.floor(t / 86_400_000) * 86_400_000;
		return midnight - ((new Date(midnight).getUTCDay() + 6) % 7) * 86_400_000;
	}
	const step = TIMEFRAME_MS[tf];
	return Math.floor(t / step) * step;
}

/**
 * Candles computed in plain TypeScript with decimal.js straight from the trades: the independent
 * reference the pipeline's output is checked against. Order within a bucket: time, then trade id.
 */
export function referenceCandles(trades: readonly TradeItem[], tf: Timeframe): Map<string, Candle> {
	const sorted = [...trades].sort((a, b) => Date.parse(a.time) - Date.parse(b.time) || Number(BigInt(a.tradeId) - BigInt(b.tradeId)));
	const out = new Map<string, { c: Candle; vol: Decimal; hi: Decimal; lo: Decimal }>();
	for (const t of sorted) {
		const key = new Date(referenceBucketStart(Date.parse(t.time), tf)).toISOString();
		const p = new Decimal(t.price);
		const e = out.get(key);
		if (!e) out.set(key, { c: { time: key, open: t.price, high: t.price, low: t.price, close: t.price, volume: "", trades: 1 }, vol: new Decimal(t.qty), hi: p, lo: p });
		else {
			e.c.close = t.price;
			e.c.trades++;
			e.vol = e.vol.plus(t.qty);
			if (p.gt(e.hi)) e.hi = p;
			if (p.lt(e.lo)) e.lo = p;
		}
	}
	const res = new Map<string, Candle>();
	for (const [k, e] of out) res.set(k, { ...e.c, high: e.hi.toString(), low: e.lo.toString(), volume: e.vol.toString() });
	return res;
}

/** Compare as numbers-by-value (decimal strings may differ in trailing zeros: "1.50" vs "1.5"). */
export function normalizeCandle(c: Candle): Candle {
	const n = (s: string) => new Decimal(s).toString();
	return { time: new Date(c.time).toISOString(), open: n(c.open), high: n(c.high), low: n(c.low), close: n(c.close), volume: n(c.volume), trades: Number(c.trades) };
}

export { TIMEFRAMES };
