import http from "node:http";
import https from "node:https";
import { marketOpen } from "../../backfill/market-hours";
import { Reconnector, Watchdog } from "../../feed/reconnect";
import { parseRetryAfter, redactUrl } from "../../net/http";

/**
 * The OANDA pricing stream connection: the only impure part of the venue adapter. One chunked HTTP GET
 * `/v3/accounts/{id}/pricing/stream?instruments=...` with the API key as a Bearer token; every chunk goes to the
 * session with its receive time. Silence (no price, no heartbeat) past `watchdogMs`, a dropped connection, a 5xx
 * or a 429 reconnect with jittered exponential backoff (lib/feed/reconnect); 401/403 stop for good. While the FX
 * market is closed a failed or dropped connection is retried once per `closedProbeMs` (or when the market opens,
 * whichever is sooner) instead of backing off: no reconnect storm over a weekend.
 * The API key goes into the Authorization header only: never into a URL, a log line or an error.
 */

export interface OandaClientOptions {
	streamUrl: string;
	accountId: string;
	apiKey: string;
	watchdogMs: number;
	backoffBaseMs: number;
	backoffMaxMs: number;
	/** Delay between probes while the market is closed. */
	closedProbeMs: number;
	connectTimeoutMs?: number;
	random?: () => number;
	now?: () => number;
	/** Milliseconds until the market opens, 0 while open; default the FX week (msUntilFxOpen). */
	untilOpen?: (nowMs: number) => number;
}

export interface CloseInfo {
	reason: string;
	/** Receive time of the last data of the connection that ended (ms); the open time when none came. */
	lastDataMs: number;
	watchdog: boolean;
	retryInMs: number;
	/** The market is closed: an expected quiet, not an outage. */
	marketClosed: boolean;
}

export interface ConnectFailure {
	reason: string;
	status: number | null;
	retryInMs: number;
	marketClosed: boolean;
}

export interface OandaClientHandlers {
	onConnecting(instruments: string[]): void;
	onOpen(): void;
	onData(chunk: Buffer, recvMs: number): void;
	onClose(info: CloseInfo): void;
	onConnectFailed(info: ConnectFailure): void;
	/** 401/403: the key or account is refused; the client stopped and will not retry. */
	onAuthFailed(info: { status: number; reason: string }): void;
}

export interface ClientLogger {
	info(...a: unknown[]): void;
	warn(...a: unknown[]): void;
}

const HOUR_MS = 3_600_000;

/** Milliseconds until the FX market opens (0 when open), looking at most 3 days ahead. */
export function msUntilFxOpen(nowMs: number): number {
	const hour = Math.floor(nowMs / HOUR_MS) * HOUR_MS;
	if (marketOpen("fx", hour)) return 0;
	for (let h = hour + HOUR_MS; h < nowMs + 72 * HOUR_MS; h += HOUR_MS) if (marketOpen("fx", h)) return h - nowMs;
	return 72 * HOUR_MS;
}

export class OandaStreamClient {
	private req: http.ClientRequest | null = null;
	private instruments: string[] = [];
	private stopping = false;
	private authFailed = false;
	private openNow = false;
	private lastDataMs: number | null = null;
	private readonly retry: Reconnector;
	private readonly watchdog: Watchdog;
	private readonly now: () => number;
	private closedBy: string | null = null;
	readonly stats = { connects: 0, disconnects: 0, watchdogCloses: 0, connectFailures: 0, probes: 0, bytes: 0 };

	constructor(
		private readonly opts: OandaClientOptions,
		private readonly handlers: OandaClientHandlers,
		private readonly logger: ClientLogger,
	) {
		this.now = opts.now ?? Date.now;
		this.retry = new Reconnector(opts);
		this.watchdog = new Watchdog(opts.watchdogMs, (silent) => this.drop(`watchdog: no data for ${silent} ms`), this.now);
	}

	get connected(): boolean {
		return this.openNow;
	}

	get lastDataAt(): number | null {
		return this.lastDataMs;
	}

	/** The URL of the stream (no secret in it). */
	get url(): string {
		const base = this.opts.streamUrl.replace(/\/+$/, "");
		return `${base}/v3/accounts/${encodeURIComponent(this.opts.accountId)}/pricing/stream?instruments=${this.instruments.map(encodeURIComponent).join("%2C")}`;
	}

	private untilOpen(): number {
		return (this.opts.untilOpen ?? msUntilFxOpen)(this.now());
	}

	marketClosed(): boolean {
		return this.untilOpen() > 0;
	}

	start(instruments: string[]): void {
		this.stopping = false;
		this.instruments = [...instruments];
		this.watchdog.start();
		this.connect();
	}

	/** Re-open the stream with another instrument list (OANDA streams a fixed list per connection). */
	reopen(instruments: string[]): void {
		this.instruments = [...instruments];
		if (this.authFailed || this.stopping) return;
		if (this.req) this.drop("instrument list changed", true);
		else if (!this.retry.scheduled) this.connect();
		else {
			this.retry.cancel();
			this.connect();
		}
	}

	async stop(): Promise<void> {
		this.stopping = true;
		this.watchdog.stop();
		this.retry.cancel();
		const req = this.req;
		this.req = null;
		this.openNow = false;
		if (req && !req.destroyed) {
			await new Promise<void>((resolve) => {
				req.once("close", () => resolve());
				req.destroy();
			});
		}
	}

	/** End the current connection; it reconnects (at once when `immediate`, else after the backoff). */
	private drop(reason: string, immediate = false): void {
		if (!this.req) return;
		if (reason.startsWith("watchdog")) this.stats.watchdogCloses++;
		this.closedBy = immediate ? `reopen: ${reason}` : reason;
		this.req.destroy();
	}

	private connect(): void {
		if (this.stopping || this.authFailed) return;
		if (!this.instruments.length) {
			this.logger.warn("OANDA: no instruments to stream; waiting for a symbol list");
			return;
		}
		const closed = this.marketClosed();
		if (closed) this.stats.probes++;
		this.handlers.onConnecting(this.instruments);
		const url = new URL(this.url);
		const lib = url.protocol === "https:" ? https : http;
		const req = lib.request(url, {
			method: "GET",
			headers: { Authorization: `Bearer ${this.opts.apiKey}`, "Accept-Datetime-Format": "RFC3339", Accept: "application/json" },
			timeout: this.opts.connectTimeoutMs ?? 10_000,
		});
		this.req = req;
		this.closedBy = null;
		let opened = false;
		let finished = false;
		let openedMs = 0;
		let lastOfThis: number | null = null;
		let failure: { reason: string; status: number | null; retryAfterMs: number | null } | null = null;
		const finish = () => {
			if (finished) return;
			finished = true;
			if (this.req === req) this.req = null;
			this.openNow = false;
			this.watchdog.disarm();
			if (this.stopping || this.authFailed) return;
			if (this.closedBy?.startsWith("reopen:")) {
				// A new instrument list, not an outage: straight back, whatever state the old connection was in.
				if (opened) this.stats.disconnects++;
				this.logger.info(`OANDA stream re-opened (${this.closedBy})`);
				this.retry.schedule(0, () => this.connect());
				return;
			}
			const closedNow = this.marketClosed();
			const retryInMs = closedNow ? Math.max(50, Math.min(this.opts.closedProbeMs, this.untilOpen() || this.opts.closedProbeMs)) : this.retry.nextDelay(failure?.retryAfterMs ?? 0);
			if (opened) {
				this.stats.disconnects++;
				const reason = this.closedBy ?? failure?.reason ?? "stream ended by the server";
				this.handlers.onClose({ reason, lastDataMs: lastOfThis ?? openedMs, watchdog: reason.startsWith("watchdog"), retryInMs, marketClosed: closedNow });
				this.logger.warn(`OANDA stream closed (${reason}); reconnecting in ${retryInMs} ms`);
			} else {
				this.stats.connectFailures++;
				const reason = failure?.reason ?? this.closedBy ?? "connection failed";
				this.handlers.onConnectFailed({ reason, status: failure?.status ?? null, retryInMs, marketClosed: closedNow });
				this.logger.warn(`OANDA stream could not connect (${reason}); ${closedNow ? `market closed, next probe in ${retryInMs} ms` : `retrying in ${retryInMs} ms`}`);
			}
			this.retry.schedule(retryInMs, () => this.connect());
		};
		req.on("timeout", () => {
			if (!opened) {
				failure = { reason: `no response within ${this.opts.connectTimeoutMs ?? 10_000} ms`, status: null, retryAfterMs: null };
				req.destroy();
			}
		});
		req.on("error", (err) => {
			if (!opened && !failure) failure = { reason: this.redact(err.message), status: null, retryAfterMs: null };
		});
		req.on("close", finish);
		req.on("response", (res) => {
			const status = res.statusCode ?? 0;
			if (status !== 200) {
				const chunks: Buffer[] = [];
				res.on("data", (c: Buffer) => {
					if (chunks.length < 16) chunks.push(c);
				});
				res.on("end", () => {
					const reason = `HTTP ${status}${this.errorMessage(Buffer.concat(chunks))}`;
					if (status === 401 || status === 403) {
						this.authFailed = true;
						this.stats.connectFailures++;
						this.logger.warn(`OANDA refused the API key or account (${reason}): the stream is stopped; fix OANDA_API_KEY / OANDA_ACCOUNT_ID and restart`);
						this.handlers.onAuthFailed({ status, reason });
					}
					failure = { reason, status, retryAfterMs: parseRetryAfter(res.headers["retry-after"] ? String(res.headers["retry-after"]) : null) };
					req.destroy();
				});
				return;
			}
			opened = true;
			this.openNow = true;
			openedMs = this.now();
			this.stats.connects++;
			this.watchdog.touch(openedMs);
			this.handlers.onOpen();
			res.on("data", (chunk: Buffer) => {
				const t = this.now();
				this.lastDataMs = t;
				lastOfThis = t;
				this.stats.bytes += chunk.length;
				this.watchdog.touch(t);
				this.retry.reset();
				this.handlers.onData(chunk, t);
			});
			res.on("end", () => req.destroy());
			res.on("error", () => req.destroy());
		});
		req.end();
	}

	/** OANDA's `errorMessage`, never more than 200 characters, with the key removed should a server echo it. */
	private errorMessage(body: Buffer): string {
		let msg = "";
		try {
			const j = JSON.parse(body.toString("utf8")) as { errorMessage?: unknown };
			if (typeof j.errorMessage === "string") msg = j.errorMessage;
		} catch {
			msg = body.toString("utf8");
		}
		msg = this.redact(msg.replace(/\s+/g, " ").trim().slice(0, 200));
		return msg ? `: ${msg}` : "";
	}

	private redact(s: string): string {
		const key = this.opts.apiKey;
		return redactUrl(key ? s.split(key).join("***") : s);
	}
}
