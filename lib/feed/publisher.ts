import { encodeEnvelope, quoteEnvelope, tradeEnvelope } from "../domain/codec";
import type { QuoteItem, TradeItem } from "../domain/types";
import type { MarketLog } from "../log/types";

/**
 * Batches what the session produces into log messages: trades and quotes accumulate per topic and
 * go out as one envelope per flush (every `flushMs`, or at once past `maxItems`); book messages and
 * markers are single payloads that keep their place in the topic's order. A failed publish keeps the
 * payloads and retries them first on the next flush, so nothing is dropped while the log is briefly away.
 * While it stays away, memory is bounded: past `maxPending` held items, new trades, quotes and book
 * messages are refused (the call returns false and `stats.dropped` counts them) and the caller records
 * what it lost (a feed_gaps row; Kraken repairs trades from REST). Markers are always kept.
 */
interface Held {
	data: Buffer;
	/** Items it carries (1 for a book message or marker). */
	n: number;
}

interface TopicBuf {
	topic: string;
	key: string;
	venue: string;
	symbol: string;
	kind: "trade" | "quote" | null;
	items: (TradeItem | QuoteItem)[];
	payloads: Held[];
}

export interface BatchPublisherOptions {
	flushMs: number;
	maxItems: number;
	/** Items (trades, quotes, book messages) held at most while the log refuses them; default unbounded. */
	maxPending?: number;
	onError?(err: Error, topic: string): void;
	/** stop() could not hand `items` (in `payloads` messages) to the log: they are lost. */
	onLost?(items: number, payloads: number): void;
}

export class BatchPublisher {
	private bufs = new Map<string, TopicBuf>();
	private timer: NodeJS.Timeout | null = null;
	private flushing: Promise<void> | null = null;
	private again = false;
	private held = 0;
	readonly stats = { messages: 0, items: 0, publishErrors: 0, dropped: 0, lost: 0 };

	constructor(
		private readonly log: MarketLog,
		private readonly opts: BatchPublisherOptions,
	) {}

	start(): void {
		this.timer = setInterval(() => void this.flush(), this.opts.flushMs);
	}

	/** Buffer a trade; false when refused because `maxPending` items are held already. */
	trade(topic: string, venue: string, symbol: string, item: TradeItem): boolean {
		return this.add(topic, venue, symbol, "trade", item);
	}

	/** Buffer a quote; false when refused (see trade). */
	quote(topic: string, venue: string, symbol: string, item: QuoteItem): boolean {
		return this.add(topic, venue, symbol, "quote", item);
	}

	/**
	 * A ready payload (book message, marker); items buffered before it are sealed first. A `droppable` one (a book
	 * message) is refused like a trade when the buffers are full; false then.
	 */
	payload(topic: string, venue: string, symbol: string, payload: Buffer, opts: { droppable?: boolean } = {}): boolean {
		if (opts.droppable && this.full()) return false;
		const b = this.buf(topic, venue, symbol);
		this.seal(b);
		b.payloads.push({ data: payload, n: 1 });
		this.held++;
		return true;
	}

	/** Items and payloads not yet accepted by the log. */
	get pending(): number {
		return this.held;
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

	/** Flush what is held; what the log still refuses then is lost: counted in `stats.lost` and reported to onLost. */
	async stop(): Promise<void> {
		if (this.timer) clearInterval(this.timer);
		this.timer = null;
		await this.flush();
		while (this.flushing) await this.flushing;
		await this.flush();
		let payloads = 0;
		for (const b of this.bufs.values()) payloads += b.payloads.length;
		if (this.held) {
			this.stats.lost += this.held;
			this.opts.onLost?.(this.held, payloads);
		}
		this.bufs.clear();
		this.held = 0;
	}

	private full(): boolean {
		if (this.opts.maxPending === undefined || this.held < this.opts.maxPending) return false;
		this.stats.dropped++;
		return true;
	}

	private buf(topic: string, venue: string, symbol: string): TopicBuf {
		let b = this.bufs.get(topic);
		if (!b) {
			b = { topic, key: symbol, venue, symbol, kind: null, items: [], payloads: [] };
			this.bufs.set(topic, b);
		}
		return b;
	}

	private add(topic: string, venue: string, symbol: string, kind: "trade" | "quote", item: TradeItem | QuoteItem): boolean {
		if (this.full()) return false;
		const b = this.buf(topic, venue, symbol);
		if (b.kind !== kind) this.seal(b);
		b.kind = kind;
		b.items.push(item);
		this.held++;
		if (b.items.length >= this.opts.maxItems) void this.flush();
		return true;
	}

	private seal(b: TopicBuf): void {
		if (!b.items.length) return;
		const env = b.kind === "trade" ? tradeEnvelope(b.venue, b.symbol, b.items as TradeItem[]) : quoteEnvelope(b.venue, b.symbol, b.items as QuoteItem[]);
		b.payloads.push({ data: encodeEnvelope(env), n: b.items.length });
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
				await this.log.publish(b.topic, b.key, batch.map((h) => h.data));
				this.stats.messages += batch.length;
				for (const h of batch) this.held -= h.n;
			} catch (err) {
				this.stats.publishErrors++;
				b.payloads = batch.concat(b.payloads); // keep order: retried first next time
				this.opts.onError?.(err as Error, b.topic);
			}
		}
	}
}
