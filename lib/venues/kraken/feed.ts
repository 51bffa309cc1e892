import WebSocket from "ws";
import { Reconnector, Watchdog } from "../../feed/reconnect";

/**
 * The Kraken WebSocket connection: the only impure part of the venue adapter. It connects, hands
 * every frame (with its receive time) to the session, pings, watches for silence, and reconnects
 * with jittered exponential backoff (lib/feed/reconnect). What to subscribe and what a frame means is the
 * session's job.
 */

export interface FeedOptions {
	url: string;
	/** No frame at all (not even a heartbeat) for this long: the socket is declared dead and replaced. */
	watchdogMs: number;
	/** Application-level `{"method":"ping"}` interval; 0 disables. */
	pingIntervalMs: number;
	backoffBaseMs: number;
	backoffMaxMs: number;
	/** Handshake timeout; default 10 s. */
	connectTimeoutMs?: number;
	random?: () => number;
}

export interface CloseInfo {
	reason: string;
	code: number | null;
	/** Receive time of the last frame of the connection that closed (ms), null if none came. */
	lastFrameMs: number | null;
	/** Whether the watchdog closed it. */
	watchdog: boolean;
	/** Delay before the next connection attempt. */
	retryInMs: number;
}

export interface FeedHandlers {
	onOpen(): void;
	onFrame(text: string, recvMs: number): void;
	onClose(info: CloseInfo): void;
	/** A connection attempt failed (never opened); `retryInMs` until the next one. */
	onConnectFailed?(info: { reason: string; retryInMs: number }): void;
	/** An attempt is starting. */
	onConnecting?(): void;
}

export interface FeedLogger {
	info(...a: unknown[]): void;
	warn(...a: unknown[]): void;
}

export class KrakenFeed {
	private ws: WebSocket | null = null;
	private stopping = false;
	private lastFrameMs: number | null = null;
	private openedMs = 0;
	private readonly retry: Reconnector;
	private readonly watchdog: Watchdog;
	private pingTimer: NodeJS.Timeout | null = null;
	private reqId = 1_000_000;
	private closedBy: string | null = null;
	readonly stats = { connects: 0, disconnects: 0, watchdogCloses: 0, pingsSent: 0, connectFailures: 0 };

	constructor(
		private readonly opts: FeedOptions,
		private readonly handlers: FeedHandlers,
		private readonly logger: FeedLogger,
	) {
		this.retry = new Reconnector(opts);
		this.watchdog = new Watchdog(opts.watchdogMs, (silent) => {
			if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
			this.stats.watchdogCloses++;
			this.reconnect(`watchdog: no frame for ${silent} ms`);
		});
	}

	get connected(): boolean {
		return this.ws?.readyState === WebSocket.OPEN;
	}

	/** Receive time of the newest frame (ms), across connections. */
	get lastFrameAt(): number | null {
		return this.lastFrameMs;
	}

	start(): void {
		this.stopping = false;
		this.connect();
		this.watchdog.start();
	}

	async stop(): Promise<void> {
		this.stopping = true;
		this.watchdog.stop();
		if (this.pingTimer) clearInterval(this.pingTimer);
		this.pingTimer = null;
		this.retry.cancel();
		const ws = this.ws;
		this.ws = null;
		if (ws && ws.readyState !== WebSocket.CLOSED) {
			await new Promise<void>((resolve) => {
				ws.once("close", () => resolve());
				ws.terminate();
			});
		}
	}

	/** Send a request; false when there is no open socket (the session resubscribes on the next open). */
	send(msg: object): boolean {
		if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
		this.ws.send(JSON.stringify(msg));
		return true;
	}

	nextReqId(): number {
		return ++this.reqId;
	}

	/** Drop the current connection and reconnect (after the backoff). */
	reconnect(reason: string): void {
		if (!this.ws) return;
		this.closedBy = reason;
		this.ws.terminate();
	}

	private connect(): void {
		if (this.stopping) return;
		this.handlers.onConnecting?.();
		const ws = new WebSocket(this.opts.url, { handshakeTimeout: this.opts.connectTimeoutMs ?? 10_000, perMessageDeflate: false });
		this.ws = ws;
		this.closedBy = null;
		let opened = false;
		let done = false;
		let lastOfThis: number | null = null;
		ws.on("open", () => {
			opened = true;
			this.openedMs = Date.now();
			this.lastFrameMs = this.openedMs;
			this.watchdog.touch(this.openedMs); // the watchdog counts from the open
			this.stats.connects++;
			if (this.opts.pingIntervalMs > 0) {
				if (this.pingTimer) clearInterval(this.pingTimer);
				this.pingTimer = setInterval(() => {
					if (this.send({ method: "ping", req_id: this.nextReqId() })) this.stats.pingsSent++;
				}, this.opts.pingIntervalMs);
			}
			this.handlers.onOpen();
		});
		ws.on("message", (data: WebSocket.RawData, isBinary: boolean) => {
			const now = Date.now();
			this.lastFrameMs = now;
			lastOfThis = now;
			this.watchdog.touch(now);
			this.retry.reset(); // a frame arrived: the connection works
			const text = isBinary ? Buffer.from(data as Buffer).toString("utf8") : data.toString();
			this.handlers.onFrame(text, now);
		});
		ws.on("error", (err) => {
			if (!opened) this.stats.connectFailures++;
			this.logger.warn(`Kraken socket error: ${err.message}`);
		});
		ws.on("close", (code: number, reasonBuf: Buffer) => {
			if (done) return;
			done = true;
			if (this.pingTimer) clearInterval(this.pingTimer);
			this.pingTimer = null;
			if (this.ws === ws) this.ws = null;
			this.watchdog.disarm();
			if (this.stopping) return;
			const retryInMs = this.retry.nextDelay();
			const reason = this.closedBy ?? (reasonBuf.length ? reasonBuf.toString() : opened ? `closed by peer (code ${code})` : `connect failed (code ${code})`);
			if (opened) {
				this.stats.disconnects++;
				this.handlers.onClose({ reason, code, lastFrameMs: lastOfThis ?? this.openedMs, watchdog: this.closedBy?.startsWith("watchdog") ?? false, retryInMs });
			} else this.handlers.onConnectFailed?.({ reason, retryInMs });
			this.logger.warn(`Kraken socket ${opened ? "closed" : "could not connect"} (${reason}); reconnecting in ${retryInMs} ms`);
			this.retry.schedule(retryInMs, () => this.connect());
		});
	}
}
