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
	nanos,
	type ConsumerConfig,
	type JetStreamManager,
	type Msg,
	type NatsConnection,
	type NatsError,
	type StreamConfig,
} from "nats";
import { natsConnectError, natsConnectOptions, type NatsAuth } from "../net/nats-options";
import { assertKey, assertTopic, consumerPatterns } from "./names";
import { PublishBatches, type PubBatch } from "./publish-batches";
import type { Consumer, ConsumerOptions, MarketLog } from "./types";
import { JetStreamConsumer, type Durable } from "./jetstream-consumer";
import { messageId, pubAckError, pubHeaders } from "./jetstream-messages";

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

export { KEY_HEADER, messageId, MSG_ID_HEADER } from "./jetstream-messages";
/** After a reconnect, JetStream may answer "no responders" (503) while it recovers its streams: retry that long. */
const RECOVERY_RETRY_MS = 20_000;
const RECOVERY_RETRY_EVERY_MS = 250;
const DEFAULT_ACK_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_IN_FLIGHT = 10_000;

/** A published message not acked yet: kept whole so it can be sent again after a reconnect. */
interface PendingPub {
	batch: PubBatch;
	subject: string;
	payload: Uint8Array;
	key: string;
	msgId: string;
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
