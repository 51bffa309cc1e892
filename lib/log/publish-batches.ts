/**
 * The publish side shared by the pipelined log drivers (JetStream, Pulsar WebSocket): one batch per
 * publish() call settles when every message of it was acknowledged, fails on the first refusal, and
 * fails when no acknowledgement came for `timeoutMs` (a stall watchdog, running only while batches are
 * open). flush() waits for every open batch.
 */
export interface PubBatch {
	remaining: number;
	settled: boolean;
	lastProgress: number;
	resolve(): void;
	reject(e: Error): void;
}

export class PublishBatches {
	private readonly open = new Map<PubBatch, Promise<void>>();
	private watchdog: NodeJS.Timeout | null = null;

	/** `onStall` must settle the batch (usually through fail), after forgetting its messages. */
	constructor(
		private readonly timeoutMs: number,
		private readonly onStall: (batch: PubBatch) => void,
	) {}

	/** A batch of `messages`; `done` resolves when all were acked, rejects on the first failure. */
	start(messages: number): { batch: PubBatch; done: Promise<void> } {
		let batch!: PubBatch;
		const done = new Promise<void>((resolve, reject) => {
			batch = { remaining: messages, settled: false, lastProgress: Date.now(), resolve, reject };
		});
		this.open.set(batch, done.catch(() => undefined));
		this.startWatchdog();
		return { batch, done };
	}

	/** One message of the batch was acknowledged. */
	acked(batch: PubBatch): void {
		if (batch.settled) return;
		batch.lastProgress = Date.now();
		if (--batch.remaining === 0) this.settle(batch);
	}

	settle(batch: PubBatch, error?: Error): void {
		if (batch.settled) return;
		batch.settled = true;
		this.open.delete(batch);
		if (error) batch.reject(error);
		else batch.resolve();
	}

	/** Wait until every open batch has settled (either way). */
	async flush(): Promise<void> {
		await Promise.all(this.open.values());
	}

	stop(): void {
		if (this.watchdog) clearInterval(this.watchdog);
		this.watchdog = null;
	}

	private startWatchdog(): void {
		if (this.watchdog) return;
		this.watchdog = setInterval(
			() => {
				const now = Date.now();
				for (const b of [...this.open.keys()]) if (now - b.lastProgress > this.timeoutMs) this.onStall(b);
				if (!this.open.size) this.stop();
			},
			Math.min(1_000, this.timeoutMs),
		);
		this.watchdog.unref();
	}
}
