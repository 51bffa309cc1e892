import { createHash } from "node:crypto";
import {
	AckPolicy,
	DeliverPolicy,
	DiscardPolicy,
	Events,
	RetentionPolicy,
	StorageType,
	connect,
	createInbox,
	headers,
	nanos,
	type ConsumerConfig,
	type JetStreamManager,
	type Msg,
	type NatsConnection,
	type NatsError,
	type StreamConfig,
	type Subscription,
} from "nats";
import { takingTurns } from "../coordination/turns";
import { topicMatches } from "../domain/topics";
import { natsConnectError, natsConnectOptions, type NatsAuth } from "../net/nats-options";
import { assertKey, assertTopic, consumerPatterns } from "./names";
import { PublishBatches, type PubBatch } from "./publish-batches";
import type { Consumer, ConsumerOptions, Delivery, MarketLog } from "./types";

/**
 * The market-data log on NATS JetStream (server 2.9+, client `nats` v2).
 *
 * One stream holds every topic: topic "market-data/a/b" is subject "market-data.a.b" (plus an optional
 * prefix), the key rides in the "Mdp-Key" header. A shared subscription is one durable pull consumer
 * per topic pattern (2.9 allows a single filter subject per consumer), named after subscription and
 * pattern, so any process opening the same subscription shares the work.
 *
 * Both hot paths talk core NATS directly, because the client's per-request machinery (timers, async
 * stack traces, iterators) costs more than the server's work:
 * - publish sends every message with a reply subject under one inbox and counts the JetStream acks;
 * - pull sends `CONSUMER.MSG.NEXT` requests itself: first `no_wait` (one round trip, returns what is
 *   there), and only when that is empty a long poll of one message per pattern, so no request is left
 *   open once pull() returns with data and close() can hand everything back at once.
 */
export interface MarketLogLogger {
	info(msg: string, ...args: unknown[]): void;
	warn(msg: string, ...args: unknown[]): void;
	error(msg: string, ...args: unknown[]): void;
}

export interface JetStreamLogOptions {
	/** Default "nats://127.0.0.1:4222". */
	servers?: string | string[];
	/** Stream name, default "MARKET_DATA". */
	stream?: string;
	/** Prepended to every subject (e.g. "test123."), so several streams can coexist on one server. Default "". */
	subjectPrefix?: string;
	/** Retention by age, default 7 days. */
	maxAgeMs?: number;
	/** Retention by size, default unlimited. */
	maxBytes?: number;
	/** Stream replicas (clustered servers only), default 1. */
	replicas?: number;
	/** Messages published but not acked by JetStream yet, over all publish() calls. Default 16,384. */
	maxPublishInFlight?: number;
	/** A publish batch that sees no JetStream ack for this long fails. Default 30 s. */
	publishTimeoutMs?: number;
	/** max_ack_pending of the durable consumers (shared by all their processes); at least maxInFlight. Default 100,000. */
	maxAckPending?: number;
	/** Connection name shown by the server. */
	name?: string;
	/** Credentials and TLS (NATS_USER/NATS_PASSWORD, NATS_TOKEN, NATS_CREDS, NATS_TLS_CA); a URL's own credentials work too. */
	auth?: NatsAuth;
	logger?: MarketLogLogger;
}

export const KEY_HEADER = "Mdp-Key";
/** JetStream drops a message whose Nats-Msg-Id it has stored within the stream's duplicate window (2 min). */
export const MSG_ID_HEADER = "Nats-Msg-Id";
/** After a reconnect, JetStream may answer "no responders" (503) while it recovers its streams: retry that long. */
const RECOVERY_RETRY_MS = 20_000;
const RECOVERY_RETRY_EVERY_MS = 250;
/** Longest single long-poll request; a waiting pull renews it, close() never waits longer than this. */
const LONG_POLL_MS = 1_000;
/** A pull request the server never answered (restart, lost connection) counts as ended after its expiry plus this. */
const REQUEST_GRACE_MS = 2_000;
const DEFAULT_ACK_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_IN_FLIGHT = 10_000;

const enc = new TextEncoder();
const dec = new TextDecoder();
const ACK = enc.encode("+ACK");
const NAK = enc.encode("-NAK");

/** What ack/nack need to reach the server, kept off the Delivery object itself. */
interface Handle {
	reply: string;
	owner: JetStreamConsumer;
}
const handles = new WeakMap<Delivery, Handle>();

/** A published message not acked yet: kept whole so it can be sent again after a reconnect. */
interface PendingPub {
	batch: PubBatch;
	subject: string;
	payload: Uint8Array;
	key: string;
	msgId: string;
}

/**
 * The message id: a hash of subject, key and payload, so the same message gets the same id however often it is
 * sent (our resend after a reconnect, or a publisher retrying a failed batch), and the broker stores it once.
 */
export function messageId(subject: string, key: string, payload: Uint8Array): string {
	return createHash("sha256").update(subject).update("\u0000").update(key).update("\u0000").update(payload).digest("base64url").slice(0, 32);
}

export class JetStreamLog implements MarketLog {
	readonly driver = "jetstream";
	readonly stream: string;
	readonly subjectPrefix: string;
	private closed = false;
	private readonly consumers = new Set<JetStreamConsumer>();
	private readonly drains = new Set<Promise<void>>();

	// publish state
	private readonly pubInbox = createInbox();
	private pubSeq = 0;
	private readonly pubPending = new Map<number, PendingPub>();
	private lastReconnectAt = 0;
	private readonly batches: PublishBatches;
	private roomWaiters: (() => void)[] = [];
	private readonly maxPublishInFlight: number;
	private readonly publishTimeoutMs: number;

	private constructor(
		readonly nc: NatsConnection,
		private readonly jsm: JetStreamManager,
		private readonly opts: JetStreamLogOptions,
	) {
		this.stream = opts.stream ?? "MARKET_DATA";
		this.subjectPrefix = opts.subjectPrefix ?? "";
		this.maxPublishInFlight = opts.maxPublishInFlight ?? 16_384;
		this.publishTimeoutMs = opts.publishTimeoutMs ?? 30_000;
		this.batches = new PublishBatches(this.publishTimeoutMs, (b) => this.failBatch(b, new Error(`JetStream publish: no ack for ${this.publishTimeoutMs} ms (stream ${this.stream})`)));
	}

	/** Connect, create or update the stream, and return a ready log. */
	static async connect(opts: JetStreamLogOptions = {}): Promise<JetStreamLog> {
		// noAsyncTraces: the client otherwise builds an Error per request, which dominates publish time.
		const servers = opts.servers ?? "nats://127.0.0.1:4222";
		let nc: NatsConnection;
		try {
			nc = await connect({
				...natsConnectOptions(servers, opts.auth),
				name: opts.name ?? "market-log",
				noAsyncTraces: true,
				maxReconnectAttempts: -1,
			});
		} catch (e) {
			const err = natsConnectError(e, servers, "market log");
			opts.logger?.error(err.message);
			throw err;
		}
		try {
			const jsm = await nc.jetstreamManager();
			const log = new JetStreamLog(nc, jsm, opts);
			await log.ensureStream();
			nc.subscribe(`${log.pubInbox}.*`, { callback: (err, m) => log.onPubAck(err, m) });
			log.watchStatus();
			return log;
		} catch (e) {
			await nc.close().catch(() => undefined);
			throw e;
		}
	}

	toSubject(topic: string): string {
		return this.subjectPrefix + topic.replace(/\//g, ".");
	}

	toTopic(subject: string): string {
		return subject.slice(this.subjectPrefix.length).replace(/\./g, "/");
	}

	/** Name of the durable consumer serving one pattern of a subscription: readable, deterministic, collision-safe. */
	static durableName(subscription: string, pattern: string): string {
		const readable = subscription.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 48);
		const hash = createHash("sha256").update(`${subscription}\u0000${pattern}`).digest("hex").slice(0, 12);
		return `${readable}_${hash}`;
	}

	private async ensureStream(): Promise<void> {
		const subject = `${this.subjectPrefix}market-data.>`;
		const maxAge = nanos(this.opts.maxAgeMs ?? 7 * 24 * 3600 * 1000);
		let existing: StreamConfig | null = null;
		try {
			existing = (await this.jsm.streams.info(this.stream)).config;
		} catch (e) {
			if (!isNotFound(e)) throw e;
		}
		if (!existing) {
			try {
				await this.jsm.streams.add({
					name: this.stream,
					subjects: [subject],
					retention: RetentionPolicy.Limits,
					storage: StorageType.File,
					discard: DiscardPolicy.Old,
					max_age: maxAge,
					max_bytes: this.opts.maxBytes ?? -1,
					num_replicas: this.opts.replicas ?? 1,
				});
			} catch (e) {
				if (/overlap/i.test((e as Error).message)) throw await this.overlapError(subject, e);
				throw e;
			}
			this.opts.logger?.info(`market log: created JetStream stream ${this.stream} (${subject})`);
			return;
		}
		const subjects = existing.subjects ?? [];
		const maxBytes = this.opts.maxBytes ?? existing.max_bytes;
		if (!subjects.includes(subject) || existing.max_age !== maxAge || existing.max_bytes !== maxBytes) {
			await this.jsm.streams.update(this.stream, {
				...existing,
				subjects: subjects.includes(subject) ? subjects : [...subjects, subject],
				max_age: maxAge,
				max_bytes: maxBytes,
			});
			this.opts.logger?.info(`market log: updated JetStream stream ${this.stream}`);
		}
	}

	/** Streams may not share subjects: name the one in the way (often a test stream left behind). */
	private async overlapError(subject: string, cause: unknown): Promise<Error> {
		const others: string[] = [];
		try {
			for await (const si of this.jsm.streams.list()) {
				if ((si.config.subjects ?? []).some((s) => subjectsOverlap(s, subject))) others.push(`${si.config.name} (${si.config.subjects?.join(", ")})`);
			}
		} catch {
			// the listing is only for the message
		}
		return new Error(
			`cannot create JetStream stream ${this.stream} on ${subject}: subjects overlap stream ${others.join(", ") || "?"}; ` +
				"delete that stream or give this log another subjectPrefix (MARKET_LOG_SUBJECT_PREFIX)",
			{ cause },
		);
	}

	private watchStatus(): void {
		const logger = this.opts.logger;
		void (async () => {
			for await (const s of this.nc.status()) {
				if (s.type === Events.Disconnect) logger?.warn(`market log: NATS disconnected (${s.data})`);
				else if (s.type === Events.Reconnect) {
					logger?.info(`market log: NATS reconnected (${s.data}); resending ${this.pubPending.size} unacknowledged publishes`);
					this.lastReconnectAt = Date.now();
					this.resendPending();
				} else if (s.type === Events.Error) logger?.error(`market log: NATS error ${s.data}`);
			}
		})().catch(() => undefined);
	}

	/**
	 * A publish or its ack may have been lost with the old connection: send every unacknowledged message again at
	 * once, under the same reply id and message id (the broker keeps one copy), instead of waiting for the stall
	 * watchdog.
	 */
	private resendPending(): void {
		for (const id of [...this.pubPending.keys()]) this.sendPending(id);
	}

	private sendPending(id: number): void {
		const p = this.pubPending.get(id);
		if (!p || p.batch.settled || this.nc.isClosed()) return;
		try {
			this.nc.publish(p.subject, p.payload, { reply: `${this.pubInbox}.${id}`, headers: pubHeaders(p.key, p.msgId) });
		} catch (e) {
			this.failBatch(p.batch, e instanceof Error ? e : new Error(String(e)));
		}
	}

	// ---- publish

	async publish(topic: string, key: string, payloads: readonly Uint8Array[]): Promise<void> {
		this.assertOpen();
		assertTopic(topic);
		assertKey(key);
		if (!payloads.length) return;
		const subject = this.toSubject(topic);
		const { batch, done } = this.batches.start(payloads.length);
		// Pipelined: many messages in flight, bounded so a slow server pushes back on the publisher.
		for (const p of payloads) {
			if (this.pubPending.size >= this.maxPublishInFlight) await this.publishRoom();
			if (batch.settled) break;
			const id = ++this.pubSeq;
			const msgId = messageId(subject, key, p);
			this.pubPending.set(id, { batch, subject, payload: p, key, msgId });
			try {
				this.nc.publish(subject, p, { reply: `${this.pubInbox}.${id}`, headers: pubHeaders(key, msgId) });
			} catch (e) {
				this.pubPending.delete(id);
				this.failBatch(batch, e instanceof Error ? e : new Error(String(e)));
				break;
			}
		}
		return done;
	}

	private publishRoom(): Promise<void> {
		return new Promise((resolve) => this.roomWaiters.push(resolve));
	}

	private onPubAck(err: NatsError | null, m: Msg): void {
		if (err) return;
		const id = Number(m.subject.slice(this.pubInbox.length + 1));
		const pending = this.pubPending.get(id);
		if (pending) {
			const batch = pending.batch;
			if ((m.headers?.code ?? 0) === 503 && Date.now() - this.lastReconnectAt < RECOVERY_RETRY_MS) {
				// JetStream is still recovering after the reconnect: try this message again shortly.
				setTimeout(() => this.sendPending(id), RECOVERY_RETRY_EVERY_MS).unref();
				return;
			}
			this.pubPending.delete(id);
			const error = pubAckError(m, this.stream);
			if (error) this.failBatch(batch, error);
			else this.batches.acked(batch);
		}
		if (this.roomWaiters.length && this.pubPending.size <= this.maxPublishInFlight >> 1) {
			const ws = this.roomWaiters;
			this.roomWaiters = [];
			for (const w of ws) w();
		}
	}

	private failBatch(batch: PubBatch, error: Error): void {
		if (batch.settled) return;
		this.batches.settle(batch, error);
		// Forget its other messages so their late acks are ignored and the window frees up.
		for (const [id, p] of this.pubPending) if (p.batch === batch) this.pubPending.delete(id);
		if (this.roomWaiters.length) {
			const ws = this.roomWaiters;
			this.roomWaiters = [];
			for (const w of ws) w();
		}
	}

	// ---- consume

	async consumer(opts: ConsumerOptions): Promise<Consumer> {
		this.assertOpen();
		if (!opts.subscription) throw new TypeError("consumer needs a subscription name");
		const patterns = consumerPatterns(opts.topics);
		const ackTimeoutMs = opts.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
		const maxInFlight = opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
		const maxAckPending = Math.max(this.opts.maxAckPending ?? 100_000, maxInFlight);
		const durables = await Promise.all(
			patterns.map(async (pattern, index): Promise<Durable> => {
				const name = JetStreamLog.durableName(opts.subscription, pattern);
				const cfg: Partial<ConsumerConfig> = {
					durable_name: name,
					description: `market log subscription "${opts.subscription}" pattern ${pattern}`,
					filter_subject: this.toSubject(pattern),
					deliver_policy: DeliverPolicy.All,
					ack_policy: AckPolicy.Explicit,
					ack_wait: nanos(ackTimeoutMs),
					max_ack_pending: maxAckPending,
					max_deliver: -1,
				};
				// The server (2.9.10 checked) creates, or updates the mutable fields of an existing durable.
				await this.jsm.consumers.add(this.stream, cfg);
				return { name, pattern, index, reqs: [], longPoll: null };
			}),
		);
		const c = new JetStreamConsumer(this, durables, maxInFlight);
		this.consumers.add(c);
		return c;
	}

	async deleteSubscription(subscription: string, topics: string[]): Promise<void> {
		this.assertOpen();
		for (const pattern of consumerPatterns(topics)) {
			try {
				await this.jsm.consumers.delete(this.stream, JetStreamLog.durableName(subscription, pattern));
			} catch (e) {
				if (!isNotFound(e)) throw e;
			}
		}
	}

	/** @internal */
	consumerClosed(c: JetStreamConsumer, drained: Promise<void>): void {
		this.consumers.delete(c);
		this.drains.add(drained);
		void drained.finally(() => this.drains.delete(drained));
	}

	// ---- lifecycle

	async ping(): Promise<void> {
		this.assertOpen();
		try {
			await this.jsm.streams.info(this.stream);
		} catch (e) {
			throw new Error(`JetStream stream ${this.stream} unreachable: ${(e as Error).message}`, { cause: e });
		}
	}

	async flush(): Promise<void> {
		await this.batches.flush();
		if (!this.nc.isClosed()) await this.nc.flush();
	}

	async close(): Promise<void> {
		if (this.closed) return;
		this.closed = true;
		await Promise.all([...this.consumers].map((c) => c.close()));
		await this.batches.flush();
		await Promise.all(this.drains);
		this.batches.stop();
		if (!this.nc.isClosed()) await this.nc.drain().catch(() => this.nc.close());
	}

	private assertOpen(): void {
		if (this.closed) throw new Error("market log (jetstream) is closed");
	}
}

interface Durable {
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
class JetStreamConsumer implements Consumer {
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

function pubHeaders(key: string, msgId: string) {
	const h = headers();
	h.set(KEY_HEADER, key);
	h.set(MSG_ID_HEADER, msgId);
	return h;
}

/** `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>`, or the 2.10+ form with domain and account hash. */
function parseAckSubject(reply: string): { consumer: string; deliveryCount: number; streamSeq: number; publishTime: number } {
	const t = reply.split(".");
	const b = t.length === 9 ? 2 : 4;
	return {
		consumer: t[b + 1],
		deliveryCount: Number(t[b + 2]),
		streamSeq: Number(t[b + 3]),
		publishTime: Math.floor(Number(t[b + 5]) / 1e6),
	};
}

function pubAckError(m: Msg, stream: string): Error | null {
	const code = m.headers?.code ?? 0;
	if (code === 503) return new Error(`JetStream publish: no stream takes this subject (is stream ${stream} there?)`);
	if (code >= 300) return new Error(`JetStream publish failed: ${code} ${m.headers?.description ?? ""}`);
	const d = m.data;
	// Fast path for the common ack `{"stream":...}`; anything else is parsed.
	if (d.length > 2 && d[2] === 0x73 /* s */) return null;
	try {
		const r = JSON.parse(dec.decode(d)) as { error?: { code?: number; err_code?: number; description?: string } };
		if (r.error) return new Error(`JetStream publish failed: ${r.error.description ?? "error"} (${r.error.err_code ?? r.error.code ?? "?"})`);
		return null;
	} catch {
		return new Error(`JetStream publish: unreadable ack ${dec.decode(d).slice(0, 200)}`);
	}
}

/** Whether two NATS subjects (with wildcards) can match a common subject. */
function subjectsOverlap(a: string, b: string): boolean {
	const x = a.split(".");
	const y = b.split(".");
	for (let i = 0; i < Math.max(x.length, y.length); i++) {
		if (x[i] === ">" || y[i] === ">") return i < x.length && i < y.length;
		if (x[i] === undefined || y[i] === undefined) return false;
		if (x[i] !== "*" && y[i] !== "*" && x[i] !== y[i]) return false;
	}
	return true;
}

function isNotFound(e: unknown): boolean {
	const ne = e as NatsError;
	return ne?.api_error?.err_code === 10059 || ne?.api_error?.code === 404 || /not found/i.test(ne?.message ?? "");
}
