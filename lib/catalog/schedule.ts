import type { Logger } from "../store/pool";

/**
 * Runs a chore per key (a venue's catalog sync) at start and then every `intervalMs`; a failed run is
 * retried after `retryBaseMs`, doubling up to `retryMaxMs`. Quiet by design: the first failure of a
 * streak is one info line, the repeats are debug, and recovery is one info line (no internet must not
 * flood the log).
 */
export class RetryingSchedule {
	private readonly timers = new Map<string, NodeJS.Timeout>();
	private readonly failures = new Map<string, number>();
	private readonly running = new Map<string, Promise<void>>();
	private stopped = false;

	constructor(
		private readonly o: {
			intervalMs: number;
			retryBaseMs: number;
			retryMaxMs: number;
			/** Resolves true when the run succeeded, false (or throws) when it should be retried. */
			run: (key: string) => Promise<boolean>;
			logger?: Logger;
			what: string;
		},
	) {}

	start(keys: readonly string[]): void {
		for (const k of keys) this.schedule(k, 0);
	}

	/** When the next run of `key` failed this many times in a row. */
	failureStreak(key: string): number {
		return this.failures.get(key) ?? 0;
	}

	private schedule(key: string, delayMs: number): void {
		if (this.stopped) return;
		clearTimeout(this.timers.get(key));
		const t = setTimeout(() => void this.fire(key), delayMs);
		t.unref?.();
		this.timers.set(key, t);
	}

	private async fire(key: string): Promise<void> {
		if (this.running.has(key)) return;
		const p = (async () => {
			let ok = false;
			let why = "";
			try {
				ok = await this.o.run(key);
			} catch (err) {
				why = (err as Error).message;
			}
			const n = this.failures.get(key) ?? 0;
			if (ok) {
				if (n > 0) this.o.logger?.info(`${this.o.what} ${key}: succeeded again after ${n} failed attempt(s)`);
				this.failures.delete(key);
				this.schedule(key, this.o.intervalMs);
			} else {
				const delay = Math.min(this.o.retryMaxMs, this.o.retryBaseMs * 2 ** Math.min(n, 30));
				const line = `${this.o.what} ${key} failed${why ? `: ${why}` : ""}; retrying in ${Math.round(delay / 1000)} s`;
				if (n === 0) this.o.logger?.info(line);
				else this.o.logger?.debug?.(line);
				this.failures.set(key, n + 1);
				this.schedule(key, delay);
			}
		})();
		this.running.set(key, p);
		try {
			await p;
		} finally {
			this.running.delete(key);
		}
	}

	async stop(): Promise<void> {
		this.stopped = true;
		for (const t of this.timers.values()) clearTimeout(t);
		this.timers.clear();
		await Promise.allSettled([...this.running.values()]);
	}
}
