import { encodeEnvelope, quoteEnvelope, tradeEnvelope } from "../../domain/codec";
import type { QuoteItem, TradeItem } from "../../domain/types";
import type { MarketLog } from "../../log/types";

/**
 * Batches what the session produces into log messages: trades and quotes accumulate per topic and
 * go out as one envelope per flush (every `flushMs`, or at once past `maxItems`); book messages and
 * markers are single payloads that keep their place in the topic's order. A failed publish keeps the
 * payloads and retries them first on the next flush, so nothing is dropped while the log is away.
 */
interface TopicBuf {
	topic: string;
	key: string;
	venue: string;
	symbol: string;
	kind: "trade" | "quote" | null;
	items: (TradeItem | QuoteItem)[];
	payloads: Buffer[];
}

export class BatchPublisher {
	private bufs = new Map<string, TopicBuf>();
	private timer: NodeJS.Timeout | null = null;
	private flushing: Promise<void> | null = null;
	private again = false;
	readonly stats = { messages: 0, items: 0, publishErrors: 0 };

	constructor(
		private readonly log: MarketLog,
		private readonly opts: { flushMs: number; maxItems: number; onError?(err: Error, topic: string): void },
	) {}

	start(): void {
		this.timer = setInterval(() => void this.flush(), this.opts.flushMs);
	}

	trade(topic: string, venue: string, symbol: string, item: TradeItem): void {
		this.add(topic, venue, symbol, "trade", item);
	}

	quote(topic: string, venue: string, symbol: string, item: QuoteItem): void {
		this.add(topic, venue, symbol, "quote", item);
	}

	/** A ready payload (book message, marker); items buffered before it are sealed first. */
	payload(topic: string, venue: string, symbol: string, payload: Buffer): void {
		const b = this.buf(topic, venue, symbol);
		this.seal(b);
		b.payloads.push(payload);
	}

	/** Items and payloads not yet accepted by the log. */
	get pending(): number {
		let n = 0;
		for (const b of this.bufs.values()) n += b.items.length + b.payloads.length;
		return n;
	}

	/** Publish everything buffered; resolves when the log accepted it (or a publish failed and was kept). */
	flush(): Promise<void> {
		if (this.flushing) {
			this.again = true;
			return this.flushing;
		}
		this.flushing = this.doFlush().finally(() => {
			this.flushing = null;
			if (this.again) {
				this.again = false;
				void this.flush();
			}
		});
		return this.flushing;
	}

	async stop(): Promise<void> {
		if (this.timer) clearInterval(this.timer);
		this.timer = null;
		await this.flush();
		while (this.flushing) await this.flushing;
		await this.flush();
	}

	private buf(topic: string, venue: string, symbol: string): TopicBuf {
		let b = this.bufs.get(topic);
		if (!b) {
			b = { topic, key: symbol, venue, symbol, kind: null, items: [], payloads: [] };
			this.bufs.set(topic, b);
		}
		return b;
	}

	private add(topic: string, venue: string, symbol: string, kind: "trade" | "quote", item: TradeItem | QuoteItem): void {
		const b = this.buf(topic, venue, symbol);
		if (b.kind !== kind) this.seal(b);
		b.kind = kind;
		b.items.push(item);
		if (b.items.length >= this.opts.maxItems) void this.flush();
	}

	private seal(b: TopicBuf): void {
		if (!b.items.length) return;
		const env = b.kind === "trade" ? tradeEnvelope(b.venue, b.symbol, b.items as TradeItem[]) : quoteEnvelope(b.venue, b.symbol, b.items as QuoteItem[]);
		b.payloads.push(encodeEnvelope(env));
		this.stats.items += b.items.length;
		b.items = [];
	}

	private async doFlush(): Promise<void> {
		for (const b of this.bufs.values()) {
			this.seal(b);
			if (!b.payloads.length) continue;
			const batch = b.payloads;
			b.payloads = [];
			try {
				await this.log.publish(b.topic, b.key, batch);
				this.stats.messages += batch.length;
			} catch (err) {
				this.stats.publishErrors++;
				b.payloads = batch.concat(b.payloads); // keep order: retried first next time
				this.opts.onError?.(err as Error, b.topic);
			}
		}
	}
}
