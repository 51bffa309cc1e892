import { backoffMs } from "../net/http";

/**
 * The reconnect policy of every live feed: exponential backoff with full jitter between attempts (reset once
 * a connection delivers data), and a watchdog that declares a connection dead after a stretch of silence.
 */

export interface BackoffOptions {
	backoffBaseMs: number;
	backoffMaxMs: number;
	random?: () => number;
}

export class Reconnector {
	private attempt = 0;
	private timer: NodeJS.Timeout | null = null;

	constructor(private readonly opts: BackoffOptions) {}

	/** The delay before the next attempt (at least `floorMs`, e.g. a Retry-After), counting this attempt. */
	nextDelay(floorMs = 0): number {
		const d = Math.max(50, floorMs, backoffMs(this.attempt, this.opts.backoffBaseMs, this.opts.backoffMaxMs, this.opts.random));
		this.attempt++;
		return d;
	}

	/** Data arrived: the connection works, the next failure starts from the base delay again. */
	reset(): void {
		this.attempt = 0;
	}

	get attempts(): number {
		return this.attempt;
	}

	/** Run `fn` after `delayMs`, replacing any attempt already scheduled. */
	schedule(delayMs: number, fn: () => void): void {
		this.cancel();
		this.timer = setTimeout(() => {
			this.timer = null;
			fn();
		}, delayMs);
	}

	get scheduled(): boolean {
		return this.timer !== null;
	}

	cancel(): void {
		if (this.timer) clearTimeout(this.timer);
		this.timer = null;
	}
}

/** Calls `onSilent(silentMs)` when `touch` was not called for longer than `timeoutMs` while armed. */
export class Watchdog {
	private last: number | null = null;
	private timer: NodeJS.Timeout | null = null;

	constructor(
		private readonly timeoutMs: number,
		private readonly onSilent: (silentMs: number) => void,
		private readonly now: () => number = Date.now,
	) {}

	start(): void {
		const tick = Math.max(20, Math.min(1000, Math.floor(this.timeoutMs / 4)));
		this.timer = setInterval(() => this.check(), tick);
	}

	stop(): void {
		if (this.timer) clearInterval(this.timer);
		this.timer = null;
		this.last = null;
	}

	/** Count from now (a connection opened, a frame or a heartbeat arrived). */
	touch(ms = this.now()): void {
		this.last = ms;
	}

	/** Stop watching until the next touch (no connection open). */
	disarm(): void {
		this.last = null;
	}

	private check(): void {
		if (this.last === null) return;
		const silent = this.now() - this.last;
		if (silent > this.timeoutMs) {
			this.last = null;
			this.onSilent(silent);
		}
	}
}
