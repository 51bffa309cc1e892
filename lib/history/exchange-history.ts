import type { Pool } from "pg";
import type { Config } from "../config";
import type { MarketLog } from "../log/types";
import { RateLimiter } from "../net/http";
import type { Logger } from "../store/pool";
import { krakenRestFromConfig, type KrakenRest } from "../venues/kraken/rest";
import { backfillKlines, BinanceRest, resolveBinanceSymbol, type KlinesProgress, type KlinesResult } from "./binance-history";
import { HistoryError } from "./errors";
import { backfillKrakenTrades, resolveKrakenSymbol, type KrakenTradesProgress, type KrakenTradesResult } from "./kraken-trades";
import { activeCryptoSymbols } from "./symbols";

export interface ExchangeHistoryDeps {
	pool: Pool;
	log: () => Promise<MarketLog>;
	binance: BinanceRest;
	kraken: KrakenRest;
	/** Kraken history stops this far behind the present, where the live stream delivers (KRAKEN_HISTORY_LIVE_MARGIN_MS). */
	krakenLiveMarginMs?: number;
	logger?: Logger;
}

export interface RunningHistory {
	key: string;
	startedAt: string;
	progress: KlinesProgress | KrakenTradesProgress | null;
}

export interface CatalogResult {
	from: string;
	to: string;
	interval: string;
	klines: KlinesResult[];
	krakenTrades: KrakenTradesResult[];
	failed: Array<{ venue: string; symbol: string; error: string }>;
	skipped: Array<{ venue: string; symbol: string; reason: string }>; // catalog venues without an exchange history source
}

/**
 * Exchange history for one process: Binance klines and Kraken trades, one run per symbol at a time (a second
 * request for a symbol already being fetched is refused rather than doubling the venue traffic), with the
 * progress of what runs (REPL: `call exchange-history.status`).
 */
export class ExchangeHistory {
	private readonly running = new Map<string, RunningHistory>();
	private readonly jobs = new Set<Promise<unknown>>();
	private stopping = false;

	constructor(private readonly d: ExchangeHistoryDeps) {}

	/**
	 * Refuse new runs and wait for those running to end. The caller aborts the REST clients' signal first, so a run
	 * ends at its next venue call instead of paging on against a pool that is about to close.
	 */
	async stop(): Promise<void> {
		this.stopping = true;
		while (this.jobs.size) await Promise.allSettled([...this.jobs]);
	}

	status(): RunningHistory[] {
		return [...this.running.values()];
	}

	private async exclusive<T>(key: string, fn: (track: (p: RunningHistory["progress"]) => void) => Promise<T>): Promise<T> {
		if (this.running.has(key)) throw new HistoryError("BUSY", `${key} is already being fetched; wait for it to finish (exchange-history.status)`);
		const entry: RunningHistory = { key, startedAt: new Date().toISOString(), progress: null };
		this.running.set(key, entry);
		try {
			return await fn((p) => (entry.progress = p));
		} finally {
			this.running.delete(key);
		}
	}

	/** Every public run goes through here: stop() waits for what it tracks, and none starts once stopping. */
	private tracked<T>(fn: () => Promise<T>): Promise<T> {
		if (this.stopping) return Promise.reject(new HistoryError("BUSY", "exchange-history is stopping"));
		const job = fn().finally(() => this.jobs.delete(job));
		this.jobs.add(job);
		return job;
	}

	klines(p: { symbol: string; interval: string; from: number; to: number; onProgress?: (p: KlinesProgress) => void }): Promise<KlinesResult> {
		return this.tracked(() => this.runKlines(p));
	}

	krakenTrades(p: { pair: string; from: number; to: number; full?: boolean; onProgress?: (p: KrakenTradesProgress) => void }): Promise<KrakenTradesResult> {
		return this.tracked(() => this.runKrakenTrades(p));
	}

	catalog(p: { from: number; to: number; interval: string }): Promise<CatalogResult> {
		return this.tracked(() => this.runCatalog(p));
	}

	private async runKlines(p: { symbol: string; interval: string; from: number; to: number; onProgress?: (p: KlinesProgress) => void }): Promise<KlinesResult> {
		const symbol = await resolveBinanceSymbol(this.d.pool, this.d.binance, p.symbol);
		return this.exclusive(`binance ${symbol.symbol} ${p.interval}`, async (track) => {
			const r = await backfillKlines(this.d.pool, this.d.binance, {
				symbol,
				interval: p.interval,
				from: p.from,
				to: p.to,
				onProgress: (x) => {
					track(x);
					p.onProgress?.(x);
				},
			});
			this.d.logger?.info(`exchange-history: binance ${r.symbol} ${r.interval} ${r.from}..${r.to}: ${r.pages} pages, ${r.inserted} inserted, ${r.skippedRanges} stored ranges skipped`);
			return r;
		});
	}

	private async runKrakenTrades(p: { pair: string; from: number; to: number; full?: boolean; onProgress?: (p: KrakenTradesProgress) => void }): Promise<KrakenTradesResult> {
		const symbol = await resolveKrakenSymbol(this.d.pool, this.d.kraken, p.pair);
		const log = await this.d.log();
		return this.exclusive(`kraken ${symbol.symbol} trades`, async (track) => {
			const r = await backfillKrakenTrades(this.d.pool, this.d.kraken, log, {
				symbol,
				from: p.from,
				to: p.to,
				full: p.full,
				liveMarginMs: this.d.krakenLiveMarginMs,
				onProgress: (x) => {
					track(x);
					p.onProgress?.(x);
				},
			});
			this.d.logger?.info(`exchange-history: kraken ${r.symbol} trades ${r.from}..${r.to}: ${r.pages} pages, ${r.published} published, ${r.alreadyStored} already stored, ${r.holesFilled}/${r.holesFound} id holes filled`);
			if (r.rejectedCount) this.d.logger?.warn(`exchange-history: kraken ${r.symbol}: ${r.rejectedCount} trade rows refused, e.g. ${r.rejected[0]}`);
			return r;
		});
	}

	/**
	 * Every active crypto symbol of the catalog: Binance symbols get klines of `interval`, Kraken symbols trades.
	 * One symbol failing does not stop the others, except a Binance ban (418), which stops all Binance requests.
	 */
	private async runCatalog(p: { from: number; to: number; interval: string }): Promise<CatalogResult> {
		const out: CatalogResult = { from: new Date(p.from).toISOString(), to: new Date(p.to).toISOString(), interval: p.interval, klines: [], krakenTrades: [], failed: [], skipped: [] };
		let binanceBanned: string | null = null;
		for (const s of await activeCryptoSymbols(this.d.pool)) {
			if (this.stopping) {
				out.failed.push({ venue: s.venue, symbol: s.symbol, error: "not tried: exchange-history stopped" });
				continue;
			}
			try {
				if (s.venue === "binance") {
					if (binanceBanned) out.failed.push({ venue: s.venue, symbol: s.symbol, error: `not tried: ${binanceBanned}` });
					else out.klines.push(await this.runKlines({ symbol: s.symbol, interval: p.interval, from: p.from, to: p.to }));
				} else if (s.venue === "kraken") {
					out.krakenTrades.push(await this.runKrakenTrades({ pair: s.symbol, from: p.from, to: p.to }));
				} else {
					out.skipped.push({ venue: s.venue, symbol: s.symbol, reason: `no exchange history source for venue ${s.venue}` });
				}
			} catch (err) {
				const msg = (err as Error).message;
				if (err instanceof HistoryError && err.code === "BANNED" && s.venue === "binance") binanceBanned = msg;
				this.d.logger?.warn(`exchange-history: ${s.venue} ${s.symbol} failed: ${msg}`);
				out.failed.push({ venue: s.venue, symbol: s.symbol, error: msg });
			}
		}
		return out;
	}
}

export interface ExchangeHistoryClients {
	/** The process's limiter of a venue host (Runtime.limiter), so other services calling the same host share it. */
	limiter?: (host: string, ratePerSec: number, burst: number) => RateLimiter;
	/** Aborts every venue call in flight (and the backoff sleeps between retries). */
	signal?: AbortSignal;
}

/** The venue clients from the configuration: one rate limiter per venue host for the whole process. */
export function exchangeHistoryFromConfig(c: Config, pool: Pool, log: () => Promise<MarketLog>, logger?: Logger, clients: ExchangeHistoryClients = {}): ExchangeHistory {
	const limiter = clients.limiter ?? ((_host: string, rate: number, burst: number) => new RateLimiter(rate, burst));
	return new ExchangeHistory({
		pool,
		log,
		binance: new BinanceRest({
			baseUrl: c.binanceRestUrl,
			limiter: limiter(new URL(c.binanceRestUrl).host, c.binanceRequestsPerSec, 1),
			signal: clients.signal,
			onRetry: ({ attempt, delayMs, error }) => logger?.warn(`binance: retry ${attempt} in ${delayMs} ms after ${error.message}`),
		}),
		kraken: krakenRestFromConfig(c, limiter, clients.signal, ({ attempt, delayMs, error }) => logger?.warn(`kraken: retry ${attempt} in ${delayMs} ms after ${error}`)),
		krakenLiveMarginMs: c.krakenHistoryLiveMarginMs,
		logger,
	});
}
