import { httpGet, type HttpOptions, type RateLimiter } from "../../net/http";
import { parseCandles, type OandaCandle } from "./parse";

/**
 * OANDA v20 REST for gap repair: S5 bid/ask candles of an instrument over a span
 * (`/v3/instruments/{instrument}/candles?price=BA&granularity=S5&from=&to=`), paged so that no request asks for
 * more than OANDA's 5000 candles. The API key travels in the Authorization header only.
 */

export interface OandaRestOptions {
	baseUrl: string;
	apiKey: string;
	limiter?: RateLimiter;
	signal?: AbortSignal;
	http?: Omit<HttpOptions, "limiter" | "signal" | "headers">;
}

const S5_MS = 5000;
/** A page spans at most this long (4000 S5 candles, under OANDA's 5000 per request). */
const PAGE_MS = 4000 * S5_MS;

export class OandaRest {
	constructor(private readonly opts: OandaRestOptions) {}

	private get headers(): Record<string, string> {
		return { Authorization: `Bearer ${this.opts.apiKey}`, "Accept-Datetime-Format": "RFC3339", Accept: "application/json" };
	}

	/** S5 bid/ask candles starting in [fromMs, toMs), oldest first. Incomplete candles are kept (a gap just ended). */
	async s5Candles(instrument: string, fromMs: number, toMs: number): Promise<OandaCandle[]> {
		const out: OandaCandle[] = [];
		const base = this.opts.baseUrl.replace(/\/+$/, "");
		for (let from = Math.floor(fromMs / S5_MS) * S5_MS; from < toMs; from += PAGE_MS) {
			const to = Math.min(toMs, from + PAGE_MS);
			const url = `${base}/v3/instruments/${encodeURIComponent(instrument)}/candles?price=BA&granularity=S5&from=${encodeURIComponent(new Date(from).toISOString())}&to=${encodeURIComponent(new Date(to).toISOString())}`;
			const res = await httpGet(url, { ...this.opts.http, limiter: this.opts.limiter, signal: this.opts.signal, headers: this.headers });
			const page = parseCandles(res.body.toString("utf8"));
			for (const c of page.candles) if (c.timeMs >= fromMs - S5_MS && c.timeMs < toMs) out.push(c);
		}
		return out;
	}
}
