import { backoffMs } from "../net/http";

/**
 * Gap repairs of one feed, one at a time (venue REST is rate-limited anyway), each retried with backoff.
 * `run` does one attempt of a job; it throws to be retried. Stopping drops what is queued and waits for the
 * attempt in flight, so nothing is written after stop() resolves.
 */
export interface RepairQueueOptions<J> {
	run(job: J): Promise<void>;
	describe(job: J): string;
	maxAttempts?: number; // default 5
	baseDelayMs?: number; // default 1000
	maxDelayMs?: number; // default 60,000
	logger?: { warn(...a: unknown[]): void };
	onFailed?(job: J, err: Error): void;
}

export class RepairQueue<J> {
	private queue: J[] = [];
	private running: Promise<void> | null = null;
	private stopped = false;
	private wake: (() => void) | null = null;
	readonly stats = { queued: 0, done: 0, failed: 0 };

	constructor(private readonly opts: RepairQueueOptions<J>) {}

	enqueue(job: J): void {
		if (this.stopped) return;
		this.queue.push(job);
		this.stats.queued++;
		if (!this.running) this.running = this.drain().finally(() => (this.running = null));
	}

	async idle(): Promise<void> {
		while (this.running) await this.running;
	}

	async stop(): Promise<void> {
		this.stopped = true;
		this.queue = [];
		this.wake?.();
		await this.idle();
	}

	get pending(): number {
		return this.queue.length + (this.running ? 1 : 0);
	}

	get isStopped(): boolean {
		return this.stopped;
	}

	private async drain(): Promise<void> {
		while (this.queue.length && !this.stopped) {
			const job = this.queue.shift()!;
			const max = this.opts.maxAttempts ?? 5;
			for (let attempt = 0; attempt < max && !this.stopped; attempt++) {
				try {
					await this.opts.run(job);
					this.stats.done++;
					break;
				} catch (err) {
					if (this.stopped) break;
					if (attempt === max - 1) {
						this.stats.failed++;
						this.opts.logger?.warn(`${this.opts.describe(job)} not repaired after ${max} attempts: ${(err as Error).message}`);
						this.opts.onFailed?.(job, err as Error);
						break;
					}
					const delay = Math.max(100, backoffMs(attempt, this.opts.baseDelayMs ?? 1000, this.opts.maxDelayMs ?? 60_000));
					this.opts.logger?.warn(`${this.opts.describe(job)}: repair failed (${(err as Error).message}); retrying in ${delay} ms`);
					await new Promise<void>((r) => {
						const t = setTimeout(r, delay);
						this.wake = () => {
							clearTimeout(t);
							r();
						};
					});
					this.wake = null;
				}
			}
		}
	}
}
