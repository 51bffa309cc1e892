import { createInbox, nanos, type Msg, type NatsError, type Subscription } from "nats";
import { takingTurns } from "../coordination/turns";
import { topicMatches } from "../domain/topics";
import type { Consumer, Delivery } from "./types";
import type { JetStreamLog } from "./jetstream";
import { KEY_HEADER, parseAckSubject } from "./jetstream-messages";

/** The JetStream log's consumer: pulls from the durable consumers of a shared subscription (see lib/log/jetstream.ts). */

/** Longest single long-poll request; a waiting pull renews it, close() never waits longer than this. */
const LONG_POLL_MS = 1_000;
/** A pull request the server never answered (restart, lost connection) counts as ended after its expiry plus this. */
const REQUEST_GRACE_MS = 2_000;

const enc = new TextEncoder();
const ACK = enc.encode("+ACK");
const NAK = enc.encode("-NAK");

/** What ack/nack need to reach the server, kept off the Delivery object itself. */
interface Handle {
	reply: string;
	owner: JetStreamConsumer;
}
const handles = new WeakMap<Delivery, Handle>();

export interface Durable {
	readonly name: string;
	readonly pattern: string;
	readonly index: number;
	/** Open pull requests, oldest first: the server fills them in this order. */
	reqs: PullReq[];
	longPoll: PullReq | null;
}

interface PullReq {
	readonly id: number;
	readonly durable: Durable;
	remaining: number;
	timer: NodeJS.Timeout;
}

/**
 * One puller of a shared subscription. Deliveries it received sit in `buffer` until pull() hands them
 * out, then in `held` until acked: both count against maxInFlight, and close() naks both.
 */
export class JetStreamConsumer implements Consumer {
	private readonly inbox = createInbox();
	private readonly sub: Subscription;
	private readonly byName = new Map<string, Durable>();
	private readonly coverCache = new Map<string, number>();
	private buffer: Delivery[] = [];
	private bufHead = 0;
	readonly held = new Map<string, Delivery>();
	private readonly reqs = new Map<number, PullReq>();
	private reqSeq = 0;
	/** Messages still owed by open pull requests. */
	private outstanding = 0;
	private signal: (() => void) | null = null;
	/** One pull at a time per consumer: the request bookkeeping assumes it. */
	private readonly pulls = takingTurns();
	private closed = false;
	private failure: Error | null = null;
	private drained: (() => void) | null = null;

	constructor(
		private readonly log: JetStreamLog,
		private readonly durables: Durable[],
		private readonly maxInFlight: number,
	) {
		for (const d of durables) this.byName.set(d.name, d);
		this.sub = log.nc.subscribe(`${this.inbox}.*`, { callback: (err, m) => this.onMsg(err, m) });
	}

	pull(max: number, waitMs: number): Promise<Delivery[]> {
		return this.pulls(() => this.doPull(max, waitMs));
	}

	private async doPull(max: number, waitMs: number): Promise<Delivery[]> {
		if (this.closed || max <= 0) return [];
		this.throwFailure();
		if (this.buffered()) return this.take(max);
		const deadline = Date.now() + Math.max(0, waitMs);
		await this.fetchNow(max);
		while (!this.buffered() && !this.closed) {
			const left = deadline - Date.now();
			if (left <= 0) break;
			for (const d of this.durables) {
				if (!d.longPoll && this.room() > 0) this.request(d, 1, Math.min(left, LONG_POLL_MS));
			}
			await this.changed(left);
			this.throwFailure();
			// Something arrived: fetch the rest of the batch in one more round trip.
			if (this.buffered() && !this.closed) await this.fetchNow(max - this.buffered());
		}
		return this.take(max);
	}

	/** Ask every pattern for what it has now (no_wait) and wait for all those requests to end. */
	private async fetchNow(n: number): Promise<void> {
		const mine: PullReq[] = [];
		for (const d of this.durables) {
			const batch = Math.min(n, this.room());
			if (batch <= 0) break;
			mine.push(this.request(d, batch, 0));
		}
		while (!this.closed && mine.some((r) => this.reqs.has(r.id))) await this.changed(REQUEST_GRACE_MS);
	}

	private request(d: Durable, batch: number, expiresMs: number): PullReq {
		const id = ++this.reqSeq;
		const body = expiresMs > 0 ? { batch, expires: nanos(expiresMs) } : { batch, no_wait: true };
		const r: PullReq = { id, durable: d, remaining: batch, timer: setTimeout(() => this.endReq(r), expiresMs + REQUEST_GRACE_MS) };
		r.timer.unref();
		d.reqs.push(r);
		if (expiresMs > 0) d.longPoll = r;
		this.reqs.set(id, r);
		this.outstanding += batch;
		this.log.nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${this.log.stream}.${d.name}`, enc.encode(JSON.stringify(body)), { reply: `${this.inbox}.${id}` });
		return r;
	}

	private endReq(r: PullReq): void {
		if (!this.reqs.delete(r.id)) return;
		clearTimeout(r.timer);
		this.outstanding -= r.remaining;
		r.remaining = 0;
		const d = r.durable;
		const i = d.reqs.indexOf(r);
		if (i >= 0) d.reqs.splice(i, 1);
		if (d.longPoll === r) d.longPoll = null;
		this.wake();
		if (this.closed && !this.reqs.size) this.finishDrain();
	}

	private onMsg(err: NatsError | null, m: Msg): void {
		if (err) {
			this.failure = err;
			this.wake();
			return;
		}
		if (!m.reply) {
			// Status for one of our requests: 404 no messages, 408 expired, 409 limits or consumer deleted.
			const r = this.reqs.get(Number(m.subject.slice(this.inbox.length + 1)));
			const code = m.headers?.code ?? 0;
			if (code === 100) return;
			if (code === 409 && /deleted/i.test(m.headers?.description ?? "")) {
				this.failure = new Error(`JetStream consumer of ${r?.durable.pattern ?? "?"} was deleted`);
			}
			if (r) this.endReq(r);
			return;
		}
		const info = parseAckSubject(m.reply);
		const d = this.byName.get(info.consumer);
		const r = d?.reqs[0];
		if (r) {
			r.remaining--;
			this.outstanding--;
			if (r.remaining === 0) this.endReq(r);
		}
		if (this.closed) {
			this.log.nc.publish(m.reply, NAK);
			return;
		}
		const topic = this.log.toTopic(m.subject);
		// A message matching several patterns reaches several durables: keep the first pattern's copy only.
		if (d && d.index > 0 && this.firstPattern(topic) < d.index) {
			this.log.nc.publish(m.reply, ACK);
			return;
		}
		const delivery: Delivery = {
			id: String(info.streamSeq),
			topic,
			key: m.headers?.get(KEY_HEADER) ?? "",
			payload: m.data,
			deliveryCount: info.deliveryCount,
			publishTime: info.publishTime,
		};
		handles.set(delivery, { reply: m.reply, owner: this });
		this.buffer.push(delivery);
		this.wake();
	}

	private firstPattern(topic: string): number {
		let i = this.coverCache.get(topic);
		if (i === undefined) {
			i = this.durables.findIndex((d) => topicMatches(d.pattern, topic));
			this.coverCache.set(topic, i);
		}
		return i;
	}

	private buffered(): number {
		return this.buffer.length - this.bufHead;
	}

	private room(): number {
		return this.maxInFlight - this.held.size - this.buffered() - this.outstanding;
	}

	private take(max: number): Delivery[] {
		const end = Math.min(this.buffer.length, this.bufHead + max);
		const out = this.buffer.slice(this.bufHead, end);
		this.bufHead = end;
		if (this.bufHead === this.buffer.length) {
			this.buffer = [];
			this.bufHead = 0;
		}
		for (const d of out) this.held.set(d.id, d);
		return out;
	}

	private changed(ms: number): Promise<void> {
		return new Promise((resolve) => {
			const done = () => {
				clearTimeout(t);
				if (this.signal === done) this.signal = null;
				resolve();
			};
			const t = setTimeout(done, ms);
			this.signal = done;
		});
	}

	private wake(): void {
		const s = this.signal;
		if (s) s();
	}

	private throwFailure(): void {
		if (this.failure) throw this.failure;
	}

	async ack(deliveries: readonly Delivery[]): Promise<void> {
		await this.answer(deliveries, ACK);
	}

	async nack(deliveries: readonly Delivery[], delayMs = 0): Promise<void> {
		await this.answer(deliveries, delayMs > 0 ? enc.encode(`-NAK ${JSON.stringify({ delay: nanos(delayMs) })}`) : NAK);
	}

	/** Send an ack or nak for each delivery, then one round trip so the server surely has them (they are fire-and-forget messages). */
	private async answer(deliveries: readonly Delivery[], body: Uint8Array): Promise<void> {
		if (!deliveries.length) return;
		for (const d of deliveries) {
			const h = handles.get(d);
			if (!h) throw new TypeError(`delivery ${d.id} did not come from this JetStream log`);
			h.owner.held.delete(d.id);
			this.log.nc.publish(h.reply, body);
		}
		this.wake();
		await this.log.nc.flush();
	}

	async close(): Promise<void> {
		if (this.closed) return;
		this.closed = true;
		this.wake();
		// Hand back what we hold so other consumers get it now, not after ack_wait.
		const back = [...this.held.values(), ...this.buffer.slice(this.bufHead)];
		this.held.clear();
		this.buffer = [];
		this.bufHead = 0;
		const nc = this.log.nc;
		if (!nc.isClosed()) {
			for (const d of back) nc.publish(handles.get(d)!.reply, NAK);
		}
		// Open long polls cannot be cancelled; keep listening (and nak) until they end, then unsubscribe.
		const drained = new Promise<void>((resolve) => {
			this.drained = resolve;
		});
		this.log.consumerClosed(this, drained);
		if (!this.reqs.size) this.finishDrain();
		if (!nc.isClosed()) await nc.flush().catch(() => undefined);
	}

	private finishDrain(): void {
		const done = this.drained;
		if (!done) return;
		this.drained = null;
		if (!this.log.nc.isClosed()) this.sub.unsubscribe();
		done();
	}
}
