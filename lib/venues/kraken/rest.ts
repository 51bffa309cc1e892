import { setTimeout as sleep } from "node:timers/promises";
import type { Config } from "../../config";
import { ID_RE } from "../../domain/codec";
import type { TradeItem } from "../../domain/types";
import { parseLevels, type BookLevel } from "../../orderbook/types";
import { backoffMs, httpGet, RateLimiter, type HttpOptions } from "../../net/http";
import type { Precision } from "./parse";
import { parseExact } from "./precision";
import { canonicalSymbol, restPairGuess, wsSymbol, wsSymbolFromWsname } from "./symbols";

/**
 * Kraken REST (public endpoints) for gap repair and history backfill.
 *
 *   const rest = new KrakenRest({ baseUrl: "https://api.kraken.com" });
 *   await rest.loadAssetPairs();                  // optional: exact pair names and precisions
 *   let since = "1690730000000000000";            // ns cursor (or a time: KrakenRest.sinceOf(ms))
 *   const page = await rest.trades("BTC/USD", since);   // up to 1000 trades after `since`
 *   page.trades  // TradeItem[]: exact decimal strings, ISO times, Kraken trade ids
 *   since = page.last                             // cursor of the next page
 *
 * Every call goes through one token bucket (Kraken allows about one public call per second) and
 * backs off on HTTP 429 and on Kraken's "EAPI:Rate limit exceeded" answer (sent with HTTP 200).
 * Numbers are read with parseExact, so prices, sizes and times keep their exact text.
 */

export interface KrakenRestOptions {
	baseUrl: string;
	/** Shared limiter; default 1 call/s with a burst of 3. */
	limiter?: RateLimiter;
	/** Retries of a Kraken-level transient error (rate limit, busy). Default 6. */
	apiRetries?: number;
	baseDelayMs?: number; // default 1000
	maxDelayMs?: number; // default 30,000
	/** Passed to httpGet for HTTP-level retries. */
	http?: Omit<HttpOptions, "limiter">;
	onRetry?: (info: { attempt: number; delayMs: number; error: string }) => void;
}

export interface PairInfo {
	wsSymbol: string; // "BTC/USD"
	symbol: string; // "BTC-USD-SPOT"
	restPair: string; // altname "XBTUSD"
	key: string; // result key "XXBTZUSD"
	precision: Precision;
	status: string;
}

export interface TradesPage {
	pair: string;
	trades: TradeItem[];
	/** Cursor (ns) for the next page. */
	last: string;
	/** Rows that could not be used (no trade id, bad number), with the reason. */
	rejects: string[];
}

/** Kraken error strings by prefix: what is worth another try. */
const TRANSIENT_ERRORS: [prefix: string, rateLimited: boolean][] = [
	["EAPI:Rate limit exceeded", true],
	["EGeneral:Too many requests", true],
	["EService:Unavailable", false],
	["EService:Busy", false],
	["EService:Deadline elapsed", false],
];

export class KrakenApiError extends Error {
	constructor(
		readonly errors: string[],
		readonly url: string,
	) {
		super(`Kraken ${url}: ${errors.join("; ")}`);
		this.name = "KrakenApiError";
	}
}

export class KrakenRest {
	readonly limiter: RateLimiter;
	private pairs = new Map<string, PairInfo>();

	constructor(private readonly opts: KrakenRestOptions) {
		this.limiter = opts.limiter ?? new RateLimiter(1, KRAKEN_REST_BURST);
	}

	/** ns cursor for "trades after this time (ms)". */
	static sinceOf(ms: number): string {
		return (BigInt(Math.max(0, Math.floor(ms))) * 1_000_000n).toString();
	}

	/** REST pair name for a v2 symbol ("BTC/USD" -> "XBTUSD"): from AssetPairs when loaded, else the legacy-code guess. */
	restPair(symbol: string): string {
		const ws = wsSymbol(symbol);
		return this.pairs.get(ws)?.restPair ?? restPairGuess(ws);
	}

	/** v2 symbol for a REST pair name (altname or result key), when AssetPairs is loaded. */
	wsSymbolOfPair(pair: string): string | null {
		for (const p of this.pairs.values()) if (p.restPair === pair || p.key === pair) return p.wsSymbol;
		return null;
	}

	pairInfo(symbol: string): PairInfo | undefined {
		return this.pairs.get(wsSymbol(symbol));
	}

	/** GET /0/public/AssetPairs: every pair with its v2 symbol, REST names and precisions. */
	async loadAssetPairs(): Promise<Map<string, PairInfo>> {
		const result = (await this.call("/0/public/AssetPairs", {})) as Record<string, any>;
		const map = new Map<string, PairInfo>();
		for (const [key, p] of Object.entries(result)) {
			const ws = wsSymbolFromWsname(p?.wsname);
			if (!ws || typeof p.altname !== "string") continue;
			map.set(ws, {
				wsSymbol: ws,
				symbol: canonicalSymbol(ws),
				restPair: p.altname,
				key,
				precision: { price: Number(p.pair_decimals), qty: Number(p.lot_decimals) },
				status: typeof p.status === "string" ? p.status : "online",
			});
		}
		this.pairs = map;
		return map;
	}

	/** GET /0/public/Trades?pair=&since=: one page (up to 1000 trades) after the ns cursor `since`. */
	async trades(symbol: string, since?: string, count?: number): Promise<TradesPage> {
		const pair = this.restPair(symbol);
		const q: Record<string, string> = { pair };
		if (since !== undefined) q.since = since;
		if (count !== undefined) q.count = String(count);
		const result = (await this.call("/0/public/Trades", q)) as Record<string, any>;
		const recvTime = new Date().toISOString();
		const key = Object.keys(result).find((k) => k !== "last");
		const rows: unknown[] = key && Array.isArray(result[key]) ? result[key] : [];
		const page: TradesPage = { pair, trades: [], last: typeof result.last === "string" ? result.last : (since ?? "0"), rejects: [] };
		for (const r of rows) {
			const t = restTrade(r, recvTime);
			if (typeof t === "string") page.rejects.push(t);
			else page.trades.push(t);
		}
		return page;
	}

	/**
	 * GET /0/public/Depth?pair=&count=: the pair's book, best level first, prices and sizes as Kraken wrote them.
	 * Kraken gives each level's last-change time but no time for the book as a whole, so none is returned.
	 */
	async depth(symbol: string, count: number, signal?: AbortSignal): Promise<KrakenDepth> {
		const pair = this.restPair(symbol);
		const result = (await this.call("/0/public/Depth", { pair, count: String(count) }, signal)) as Record<string, unknown>;
		const recvTime = new Date().toISOString();
		return { pair, recvTime, ...parseKrakenDepth(result) };
	}

	/** One public call; `signal` (besides the client's own) abandons it, retries and waits included. */
	private async call(path: string, query: Record<string, string>, callSignal?: AbortSignal): Promise<unknown> {
		const url = new URL(path, this.opts.baseUrl);
		for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
		const retries = this.opts.apiRetries ?? 6;
		const own = this.opts.http?.signal;
		const signal = callSignal && own ? AbortSignal.any([callSignal, own]) : (callSignal ?? own);
		for (let attempt = 0; ; attempt++) {
			const res = await httpGet(url.toString(), { ...this.opts.http, signal, limiter: this.limiter });
			let body: any;
			try {
				body = parseExact(res.body.toString("utf8"));
			} catch (err) {
				throw new KrakenApiError([`response is not JSON: ${(err as Error).message}`], url.pathname);
			}
			const errors: string[] = Array.isArray(body?.error) ? body.error.map(String) : [];
			if (!errors.length) {
				if (body?.result === null || typeof body?.result !== "object") throw new KrakenApiError(["response has no result"], url.pathname);
				return body.result;
			}
			const transient = TRANSIENT_ERRORS.find(([prefix]) => errors.some((e) => e.startsWith(prefix)));
			if (!transient || attempt >= retries) throw new KrakenApiError(errors, url.pathname);
			const delayMs = Math.max(backoffMs(attempt, this.opts.baseDelayMs ?? 1000, this.opts.maxDelayMs ?? 30_000), transient[1] ? (this.opts.baseDelayMs ?? 1000) : 0);
			// Kraken's counter decays over time: hold back every caller of this host, not only this one.
			if (transient[1]) this.limiter.penalize(delayMs);
			this.opts.onRetry?.({ attempt: attempt + 1, delayMs, error: errors.join("; ") });
			await sleep(delayMs, undefined, { signal });
		}
	}
}

export interface KrakenDepth {
	pair: string;
	recvTime: string;
	bids: BookLevel[];
	asks: BookLevel[];
}

/** The `result` of /0/public/Depth (one pair key with `bids` and `asks` of [price, volume, timestamp]) as levels. */
export function parseKrakenDepth(result: Record<string, unknown>): { bids: BookLevel[]; asks: BookLevel[] } {
	const keys = Object.keys(result);
	if (keys.length !== 1) throw new KrakenApiError([`Depth result has ${keys.length} pairs, expected one`], "/0/public/Depth");
	const book = result[keys[0]] as { bids?: unknown; asks?: unknown } | null;
	if (!book || typeof book !== "object") throw new KrakenApiError(["Depth result has no book"], "/0/public/Depth");
	return { bids: parseLevels(book.bids, "bids"), asks: parseLevels(book.asks, "asks") };
}

/** Kraken allows bursts of a few public calls, then about one per second. */
export const KRAKEN_REST_BURST = 3;

/**
 * The Kraken REST client of one service from the configuration (KRAKEN_REST_URL, KRAKEN_REST_RATE_PER_SEC):
 * its limiter comes from `limiter` (Runtime.limiter), so every service of the process shares one per host.
 */
export function krakenRestFromConfig(
	c: Pick<Config, "krakenRestUrl" | "krakenRestRatePerSec">,
	limiter: (host: string, ratePerSec: number, burst: number) => RateLimiter,
	signal?: AbortSignal,
	onRetry?: KrakenRestOptions["onRetry"],
): KrakenRest {
	return new KrakenRest({ baseUrl: c.krakenRestUrl, limiter: limiter(new URL(c.krakenRestUrl).host, c.krakenRestRatePerSec, KRAKEN_REST_BURST), http: { signal }, onRetry });
}

const SECONDS_RE = /^(\d{9,11})(?:\.(\d{1,9}))?$/;
const DEC_RE = /^(0|[1-9]\d*)(\.\d+)?$/;

/** Kraken's "1690730998.343415" seconds as ISO-8601 UTC, digits kept exactly (no float). */
export function isoOfSeconds(s: string): string | null {
	const m = SECONDS_RE.exec(s);
	if (!m) return null;
	const base = new Date(Number(m[1]) * 1000).toISOString().slice(0, 19);
	return m[2] ? `${base}.${m[2]}Z` : `${base}Z`;
}

/** One REST trade row [price, volume, time, side, ordertype, misc, trade_id] as a TradeItem, or the reason it cannot be used. */
export function restTrade(r: unknown, recvTime: string): TradeItem | string {
	if (!Array.isArray(r) || r.length < 7) return `row ${JSON.stringify(r)} is not [price, volume, time, side, ordertype, misc, trade_id]`;
	const [price, qty, time, side, , , id] = r;
	if (typeof price !== "string" || !DEC_RE.test(price)) return `price ${JSON.stringify(price)} is not a decimal`;
	if (typeof qty !== "string" || !DEC_RE.test(qty)) return `volume ${JSON.stringify(qty)} is not a decimal`;
	const iso = typeof time === "string" ? isoOfSeconds(time) : null;
	if (!iso) return `time ${JSON.stringify(time)} is not epoch seconds`;
	if (typeof id !== "string" || !ID_RE.test(id)) return `trade_id ${JSON.stringify(id)} is not a non-negative integer`;
	return { tradeId: id, side: side === "b" ? "buy" : side === "s" ? "sell" : null, price, qty, time: iso, recvTime };
}
