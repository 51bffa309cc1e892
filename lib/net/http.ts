import { takingTurns } from "../coordination/turns";
import { transportGet, type TransportResponse } from "./http-transport";

/**
 * HTTP GET for venue REST APIs and data feeds: a polite client with a shared rate limiter, retries with
 * jittered exponential backoff for what is transient (network errors, timeouts, 5xx, and 429 with its
 * Retry-After honoured), and typed errors for what is not (418 bans and other 4xx).
 */

export class HttpError extends Error {
	constructor(
		message: string,
		readonly status: number, // 0 for network errors and timeouts
		readonly url: string,
		readonly body: string,
		readonly retryAfterMs: number | null,
		options?: { cause?: unknown },
	) {
		super(message, options);
		this.name = "HttpError";
	}

	/**
	 * Worth another try: the venue was busy, rate-limited us (429), or the network failed. A 418 is a ban
	 * (Binance: "IP banned for continuing after 429s"): hammering on would lengthen it, so it is final and
	 * the caller gets the error with its retryAfterMs.
	 */
	get transient(): boolean {
		return this.status === 0 || this.status === 429 || this.status >= 500;
	}
}

/**
 * Token bucket: `ratePerSec` tokens per second, at most `burst` saved up. One limiter per venue host,
 * shared by every caller of that host, keeps the whole process under the venue's limit.
 */
export class RateLimiter {
	private tokens: number;
	private last: number;
	/** Callers are served in arrival order. */
	private readonly queue = takingTurns();

	constructor(
		readonly ratePerSec: number,
		readonly burst = 1,
		private readonly now: () => number = Date.now,
	) {
		if (!(ratePerSec > 0)) throw new RangeError(`ratePerSec must be > 0 (got ${ratePerSec})`);
		if (!(burst >= 1)) throw new RangeError(`burst must be >= 1 (got ${burst})`);
		this.tokens = burst;
		this.last = now();
	}

	/** Resolves when `cost` tokens were taken; callers are served in arrival order. An aborted caller leaves the queue without taking any. */
	take(cost = 1, signal?: AbortSignal): Promise<void> {
		return this.queue(() => this.wait(cost, signal));
	}

	/** Push the next token out by `ms` (the venue told us to slow down). */
	penalize(ms: number): void {
		this.tokens = Math.min(this.tokens, 0) - (ms / 1000) * this.ratePerSec;
	}

	private async wait(cost: number, signal?: AbortSignal): Promise<void> {
		for (;;) {
			if (signal?.aborted) throw signal.reason;
			const t = this.now();
			this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.ratePerSec);
			this.last = t;
			if (this.tokens >= cost) {
				this.tokens -= cost;
				return;
			}
			const ms = Math.ceil(((cost - this.tokens) / this.ratePerSec) * 1000);
			await sleep(ms, signal);
		}
	}
}

/** Full-jitter exponential backoff: uniform in [0, min(max, base * 2^attempt)]. `attempt` starts at 0. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
	const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
	return Math.round(random() * cap);
}

/** Retry-After is either delay-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
	if (value == null || value.trim() === "") return null;
	const v = value.trim();
	if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
	const at = Date.parse(v);
	return Number.isFinite(at) ? Math.max(0, at - now) : null;
}

export interface HttpOptions {
	limiter?: RateLimiter;
	/** Tokens one request takes from the limiter (a venue's request weight); default 1. */
	cost?: number;
	/** Retries after the first attempt for transient failures. Default 4. */
	retries?: number;
	baseDelayMs?: number; // default 500
	maxDelayMs?: number; // default 30,000; a longer Retry-After is still honoured
	timeoutMs?: number; // per attempt, default 20,000
	signal?: AbortSignal;
	/** Statuses returned to the caller instead of thrown (e.g. [404] for "not published yet"). */
	okStatuses?: number[];
	onRetry?: (info: { attempt: number; delayMs: number; error: HttpError }) => void;
	headers?: Record<string, string>;
}

export interface HttpResponse {
	status: number;
	headers: Headers;
	body: Buffer;
}

/** Strip credentials and secret-looking query parameters before a URL goes into an error or a log line. */
export function redactUrl(url: string): string {
	try {
		const u = new URL(url);
		u.username = "";
		u.password = "";
		for (const k of [...u.searchParams.keys()]) if (/token|key|secret|signature|auth/i.test(k)) u.searchParams.set(k, "***");
		return u.toString();
	} catch {
		return url;
	}
}

async function attempt(url: string, opts: HttpOptions): Promise<HttpResponse> {
	const timeout = AbortSignal.timeout(opts.timeoutMs ?? 20_000);
	const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
	let res: TransportResponse;
	try {
		res = await transportGet(url, opts.headers, signal);
	} catch (err) {
		if (opts.signal?.aborted) throw err;
		const what = timeout.aborted ? `timed out after ${opts.timeoutMs ?? 20_000} ms` : `failed: ${(err as Error).message}`;
		throw new HttpError(`GET ${redactUrl(url)} ${what}`, 0, redactUrl(url), "", null, { cause: err });
	}
	const { body } = res;
	if ((res.status >= 200 && res.status < 300) || opts.okStatuses?.includes(res.status)) return { status: res.status, headers: res.headers, body };
	const text = body.toString("utf8", 0, Math.min(body.length, 500));
	throw new HttpError(`GET ${redactUrl(url)} -> HTTP ${res.status}: ${text}`, res.status, redactUrl(url), text, parseRetryAfter(res.headers.get("retry-after")));
}

export async function httpGet(url: string, opts: HttpOptions = {}): Promise<HttpResponse> {
	const retries = opts.retries ?? 4;
	const base = opts.baseDelayMs ?? 500;
	const max = opts.maxDelayMs ?? 30_000;
	for (let i = 0; ; i++) {
		await opts.limiter?.take(opts.cost ?? 1, opts.signal);
		try {
			return await attempt(url, opts);
		} catch (err) {
			if (!(err instanceof HttpError) || !err.transient || i >= retries) throw err;
			const delayMs = Math.max(err.retryAfterMs ?? 0, backoffMs(i, base, max));
			if (err.retryAfterMs != null) opts.limiter?.penalize(err.retryAfterMs);
			opts.onRetry?.({ attempt: i + 1, delayMs, error: err });
			await sleep(delayMs, opts.signal);
		}
	}
}

export async function httpGetJson<T>(url: string, opts: HttpOptions = {}): Promise<T> {
	const res = await httpGet(url, opts);
	try {
		return JSON.parse(res.body.toString("utf8")) as T;
	} catch (err) {
		throw notJsonError(url, res, err as Error);
	}
}

/** The error for an answer that should be JSON and is not (an HTML error page, say): status, URL and the body's start, redacted. */
export function notJsonError(url: string, res: HttpResponse, err: Error): HttpError {
	return new HttpError(`GET ${redactUrl(url)}: response is not JSON (${err.message})`, res.status, redactUrl(url), res.body.toString("utf8", 0, 200), null, { cause: err });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
	return new Promise((resolve, reject) => {
		if (signal?.aborted) return reject(signal.reason);
		const t = setTimeout(() => {
			signal?.removeEventListener("abort", onAbort);
			resolve();
		}, ms);
		const onAbort = () => {
			clearTimeout(t);
			reject(signal!.reason);
		};
		signal?.addEventListener("abort", onAbort, { once: true });
	});
}
