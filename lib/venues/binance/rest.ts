import { HttpError, httpGet, RateLimiter, type HttpOptions } from "../../net/http";
import { parseLevels, type BookLevel } from "../../orderbook/types";

/**
 * Binance REST order-book depth for spot (`GET /api/v3/depth`) and USD-M futures (`GET /fapi/v1/depth`),
 * inside the host's request-weight budget:
 *
 *   const rest = new BinanceDepthRest({ baseUrl: "https://api.binance.com", market: "spot", weightShare: 0.5 });
 *   const book = await rest.depth("BTCUSDT", 100);   // {lastUpdateId, time, recvTime, bids, asks}
 *
 * Every request takes its weight from a token bucket of `weightShare` of the host's per-minute limit. The
 * `X-MBX-USED-WEIGHT-1M` header of each answer says how much of the minute the whole IP has used (other
 * services and replicas included): past WEIGHT_HIGH_WATER of the limit the bucket is held until the minute
 * ends. A 429 is retried after its Retry-After (and the bucket held that long); a 418 is an IP ban: no
 * request goes out until its Retry-After has passed, and callers get a BinanceBannedError meanwhile.
 */

export type BinanceMarket = "spot" | "usdm";

/** Request weight per minute per IP (exchangeInfo rateLimits REQUEST_WEIGHT). */
export const BINANCE_WEIGHT_LIMIT_PER_MIN: Record<BinanceMarket, number> = { spot: 6000, usdm: 2400 };

const DEPTH_PATH: Record<BinanceMarket, string> = { spot: "/api/v3/depth", usdm: "/fapi/v1/depth" };

/** Share of the IP's minute after which this client waits for the next minute (room for everyone else). */
export const WEIGHT_HIGH_WATER = 0.9;

/** USD-M serves only these depths. */
const USDM_LIMITS = [5, 10, 20, 50, 100, 500, 1000];

/** The `limit` to ask for so that at least `depth` levels come back (USD-M accepts only fixed sizes). */
export function depthLimit(market: BinanceMarket, depth: number): number {
	if (market === "spot") return Math.min(Math.max(1, depth), 5000);
	return USDM_LIMITS.find((l) => l >= depth) ?? 1000;
}

/** Request weight of one depth call (spot: 5/25/50/250 by limit; USD-M: 2/5/10/20). */
export function depthWeight(market: BinanceMarket, limit: number): number {
	if (market === "spot") return limit <= 100 ? 5 : limit <= 500 ? 25 : limit <= 1000 ? 50 : 250;
	return limit <= 50 ? 2 : limit <= 100 ? 5 : limit <= 500 ? 10 : 20;
}

export interface BinanceDepth {
	lastUpdateId: string;
	/** USD-M's transaction time `T` (ISO); spot depth carries no time: null. */
	time: string | null;
	bids: BookLevel[];
	asks: BookLevel[];
}

export class BinanceDepthError extends Error {
	constructor(message: string) {
		super(message);
		this.name = "BinanceDepthError";
	}
}

/** The IP is banned (HTTP 418) until `until` (epoch ms). */
export class BinanceBannedError extends Error {
	constructor(
		readonly until: number,
		readonly url: string,
	) {
		super(`Binance banned this IP (HTTP 418) until ${new Date(until).toISOString()}: no request to ${url} before then`);
		this.name = "BinanceBannedError";
	}
}

/** A depth answer body: `{lastUpdateId, bids, asks}` (USD-M adds `E` and `T`, ms). */
export function parseBinanceDepth(text: string): BinanceDepth {
	let body: any;
	try {
		body = JSON.parse(text);
	} catch (err) {
		throw new BinanceDepthError(`depth answer is not JSON: ${(err as Error).message}`);
	}
	if (!body || typeof body !== "object") throw new BinanceDepthError("depth answer is not an object");
	if (!Number.isSafeInteger(body.lastUpdateId) || body.lastUpdateId < 0) throw new BinanceDepthError(`lastUpdateId ${JSON.stringify(body.lastUpdateId)} is not a non-negative integer`);
	let time: string | null = null;
	if (body.T !== undefined) {
		if (!Number.isSafeInteger(body.T) || body.T <= 0) throw new BinanceDepthError(`T ${JSON.stringify(body.T)} is not epoch milliseconds`);
		time = new Date(body.T).toISOString();
	}
	try {
		return { lastUpdateId: String(body.lastUpdateId), time, bids: parseLevels(body.bids, "bids"), asks: parseLevels(body.asks, "asks") };
	} catch (err) {
		throw new BinanceDepthError((err as Error).message);
	}
}

export interface BinanceDepthRestOptions {
	baseUrl: string;
	market: BinanceMarket;
	/** Fraction of the host's weight limit per minute this client may use. */
	weightShare: number;
	/** The weight bucket; default one of weightShare of the limit. Shared by every client of the host in a process. */
	weightLimiter?: RateLimiter;
	http?: Omit<HttpOptions, "limiter" | "cost">;
	now?: () => number;
}

/** The weight bucket of one Binance host: `share` of its per-minute limit per second, a burst of ten seconds of it (at least one heaviest depth call). */
export function binanceWeightRate(market: BinanceMarket, share: number): { perSec: number; burst: number } {
	const perSec = (BINANCE_WEIGHT_LIMIT_PER_MIN[market] * share) / 60;
	return { perSec, burst: Math.max(250, perSec * 10) };
}

export function binanceWeightLimiter(market: BinanceMarket, share: number): RateLimiter {
	const r = binanceWeightRate(market, share);
	return new RateLimiter(r.perSec, r.burst);
}

export class BinanceDepthRest {
	readonly limiter: RateLimiter;
	/** Epoch ms until which the IP is banned (418); 0 when not. */
	bannedUntil = 0;
	/** The last X-MBX-USED-WEIGHT-1M seen, for stats. */
	usedWeight: number | null = null;
	private readonly now: () => number;

	constructor(private readonly opts: BinanceDepthRestOptions) {
		this.limiter = opts.weightLimiter ?? binanceWeightLimiter(opts.market, opts.weightShare);
		this.now = opts.now ?? Date.now;
	}

	get market(): BinanceMarket {
		return this.opts.market;
	}

	/** One depth call; `signal` (besides the client's own) abandons it, waits for weight and retries included. */
	async depth(symbol: string, depth: number, signal?: AbortSignal): Promise<BinanceDepth & { recvTime: string }> {
		const url = new URL(DEPTH_PATH[this.opts.market], this.opts.baseUrl);
		const limit = depthLimit(this.opts.market, depth);
		url.searchParams.set("symbol", symbol);
		url.searchParams.set("limit", String(limit));
		if (this.now() < this.bannedUntil) throw new BinanceBannedError(this.bannedUntil, url.pathname);
		let res;
		try {
			const own = this.opts.http?.signal;
			const both = signal && own ? AbortSignal.any([signal, own]) : (signal ?? own);
			res = await httpGet(url.toString(), { retries: 3, ...this.opts.http, signal: both, limiter: this.limiter, cost: depthWeight(this.opts.market, limit) });
		} catch (err) {
			if (err instanceof HttpError && err.status === 418) {
				// A ban grows if we keep asking: nothing goes to this host before it ends (a minute when unsaid).
				this.bannedUntil = this.now() + (err.retryAfterMs ?? 60_000);
				throw new BinanceBannedError(this.bannedUntil, url.pathname);
			}
			throw err;
		}
		const recvTime = new Date(this.now()).toISOString();
		this.noteUsedWeight(res.headers.get("x-mbx-used-weight-1m"));
		return { ...parseBinanceDepth(res.body.toString("utf8")), recvTime };
	}

	/** Near the IP's limit for this minute: hold every request of this host until the minute is over. */
	private noteUsedWeight(header: string | null): void {
		if (header === null || !/^\d+$/.test(header)) return;
		const used = Number(header);
		this.usedWeight = used;
		if (used >= BINANCE_WEIGHT_LIMIT_PER_MIN[this.opts.market] * WEIGHT_HIGH_WATER) this.limiter.penalize(60_000 - (this.now() % 60_000));
	}
}
