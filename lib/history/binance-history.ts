import type { Pool } from "pg";
import { HttpError, httpGet, httpGetJson, notJsonError, type HttpOptions, type HttpResponse, type RateLimiter } from "../net/http";
import { withTransaction } from "../store/pool";
import { intervalGrid, isKlineInterval, KLINE_INTERVALS, KlineParseError, type Kline } from "./binance-klines";
import { HistoryError } from "./errors";
import { klineCount, missingKlineRanges, pageWindows, subtractRanges, type Range } from "./missing";
import { klineRowFormat, recordEmptyRanges, storedCoverage, writeKlines, type KlineKey } from "./klines-store";
import { klinePage, klineRowsCopy, type KlineCopy, type KlinePage, type KlineRowFormat } from "./kline-page";
import { findCatalogSymbol, type HistorySymbol } from "./symbols";

/** Binance serves at most this many klines per request. */
export const KLINES_PAGE_LIMIT = 1000;
/** Pages requested at once: the venue's latency overlaps with parsing and writing (the rate limiter still paces them). */
export const KLINES_IN_FLIGHT = 2;
/**
 * Klines per COPY and commit: thirty pages (a crash loses at most these, re-fetched by the next run). Measured with
 * `npm run bench:klines` (2026-12-07, 2 cores): 10,000 gave 0.67-0.77 of raw COPY, 30,000 0.79-0.93, 50,000
 * 0.77-0.88 (fewer commits and round trips; a bigger first batch is not overlapped with a write).
 */
const WRITE_BATCH_ROWS = 30_000;

export interface BinanceRestOptions {
	baseUrl: string; // https://api.binance.com
	limiter?: RateLimiter;
	retries?: number;
	baseDelayMs?: number;
	maxDelayMs?: number;
	timeoutMs?: number;
	signal?: AbortSignal;
	onRetry?: HttpOptions["onRetry"];
}

/** Binance's own error body: {"code": -1121, "msg": "Invalid symbol."}. */
function binanceError(err: HttpError): { code: number; msg: string } | null {
	try {
		const b = JSON.parse(err.body);
		return typeof b?.code === "number" && typeof b?.msg === "string" ? b : null;
	} catch {
		return null;
	}
}

/** Turn what Binance refused into the error a user can act on; leave the rest alone. */
function classify(err: unknown, what: { symbol: string; interval?: string }): unknown {
	if (!(err instanceof HttpError)) return err;
	if (err.status === 418) {
		const until = err.retryAfterMs != null ? ` for ${Math.ceil(err.retryAfterMs / 1000)} s (Retry-After)` : "";
		return new HistoryError("BANNED", `Binance answered HTTP 418: this IP is banned${until} after too many requests; stopped, try again later`, undefined, { cause: err });
	}
	const b = binanceError(err);
	if (err.status === 400 && b?.code === -1121) return new HistoryError("UNKNOWN_SYMBOL", `Binance does not know symbol ${JSON.stringify(what.symbol)} (${b.msg})`, "symbol", { cause: err });
	if (err.status === 400 && b?.code === -1120) return new HistoryError("BAD_PARAMETER", `Binance refused interval ${JSON.stringify(what.interval)} (${b.msg})`, "interval", { cause: err });
	if (err.status === 429) return new HistoryError("VENUE_ERROR", `Binance kept answering HTTP 429 (rate limited) after every retry: ${err.message}`, undefined, { cause: err });
	return new HistoryError("VENUE_ERROR", `Binance request failed: ${err.message}`, undefined, { cause: err });
}

/** The two Binance public endpoints history needs. */
export class BinanceRest {
	constructor(private readonly opts: BinanceRestOptions) {}

	private http(): HttpOptions {
		const o = this.opts;
		return { limiter: o.limiter, retries: o.retries, baseDelayMs: o.baseDelayMs, maxDelayMs: o.maxDelayMs, timeoutMs: o.timeoutMs, signal: o.signal, onRetry: o.onRetry };
	}

	/**
	 * The same page for the pager: its rows for COPY (starting as `format` says) made while reading the answer, and
	 * Kline objects only on demand (see kline-page.ts). Errors are those of klines().
	 */
	async klinePage(symbol: string, interval: string, startTime: number, endTime: number, limit: number, format: KlineRowFormat): Promise<KlinePage> {
		const q = new URLSearchParams({ symbol, interval, startTime: String(startTime), endTime: String(endTime), limit: String(limit) });
		const url = `${this.opts.baseUrl}/api/v3/klines?${q}`;
		let res: HttpResponse;
		try {
			res = await httpGet(url, this.http());
		} catch (err) {
			throw classify(err, { symbol, interval });
		}
		try {
			return klinePage(res.body, interval, format);
		} catch (err) {
			if (err instanceof KlineParseError) throw new HistoryError("VENUE_ERROR", `Binance klines ${symbol} ${interval} from ${new Date(startTime).toISOString()}: ${err.message}`, undefined, { cause: err });
			if (err instanceof SyntaxError) throw classify(notJsonError(url, res, err), { symbol, interval });
			throw err;
		}
	}

	/** Base and quote asset of a spot symbol (exchangeInfo?symbol=), for a symbol the catalog does not list. */
	async spotSymbol(symbol: string): Promise<{ symbol: string; baseAsset: string; quoteAsset: string; status: string }> {
		let body: any;
		try {
			body = await httpGetJson<any>(`${this.opts.baseUrl}/api/v3/exchangeInfo?${new URLSearchParams({ symbol })}`, this.http());
		} catch (err) {
			throw classify(err, { symbol });
		}
		const s = Array.isArray(body?.symbols) ? body.symbols.find((x: any) => x?.symbol === symbol) : undefined;
		if (!s || typeof s.baseAsset !== "string" || typeof s.quoteAsset !== "string") throw new HistoryError("UNKNOWN_SYMBOL", `Binance exchangeInfo does not list symbol ${JSON.stringify(symbol)}`, "symbol");
		return s;
	}
}

/**
 * The symbol to fetch and the name to store it under: the catalog's entry when it has one (any of its names),
 * otherwise Binance's own exchangeInfo (BTCUSDT -> BTC-USDT-SPOT). An unknown symbol is a HistoryError.
 */
export async function resolveBinanceSymbol(pool: Pool, rest: BinanceRest, name: string): Promise<HistorySymbol> {
	if (!/^[A-Za-z0-9][A-Za-z0-9._\-/]{0,63}$/.test(name)) throw new HistoryError("BAD_PARAMETER", `symbol ${JSON.stringify(name)} is not a valid symbol name`, "symbol");
	const found = await findCatalogSymbol(pool, "binance", name);
	if (found) return found;
	const venueSymbol = name.replace(/[^A-Za-z0-9]/g, "").toUpperCase();
	const s = await rest.spotSymbol(venueSymbol);
	return { venue: "binance", symbol: `${s.baseAsset}-${s.quoteAsset}-SPOT`, venueSymbol: s.symbol, meta: {} };
}

export interface KlinesProgress {
	symbol: string;
	interval: string;
	pages: number;
	inserted: number;
	klinesDone: number; // klines of the missing ranges covered so far (stored or found empty)
	klinesMissing: number; // klines the missing ranges held when the run started
	at: number; // open time reached, epoch ms
}

export interface KlinesResult {
	venue: "binance";
	symbol: string;
	venueSymbol: string;
	interval: string;
	from: string;
	to: string;
	missingRanges: number; // ranges the database did not hold, each paged through the venue
	skippedRanges: number; // ranges already stored (or known empty) that cost no request
	klinesMissing: number;
	pages: number; // venue requests that returned a page
	inserted: number;
	updated: number;
	emptyKlines: number; // klines the venue does not have (downtime, before listing), remembered
	/** Batches whose binary COPY PostgreSQL refused (an encoder fault; they went in by upsert); absent when none. */
	binaryRefused?: number;
}

export interface KlinesJob {
	symbol: HistorySymbol;
	interval: string;
	from: number;
	to: number; // exclusive; klines whose open time is before it
	now?: number;
	/** Requests in flight at once (default KLINES_IN_FLIGHT). */
	inFlight?: number;
	onProgress?: (p: KlinesProgress) => void;
}

/**
 * Fill [from, to) of one symbol and interval: ask the database which klines are missing, then page through
 * exactly those ranges, 1000 klines per request, KLINES_IN_FLIGHT requests at a time. Klines commit together with the ranges they proved empty, so a
 * run stopped anywhere (418, crash) resumes from what is still missing.
 */
export async function backfillKlines(pool: Pool, rest: BinanceRest, job: KlinesJob): Promise<KlinesResult> {
	if (!isKlineInterval(job.interval)) throw new HistoryError("BAD_PARAMETER", `interval ${JSON.stringify(job.interval)} is not one of ${Object.keys(KLINE_INTERVALS).join(", ")}`, "interval");
	if (!(Number.isFinite(job.from) && Number.isFinite(job.to) && job.from < job.to)) {
		throw new HistoryError("BAD_PARAMETER", `from (${new Date(job.from).toISOString()}) must be before to (${new Date(job.to).toISOString()})`, "from");
	}
	const grid = intervalGrid(job.interval);
	const key: KlineKey = { venue: "binance", symbol: job.symbol.symbol, interval: job.interval };
	const now = job.now ?? Date.now();
	const have = await storedCoverage(pool, key, job.from, job.to, grid.ms);
	const missing = missingKlineRanges(job.from, job.to, grid, have.stored, have.empty, now);
	const klinesMissing = missing.reduce((n, r) => n + klineCount(r, grid), 0);
	const res: KlinesResult = {
		venue: "binance",
		symbol: key.symbol,
		venueSymbol: job.symbol.venueSymbol,
		interval: job.interval,
		from: new Date(job.from).toISOString(),
		to: new Date(job.to).toISOString(),
		missingRanges: missing.length,
		skippedRanges: have.stored.length + have.empty.length,
		klinesMissing,
		pages: 0,
		inserted: 0,
		updated: 0,
		emptyKlines: 0,
	};
	let done = 0;
	// Pages are written WRITE_BATCH_ROWS at a time (one COPY and one commit per batch instead of per page) while
	// the next pages are fetched; writes stay in order. A run stopped by an error still commits what it fetched,
	// and anything not committed is simply missing, so the next run fetches it again.
	type Page = { copy: KlineCopy; rows: () => Kline[]; count: number; empty: Range[]; covered: Range };
	let buffer: Page[] = [];
	let buffered = 0;
	let writing: Promise<void> = Promise.resolve();
	const write = async (batch: Page[]) => {
		const empty = batch.flatMap((b) => b.empty);
		const w = await withTransaction(pool, async (c) => {
			const r = await writeKlines(c, key, () => batch.flatMap((b) => b.rows()), batch.map((b) => b.copy), () => (res.binaryRefused = (res.binaryRefused ?? 0) + 1));
			await recordEmptyRanges(c, key, empty);
			return r;
		});
		res.inserted += w.inserted;
		res.updated += w.updated;
		res.emptyKlines += empty.reduce((n, r) => n + klineCount(r, grid), 0);
		for (const b of batch) done += klineCount(b.covered, grid);
		const at = batch[batch.length - 1].covered.to;
		job.onProgress?.({ symbol: key.symbol, interval: job.interval, pages: res.pages, inserted: res.inserted, klinesDone: done, klinesMissing, at });
	};
	const flush = async () => {
		await writing; // one write in flight at a time
		if (!buffer.length) return;
		const batch = buffer;
		buffer = [];
		buffered = 0;
		writing = write(batch);
		writing.catch(() => undefined); // handled at the next flush; not an unhandled rejection meanwhile
	};
	// Each missing range is cut into windows of exactly KLINES_PAGE_LIMIT grid slots, so a window is one full
	// answer at most and what it covers is known before asking: the next windows are requested while earlier
	// ones are still on the wire (KLINES_IN_FLIGHT), and pages are taken in order.
	const windows = pageWindows(missing, grid.ms, KLINES_PAGE_LIMIT);
	const inFlight: Array<Promise<KlinePage>> = [];
	const format = klineRowFormat(key);
	let next = 0;
	const request = () => {
		const w = windows[next++];
		const p = rest.klinePage(job.symbol.venueSymbol, job.interval, w.from, w.to - 1, KLINES_PAGE_LIMIT, format);
		p.catch(() => undefined); // surfaces when its turn comes; not an unhandled rejection meanwhile
		inFlight.push(p);
	};
	try {
		for (let i = 0; i < windows.length; i++) {
			while (next < windows.length && inFlight.length < (job.inFlight ?? KLINES_IN_FLIGHT)) request();
			const page = await inFlight.shift()!;
			res.pages++;
			const covered = windows[i];
			// Defensive: keep only what was asked for (a venue answering outside the window must not widen the run).
			const times = page.openTimes;
			const inside = times.length === 0 || (times[0] >= covered.from && times[times.length - 1] < covered.to);
			const rows = inside ? page.klines : () => page.klines().filter((k) => k.openTime >= covered.from && k.openTime < covered.to);
			const count = inside ? times.length : rows().length;
			const full = count === klineCount(covered, grid); // the usual page: nothing to prove empty
			const have = inside ? times : rows().map((k) => k.openTime);
			const empty = full ? [] : subtractRanges(covered, have.map((t) => ({ from: t, to: t + grid.ms })));
			buffer.push({ copy: inside ? page.copy : klineRowsCopy(format.prefix, rows()), rows, count, empty, covered });
			buffered += count;
			if (buffered >= WRITE_BATCH_ROWS) await flush();
		}
	} catch (err) {
		// Keep what was fetched before the failure; a failing write here must not hide the first error.
		await flush().catch(() => undefined);
		await writing.catch(() => undefined);
		throw err;
	}
	await flush();
	await writing;
	return res;
}
