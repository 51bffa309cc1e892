import { topicMatches } from "../domain/topics";
import { assertKey, assertTopic, consumerPatterns } from "./names";
import type { Consumer, ConsumerOptions, Delivery, MarketLog } from "./types";

/**
 * In-process market-data log for the embedded mode and tests, with JetStream's semantics: messages are
 * retained (oldest dropped past the limits), a shared subscription starts at the oldest retained
 * matching message, its consumers split the messages, and whatever is not acked comes back
 * (ack timeout, nack, consumer closed) with a growing deliveryCount and the same id.
 *
 * Everything is O(1) per message: the store is an array with a moving head, subscriptions keep a
 * cursor into it, and each consumer's un-acked deliveries sit in an insertion-ordered Map whose
 * first entry always has the earliest deadline (one ack timeout per consumer).
 */
export interface MemoryLogOptions {
	/** Messages retained across all topics; the oldest go first. Default 1,000,000. */
	maxMessages?: number;
	/** Payload bytes retained across all topics; the oldest go first. Default 1 GiB. */
	maxBytes?: number;
}

interface Stored {
	readonly seq: number;
	readonly topic: string;
	readonly key: string;
	readonly payload: Uint8Array;
	readonly time: number;
}

type State = "held" | "ready" | "delayed" | "acked";

/** One message of a subscription that has been delivered at least once and not acked yet. */
interface Tracked {
	readonly msg: Stored;
	count: number;
	state: State;
	owner: MemoryConsumer | null;
	deadline: number;
}

interface Waiter {
	consumer: MemoryConsumer;
	max: number;
	resolve(ds: Delivery[]): void;
	timer: NodeJS.Timeout;
}

const DEFAULT_ACK_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_IN_FLIGHT = 10_000;

class Store {
	private items: (Stored | undefined)[] = [];
	private head = 0;
	/** Sequence of items[head]. */
	firstSeq = 1;
	nextSeq = 1;
	private bytes = 0;

	constructor(
		private readonly maxMessages: number,
		private readonly maxBytes: number,
	) {}

	append(topic: string, key: string, payload: Uint8Array, time: number): void {
		this.items.push({ seq: this.nextSeq++, topic, key, payload, time });
		this.bytes += payload.byteLength;
		while (this.nextSeq - this.firstSeq > this.maxMessages || (this.bytes > this.maxBytes && this.nextSeq - this.firstSeq > 1)) {
			this.bytes -= this.items[this.head]!.payload.byteLength;
			this.items[this.head++] = undefined;
			this.firstSeq++;
		}
		// Compact now and then instead of shifting per message.
		if (this.head > 4096 && this.head * 2 > this.items.length) {
			this.items = this.items.slice(this.head);
			this.head = 0;
		}
	}

	get(seq: number): Stored | undefined {
		return seq < this.firstSeq ? undefined : this.items[this.head + seq - this.firstSeq];
	}
}

class Subscription {
	/** Next store sequence this subscription has not looked at yet. */
	private cursor: number;
	private readonly matchCache = new Map<string, boolean>();
	readonly tracked = new Map<number, Tracked>();
	private ready: Tracked[] = [];
	private readyHead = 0;
	readonly waiters: Waiter[] = [];
	readonly timers = new Set<NodeJS.Timeout>();
	readonly consumers = new Set<MemoryConsumer>();

	constructor(
		readonly name: string,
		readonly patterns: string[],
		private readonly store: Store,
	) {
		this.cursor = store.firstSeq;
	}

	matches(topic: string): boolean {
		let m = this.matchCache.get(topic);
		if (m === undefined) {
			m = this.patterns.some((p) => topicMatches(p, topic));
			this.matchCache.set(topic, m);
		}
		return m;
	}

	makeReady(t: Tracked): void {
		t.owner = null;
		t.state = "ready";
		this.ready.push(t);
	}

	/** Hand up to `max` deliveries to `c`: redeliveries first, then new messages in publish order. */
	take(c: MemoryConsumer, max: number): Delivery[] {
		const out: Delivery[] = [];
		const limit = Math.min(max, c.maxInFlight - c.pending.size);
		if (limit <= 0) return out;
		const now = Date.now();
		while (out.length < limit && this.readyHead < this.ready.length) {
			const t = this.ready[this.readyHead];
			this.ready[this.readyHead++] = undefined as unknown as Tracked;
			if (t.state === "ready") out.push(this.deliver(t, c, now));
		}
		if (this.readyHead > 1024 && this.readyHead * 2 > this.ready.length) {
			this.ready = this.ready.slice(this.readyHead);
			this.readyHead = 0;
		}
		while (out.length < limit && this.cursor < this.store.nextSeq) {
			if (this.cursor < this.store.firstSeq) this.cursor = this.store.firstSeq;
			const msg = this.store.get(this.cursor++)!;
			if (!this.matches(msg.topic)) continue;
			const t: Tracked = { msg, count: 0, state: "held", owner: null, deadline: 0 };
			this.tracked.set(msg.seq, t);
			out.push(this.deliver(t, c, now));
		}
		if (out.length) c.armTimer();
		return out;
	}

	private deliver(t: Tracked, c: MemoryConsumer, now: number): Delivery {
		t.count++;
		t.state = "held";
		t.owner = c;
		t.deadline = now + c.ackTimeoutMs;
		c.pending.set(t.msg.seq, t);
		const m = t.msg;
		return { id: String(m.seq), topic: m.topic, key: m.key, payload: m.payload, deliveryCount: t.count, publishTime: m.time };
	}

	/** Give waiting pulls whatever has become available. */
	wake(): void {
		for (let i = 0; i < this.waiters.length; ) {
			const w = this.waiters[i];
			const got = this.take(w.consumer, w.max);
			if (got.length) {
				this.waiters.splice(i, 1);
				clearTimeout(w.timer);
				w.resolve(got);
			} else i++;
		}
	}

	dropWaiters(c: MemoryConsumer | null): void {
		for (let i = 0; i < this.waiters.length; ) {
			const w = this.waiters[i];
			if (c === null || w.consumer === c) {
				this.waiters.splice(i, 1);
				clearTimeout(w.timer);
				w.resolve([]);
			} else i++;
		}
	}

	later(ms: number, fn: () => void): void {
		const t = setTimeout(() => {
			this.timers.delete(t);
			fn();
		}, ms);
		t.unref();
		this.timers.add(t);
	}
}

class MemoryConsumer implements Consumer {
	/** Deliveries held by this consumer, in delivery order (so deadlines ascend). */
	readonly pending = new Map<number, Tracked>();
	private timer: NodeJS.Timeout | null = null;
	private closed = false;

	constructor(
		private readonly sub: Subscription,
		readonly ackTimeoutMs: number,
		readonly maxInFlight: number,
	) {}

	armTimer(): void {
		if (this.timer || this.closed) return;
		const first = this.pending.values().next();
		if (first.done) return;
		this.timer = setTimeout(() => this.expire(), Math.max(0, first.value.deadline - Date.now()));
		this.timer.unref();
	}

	private expire(): void {
		this.timer = null;
		const now = Date.now();
		let moved = false;
		for (const [seq, t] of this.pending) {
			if (t.deadline > now) break;
			this.pending.delete(seq);
			this.sub.makeReady(t);
			moved = true;
		}
		this.armTimer();
		if (moved) this.sub.wake();
	}

	pull(max: number, waitMs: number): Promise<Delivery[]> {
		if (this.closed || max <= 0) return Promise.resolve([]);
		const got = this.sub.take(this, max);
		if (got.length || waitMs <= 0) return Promise.resolve(got);
		return new Promise((resolve) => {
			const w: Waiter = {
				consumer: this,
				max,
				resolve,
				timer: setTimeout(() => {
					const i = this.sub.waiters.indexOf(w);
					if (i >= 0) this.sub.waiters.splice(i, 1);
					resolve([]);
				}, waitMs),
			};
			this.sub.waiters.push(w);
		});
	}

	async ack(deliveries: readonly Delivery[]): Promise<void> {
		let freed = false;
		for (const d of deliveries) {
			const seq = Number(d.id);
			const t = this.sub.tracked.get(seq);
			if (!t) continue;
			this.sub.tracked.delete(seq);
			if (t.owner) {
				t.owner.pending.delete(seq);
				freed = true;
			}
			t.owner = null;
			t.state = "acked";
		}
		// A pull blocked on maxInFlight may go on now.
		if (freed && this.sub.waiters.length) this.sub.wake();
	}

	async nack(deliveries: readonly Delivery[], delayMs = 0): Promise<void> {
		const delayed: Tracked[] = [];
		for (const d of deliveries) {
			const seq = Number(d.id);
			const t = this.sub.tracked.get(seq);
			if (!t || t.state !== "held") continue;
			t.owner!.pending.delete(seq);
			t.owner = null;
			if (delayMs > 0) {
				t.state = "delayed";
				delayed.push(t);
			} else this.sub.makeReady(t);
		}
		if (delayed.length) {
			this.sub.later(delayMs, () => {
				for (const t of delayed) if (t.state === "delayed") this.sub.makeReady(t);
				this.sub.wake();
			});
		}
		if (delayed.length < deliveries.length) this.sub.wake();
	}

	async close(): Promise<void> {
		if (this.closed) return;
		this.stop();
		this.sub.dropWaiters(this);
		for (const t of this.pending.values()) this.sub.makeReady(t);
		this.pending.clear();
		this.sub.wake();
	}

	/** Stop timers and pulls; used by close() and when the whole log closes. */
	stop(): void {
		this.closed = true;
		if (this.timer) clearTimeout(this.timer);
		this.timer = null;
		this.sub.consumers.delete(this);
	}
}

export class MemoryLog implements MarketLog {
	readonly driver = "memory";
	private readonly store: Store;
	private readonly subs = new Map<string, Subscription>();
	private closed = false;

	constructor(opts: MemoryLogOptions = {}) {
		this.store = new Store(opts.maxMessages ?? 1_000_000, opts.maxBytes ?? 1024 ** 3);
	}

	async publish(topic: string, key: string, payloads: readonly Uint8Array[]): Promise<void> {
		this.assertOpen();
		assertTopic(topic);
		assertKey(key);
		if (!payloads.length) return;
		const now = Date.now();
		// Copy: the caller may reuse its buffers once publish resolves.
		for (const p of payloads) this.store.append(topic, key, p.slice(), now);
		for (const s of this.subs.values()) if (s.waiters.length && s.matches(topic)) s.wake();
	}

	async consumer(opts: ConsumerOptions): Promise<Consumer> {
		this.assertOpen();
		if (!opts.subscription) throw new TypeError("consumer needs a subscription name");
		const patterns = consumerPatterns(opts.topics);
		let sub = this.subs.get(opts.subscription);
		// Like a durable, the subscription keeps the patterns it was created with.
		if (!sub) this.subs.set(opts.subscription, (sub = new Subscription(opts.subscription, patterns, this.store)));
		const c = new MemoryConsumer(sub, opts.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS, opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
		sub.consumers.add(c);
		return c;
	}

	async deleteSubscription(subscription: string): Promise<void> {
		this.assertOpen();
		const s = this.subs.get(subscription);
		if (!s) return;
		if (s.consumers.size) throw new Error(`subscription ${subscription} still has open consumers; close them first`);
		for (const t of s.timers) clearTimeout(t);
		this.subs.delete(subscription);
	}

	async ping(): Promise<void> {
		this.assertOpen();
	}

	async flush(): Promise<void> {
		// publish() is synchronous underneath: nothing is ever in flight.
	}

	async close(): Promise<void> {
		if (this.closed) return;
		this.closed = true;
		for (const s of this.subs.values()) {
			s.dropWaiters(null);
			for (const c of [...s.consumers]) c.stop();
			for (const t of s.timers) clearTimeout(t);
			s.timers.clear();
		}
	}

	private assertOpen(): void {
		if (this.closed) throw new Error("market log (memory) is closed");
	}
}
