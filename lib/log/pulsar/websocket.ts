import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import WebSocket from "ws";
import { topicMatches } from "../../domain/topics";
import { backoffMs } from "../../net/http";
import { assertKey, consumerPatterns } from "../names";
import { PublishBatches, type PubBatch } from "../publish-batches";
import type { Consumer, ConsumerOptions, Delivery, MarketLog } from "../types";
import { PulsarAdmin } from "./admin";
import { parsePublishTime } from "./message-id";
import { Signal } from "./signal";
import { DEFAULT_ACK_TIMEOUT_MS, DEFAULT_MAX_IN_FLIGHT, MIN_ACK_TIMEOUT_MS, MIN_NACK_DELAY_MS, resolveOptions, type PulsarLogOptions, type ResolvedPulsarOptions } from "./options";
import { deriveUrls, isLiteral, localNameRegex, logTopic, namespacesOf, pulsarTopic, type PulsarTopic } from "./topics";

/**
 * The market-data log over Pulsar's WebSocket API (ws://host:8080/ws/v2/...), for where the native
 * client cannot be installed.
 *
 * Publishing: one producer connection per topic, named `<prefix>-<host>-<pid>-<random>-<n>`, batching
 * and LZ4 asked for on the URL (they happen inside the WebSocket service's producer). Messages are
 * pipelined, each with the key (per-key order on one connection) and an explicit sequence id; the
 * context is the sequence id, so acks find their message. If the connection drops, the un-acked
 * messages are sent again on a new connection under the same producer name and sequence ids, so a
 * broker with deduplication on drops the copies it already stored.
 *
 * Consuming: the WebSocket API has no pattern subscriptions, so a consumer opens one connection per
 * matching topic, all on the same subscription (Shared or Key_Shared, initial position Earliest),
 * in pull mode: it sends permits so that un-acked + buffered + permitted never exceeds maxInFlight.
 * Matching topics are found (1) at once for literal patterns, (2) by listing the namespaces through the
 * admin API when the consumer opens and every discoveryIntervalMs, and (3) at once when this log
 * itself publishes to a new topic. A topic created by another process is picked up within one
 * discovery interval; starting at Earliest, it loses nothing in between. A found topic the broker
 * refuses (403, 404, or 409 for a subscription held with another type) is logged once and skipped, and
 * tried again on each later discovery round: it must never stop the others or escape as a rejection.
 *
 * Ack timeout and negative-ack delay are properties of the WebSocket service's consumer (query
 * parameters): ackTimeoutMillis per connection; negative acks are sent after (delay - 100 ms) with the
 * connection's negativeAckRedeliveryDelay at its 100 ms minimum, giving each nack its own delay.
 */
/** A normal close handshake; a peer that does not answer it within 5 s is cut off, so stopping never hangs. */
function closeSocket(ws: WebSocket | null): Promise<void> {
	if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.resolve();
	return new Promise<void>((r) => {
		const t = setTimeout(() => {
			ws.terminate();
			r();
		}, 5_000);
		ws.once("close", () => {
			clearTimeout(t);
			r();
		});
		ws.close(1000);
	});
}

interface PendingSend {
	readonly frame: Buffer;
	readonly batch: PubBatch;
}

const PAYLOAD_OPEN = '{"payload":"';
/** ws.send options of a send frame: a Buffer, sent as the text frame the WebSocket API reads. */
const TEXT = { binary: false } as const;

/**
 * The producer's send frame, `{"payload","key","context","sequenceId"}`, as UTF-8 bytes. Base64 and a
 * decimal context need no JSON escaping, so only the key goes through JSON.stringify (once per batch):
 * stringifying the whole object scans the payload for characters to escape, which costs more than base64
 * itself for a large message. The frame is kept until acknowledged (a reconnect sends it again), so it
 * is built outside the JavaScript heap: a 10 kB string per message in flight made the collector copy and
 * mark them all, and ws would have flattened and encoded the string again on send.
 */
function sendFrame(payload: Uint8Array, jsonKeyBytes: Buffer, seq: number): Buffer {
	const b64 = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString("base64");
	const tail = `,"context":"${seq}","sequenceId":${seq}}`;
	const frame = Buffer.allocUnsafe(PAYLOAD_OPEN.length + b64.length + 8 + jsonKeyBytes.length + tail.length);
	let at = frame.write(PAYLOAD_OPEN, 0, "latin1");
	at += frame.write(b64, at, "latin1");
	at += frame.write('","key":', at, "latin1");
	at += jsonKeyBytes.copy(frame, at);
	frame.write(tail, at, "latin1");
	return frame;
}

/** Frames written in one tick go out together, but not more than this many bytes: the broker starts on the first ones while later ones are encoded. */
const CORK_BYTES = 64 * 1024;

/**
 * Errors on the upgrade that retrying will not fix. A producer's 409 is not one of them: it is
 * ProducerBusy, the broker still holding our previous connection under the same name (half-open, until
 * its keepalive notices), so it is retried like a network error, within the send timeout. A consumer's
 * 409 (the subscription is held with another type, or by an exclusive consumer) is permanent for that
 * connection: the consumer skips the topic and a later discovery round tries it again.
 */
const PERMANENT = new Set([400, 401, 403, 404, 405]);
const CONSUMER_PERMANENT = new Set([...PERMANENT, 409]);

class UpgradeError extends Error {
	constructor(
		message: string,
		readonly status: number,
	) {
		super(message);
	}
}

/**
 * A masking key of zeros: ws then neither copies nor XORs the frame (its documented way to skip masking),
 * and the broker's unmasking is a no-op. Client-to-server masking exists so that script in a browser
 * cannot shape the bytes an intermediary sees (RFC 6455 10.3); this client is a server process sending
 * its own JSON, and masking a 10 kB frame byte by byte in JavaScript cost more than base64 and JSON
 * together (bench/pulsar-publish.bench.ts). `randomMaskKeys: true` restores RFC-random keys.
 * Neither native helper of ws is a dependency: with a zero key bufferutil's mask/unmask is never called
 * (and 4.1.0 ships no linux-arm64 prebuild, so it would compile at install there), and ws validates
 * UTF-8 with Node's own buffer.isUtf8, which utf-8-validate would only replace.
 */
const zeroMask = (mask: Buffer) => void mask.fill(0);

/** Open one WebSocket; resolve when open, reject with the HTTP status and reason of a refused upgrade. */
function openSocket(url: string, token: string | undefined, what: string, o: Pick<ResolvedPulsarOptions, "randomMaskKeys">): Promise<WebSocket> {
	return new Promise((resolve, reject) => {
		const ws = new WebSocket(url, {
			headers: token ? { authorization: `Bearer ${token}` } : {},
			handshakeTimeout: 10_000,
			// JSON with base64 payloads compresses, but deflating every frame costs more CPU than the loopback or LAN saves
			perMessageDeflate: false,
			...(o.randomMaskKeys ? {} : { generateMask: zeroMask }),
		});
		const cleanup = () => {
			ws.off("open", onOpen);
			ws.off("error", onError);
			ws.off("unexpected-response", onResponse);
			// terminate() of a socket that never opened emits one more error: nobody needs it
			ws.on("error", () => undefined);
		};
		const onOpen = () => {
			cleanup();
			resolve(ws);
		};
		const onError = (e: Error) => {
			cleanup();
			ws.terminate();
			reject(new UpgradeError(`pulsar ${what}: ${e.message}`, 0));
		};
		const onResponse = (_req: unknown, res: import("node:http").IncomingMessage) => {
			let body = "";
			res.on("data", (c: Buffer) => (body += c.toString()));
			res.on("end", () => {
				cleanup();
				ws.terminate();
				const hint = res.statusCode === 401 || res.statusCode === 403 ? " (check PULSAR_TOKEN)" : "";
				reject(new UpgradeError(`pulsar ${what}: HTTP ${res.statusCode} ${body.trim().slice(0, 300)}${hint}`, res.statusCode ?? 0));
			});
		};
		ws.on("open", onOpen);
		ws.on("error", onError);
		ws.on("unexpected-response", onResponse);
	});
}

const backoff = (attempt: number) => backoffMs(attempt, 100, 5_000);

class TopicProducer {
	private ws: WebSocket | null = null;
	private opening: Promise<void> | null = null;
	private attempt = 0;
	private seq = 0;
	readonly pending = new Map<number, PendingSend>();
	private roomWaiters: (() => void)[] = [];
	private closed = false;
	private retry: NodeJS.Timeout | null = null;
	private corked = false;
	private corkedBytes = 0;
	/** Why the last connection attempt failed, for the timeout message. */
	lastError: string | null = null;

	constructor(
		private readonly log: PulsarWsLog,
		readonly t: PulsarTopic,
		readonly name: string,
	) {}

	private url(): string {
		const o = this.log.o;
		const q = new URLSearchParams({
			producerName: this.name,
			batchingEnabled: "true",
			batchingMaxMessages: String(o.batchingMaxMessages),
			batchingMaxPublishDelay: String(o.batchingMaxPublishDelayMs),
			maxPendingMessages: String(o.maxPendingPerTopic),
			compressionType: o.compressionType,
			sendTimeoutMillis: String(o.publishTimeoutMs),
		});
		return `${this.log.wsUrl}/ws/v2/producer/${this.t.restPath}?${q}`;
	}

	/** Queue the batch's messages, in order, sending as the window allows. */
	async send(key: string, payloads: readonly Uint8Array[], batch: PubBatch): Promise<void> {
		// checked before anything goes out, so a batch with an oversized message is refused whole
		const max = this.log.o.maxFrameBytes;
		const big = payloads.find((p) => Math.ceil(p.byteLength / 3) * 4 + key.length + 100 > max);
		if (big) {
			this.log.batches.settle(batch, new Error(`pulsar publish to ${this.t.full}: a ${big.byteLength}-byte message does not fit one WebSocket frame (the broker's webSocketMaxTextFrameSize, ${max} bytes, holds ~${Math.floor(((max - 100) * 3) / 4)} bytes of payload); publish smaller messages`));
			return;
		}
		const jsonKey = Buffer.from(JSON.stringify(key));
		for (const p of payloads) {
			while (this.pending.size >= this.log.o.maxPendingPerTopic && !batch.settled) await new Promise<void>((r) => this.roomWaiters.push(r));
			if (batch.settled) return;
			const seq = this.seq++;
			const frame = sendFrame(p, jsonKey, seq);
			this.pending.set(seq, { frame, batch });
			if (this.ws?.readyState === WebSocket.OPEN) {
				this.cork(this.ws, frame.length);
				this.ws.send(frame, TEXT);
			} else this.connect();
		}
	}

	/**
	 * Gather the frames sent in this tick into few socket writes (one syscall per small frame costs more
	 * than the rest), but write every CORK_BYTES: holding a whole batch of large messages back until the
	 * end of the tick would leave the broker idle while they are encoded.
	 */
	private cork(ws: WebSocket, bytes: number): void {
		const sock = (ws as unknown as { _socket?: import("node:net").Socket })._socket;
		if (!sock) return;
		if (this.corked) {
			this.corkedBytes += bytes;
			if (this.corkedBytes < CORK_BYTES) return;
			// write what is gathered (uncork only writes at the last of nested corks), keep gathering
			sock.uncork();
			sock.cork();
			this.corkedBytes = bytes;
			return;
		}
		this.corked = true;
		this.corkedBytes = bytes;
		sock.cork();
		process.nextTick(() => {
			this.corked = false;
			sock.uncork();
		});
	}

	private connect(): void {
		if (this.opening || this.closed || this.retry) return;
		this.opening = (async () => {
			try {
				const ws = await openSocket(this.url(), this.log.o.token, `producer on ${this.t.full}`, this.log.o);
				if (this.closed) {
					ws.close();
					return;
				}
				this.attempt = 0;
				this.lastError = null;
				this.ws = ws;
				ws.on("message", (d) => this.onAck(d.toString()));
				ws.on("close", () => this.onClose(ws));
				ws.on("error", (e) => this.log.o.logger.warn(`market log: pulsar producer ${this.name} on ${this.t.full}: ${e.message}`));
				// everything not acknowledged yet, in order: a broker with deduplication drops what it has
				for (const s of this.pending.values()) ws.send(s.frame, TEXT);
			} catch (e) {
				const err = e as UpgradeError;
				this.lastError = err.message;
				if (PERMANENT.has(err.status)) this.failAll(err);
				else {
					this.log.o.logger.warn(`market log: ${err.message}; retrying`);
					this.scheduleRetry();
				}
			} finally {
				this.opening = null;
			}
		})();
	}

	private scheduleRetry(): void {
		if (this.closed || !this.pending.size) return;
		this.retry = setTimeout(() => {
			this.retry = null;
			this.connect();
		}, backoff(this.attempt++));
		this.retry.unref();
	}

	private onClose(ws: WebSocket): void {
		if (this.ws !== ws) return;
		this.ws = null;
		if (this.closed) return;
		if (this.pending.size) {
			this.log.o.logger.warn(`market log: pulsar producer ${this.name} on ${this.t.full} lost its connection with ${this.pending.size} messages unacknowledged; resending`);
			this.scheduleRetry();
		}
	}

	private onAck(text: string): void {
		let a: { result?: string; messageId?: string; context?: string; errorMsg?: string };
		try {
			a = JSON.parse(text);
		} catch {
			this.log.o.logger.warn(`market log: pulsar producer ${this.name}: unreadable answer ${text.slice(0, 200)}`);
			return;
		}
		const seq = Number(a.context);
		const s = this.pending.get(seq);
		if (!s) return;
		this.pending.delete(seq);
		if (a.result === "ok") {
			this.log.batches.acked(s.batch);
		} else this.fail(s.batch, new Error(`pulsar publish to ${this.t.full} failed: ${a.result} ${a.errorMsg ?? ""}`.trim()));
		this.wakeRoom();
	}

	private wakeRoom(): void {
		if (this.roomWaiters.length && this.pending.size < this.log.o.maxPendingPerTopic) {
			const ws = this.roomWaiters;
			this.roomWaiters = [];
			for (const w of ws) w();
		}
	}

	holds(b: PubBatch): boolean {
		for (const s of this.pending.values()) if (s.batch === b) return true;
		return false;
	}

	/** Fail a batch and forget its other messages (their late acks are ignored). */
	fail(b: PubBatch, e: Error): void {
		for (const [seq, s] of this.pending) if (s.batch === b) this.pending.delete(seq);
		this.log.batches.settle(b, e);
		this.wakeRoom();
	}

	private failAll(e: Error): void {
		for (const s of [...this.pending.values()]) this.fail(s.batch, e);
	}

	/** Wait until every message sent has its answer. */
	async close(): Promise<void> {
		this.closed = true;
		if (this.retry) clearTimeout(this.retry);
		await this.opening;
		await closeSocket(this.ws);
	}
}

/** What ack/nack need, kept off the Delivery object. */
interface Handle {
	readonly link: TopicLink;
	readonly messageId: string;
}
const handles = new WeakMap<Delivery, Handle>();

/** One consumer connection: one topic of a consumer's subscription. */
class TopicLink {
	ws: WebSocket | null = null;
	/** Permits sent on the current connection and not used yet. */
	outstanding = 0;
	private opening: Promise<void> | null = null;
	private attempt = 0;
	private retry: NodeJS.Timeout | null = null;
	closed = false;
	failed: Error | null = null;

	constructor(
		readonly owner: WsConsumer,
		readonly t: PulsarTopic,
	) {}

	/** Connect unless connected, connecting or waiting to retry. */
	open(): Promise<void> {
		if (this.opening) return this.opening;
		if (this.closed || this.ws || this.retry || this.failed) return Promise.resolve();
		this.opening = (async () => {
			try {
				const ws = await openSocket(this.owner.url(this.t), this.owner.log.o.token, `consumer ${this.owner.subscription} on ${this.t.full}`, this.owner.log.o);
				if (this.closed) {
					ws.close();
					return;
				}
				this.attempt = 0;
				this.ws = ws;
				this.outstanding = 0;
				this.owner.linkOpened(this);
				ws.on("message", (d) => this.owner.onMessage(this, ws, d.toString()));
				ws.on("close", () => this.onClose(ws));
				ws.on("error", (e) => this.owner.log.o.logger.warn(`market log: pulsar consumer on ${this.t.full}: ${e.message}`));
				this.owner.topUp();
			} catch (e) {
				const err = e as UpgradeError;
				if (CONSUMER_PERMANENT.has(err.status)) {
					this.failed = err;
					this.owner.skip(this.t.full, err);
				} else {
					this.owner.log.o.logger.warn(`market log: ${err.message}; retrying`);
					this.scheduleRetry();
				}
			} finally {
				this.opening = null;
			}
		})();
		return this.opening;
	}

	private scheduleRetry(): void {
		if (this.closed) return;
		this.retry = setTimeout(() => {
			this.retry = null;
			void this.open();
		}, backoff(this.attempt++));
		this.retry.unref();
	}

	private onClose(ws: WebSocket): void {
		if (this.ws !== ws) return;
		this.ws = null;
		this.outstanding = 0;
		// buffered deliveries of that connection go back to the subscription with it
		this.owner.dropBuffered(this);
		if (!this.closed) {
			this.owner.log.o.logger.warn(`market log: pulsar consumer on ${this.t.full} lost its connection; reconnecting`);
			this.scheduleRetry();
		}
	}

	permit(n: number): void {
		if (n <= 0 || this.ws?.readyState !== WebSocket.OPEN) return;
		this.outstanding += n;
		this.ws.send(JSON.stringify({ type: "permit", permitMessages: n }));
	}

	/** Send a command; resolves once written to the socket (false: no open connection). */
	command(o: Record<string, unknown>): Promise<boolean> {
		const ws = this.ws;
		if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.resolve(false);
		return new Promise((resolve) => ws.send(JSON.stringify(o), (err) => resolve(!err)));
	}

	async close(): Promise<void> {
		this.closed = true;
		if (this.retry) clearTimeout(this.retry);
		await this.opening;
		await closeSocket(this.ws);
	}
}

class WsConsumer implements Consumer {
	readonly links = new Map<string, TopicLink>();
	private readonly regexes: RegExp[];
	private readonly namespaces: string[];
	private buffer: Delivery[] = [];
	private bufHead = 0;
	readonly held = new Map<string, Delivery>();
	private readonly nackTimers = new Set<NodeJS.Timeout>();
	private readonly signal = new Signal();
	private discoveryTimer: NodeJS.Timeout | null = null;
	private discovering: Promise<void> | null = null;
	private rotate = 0;
	/** `max` of the latest pull: how many permits a connection may have out. */
	private demand = 0;
	private closed = false;
	private warnedDiscovery = false;
	/** Topics skipped because the broker refused them: logged once each until a connection works. */
	private readonly skipped = new Set<string>();
	readonly stats = { malformed: 0 };

	constructor(
		readonly log: PulsarWsLog,
		readonly subscription: string,
		readonly patterns: string[],
		private readonly ackTimeoutMs: number,
		private readonly maxInFlight: number,
	) {
		const wild = patterns.filter((p) => !isLiteral(p));
		this.regexes = wild.map((p) => new RegExp(`^${localNameRegex(p)}$`));
		this.namespaces = [...new Set(wild.flatMap((p) => namespacesOf(p, log.o.layout)))];
	}

	url(t: PulsarTopic): string {
		const q = new URLSearchParams({
			subscriptionType: this.log.o.subscriptionType,
			subscriptionInitialPosition: "Earliest",
			ackTimeoutMillis: String(this.ackTimeoutMs),
			negativeAckRedeliveryDelay: String(MIN_NACK_DELAY_MS),
			receiverQueueSize: String(Math.min(1000, this.maxInFlight)),
			pullMode: "true",
			consumerName: `${this.log.clientId}-${this.subscription}`,
		});
		return `${this.log.wsUrl}/ws/v2/consumer/${t.restPath}/${encodeURIComponent(this.subscription)}?${q}`;
	}

	matches(topic: string): boolean {
		return this.patterns.some((p) => topicMatches(p, topic));
	}

	async start(): Promise<void> {
		const literal = this.patterns.filter(isLiteral);
		await Promise.all(literal.map((p) => this.ensureLink(p)));
		if (this.regexes.length) {
			for (const topic of this.log.knownTopics) if (this.matches(topic)) await this.follow(topic);
			await this.discover();
			// discover() handles its own errors; an unhandled rejection from a timer would end the process
			this.discoveryTimer = setInterval(() => this.discover().catch((e: Error) => this.log.o.logger.error(`market log: pulsar topic discovery for ${this.subscription} failed: ${e.message}`)), this.log.o.discoveryIntervalMs);
			this.discoveryTimer.unref();
		}
	}

	/** List the namespaces and open a connection for every new matching topic. */
	discover(): Promise<void> {
		if (this.discovering || this.closed) return this.discovering ?? Promise.resolve();
		this.discovering = (async () => {
			for (const ns of this.namespaces) {
				let names: string[];
				try {
					names = await this.log.admin.listTopics(ns);
				} catch (e) {
					if (!this.warnedDiscovery) this.log.o.logger.warn(`market log: cannot list pulsar topics of ${ns} (${(e as Error).message}); only topics this process publishes to and literal patterns are consumed until it works`);
					this.warnedDiscovery = true;
					continue;
				}
				for (const full of names) {
					// one topic the broker refuses (403, a subscription held with another type: 409, deleted
					// since the listing: 404) or a name we cannot map must not stop the others
					try {
						const topic = logTopic(full);
						if (topic && this.matches(topic) && pulsarTopic(topic, this.log.o.layout).full === full) await this.ensureLink(topic, true);
					} catch (e) {
						this.skip(full, e as Error);
					}
				}
			}
		})().finally(() => (this.discovering = null));
		return this.discovering;
	}

	/** Connect to a topic; throws the broker's refusal. `retry`: try again a topic refused before. */
	async ensureLink(topic: string, retry = false): Promise<void> {
		if (this.closed) return;
		const t = pulsarTopic(topic, this.log.o.layout);
		let link = this.links.get(t.full);
		if (!link) {
			link = new TopicLink(this, t);
			this.links.set(t.full, link);
		} else if (retry && link.failed) link.failed = null;
		await link.open();
		if (link.failed) throw link.failed;
	}

	/** ensureLink for a topic found rather than asked for: a refusal is logged and the topic skipped, never thrown. */
	async follow(topic: string): Promise<void> {
		let full = topic;
		try {
			full = pulsarTopic(topic, this.log.o.layout).full;
			await this.ensureLink(topic, true);
		} catch (e) {
			this.skip(full, e as Error);
		}
	}

	/** @internal Log a refused topic once (the reason, never the token: it travels only in a header). */
	skip(full: string, e: Error): void {
		if (this.closed || this.skipped.has(full)) return;
		this.skipped.add(full);
		const local = full.slice(full.lastIndexOf("/") + 1);
		const later = this.regexes.some((r) => r.test(local)) ? "; skipping it, a later discovery round tries again" : "";
		this.log.o.logger.error(`market log: pulsar consumer ${this.subscription} cannot consume ${full}: ${e.message}${later}`);
	}

	/** @internal */
	linkOpened(link: TopicLink): void {
		if (this.skipped.delete(link.t.full)) this.log.o.logger.info(`market log: pulsar consumer ${this.subscription} now consumes ${link.t.full}`);
	}

	/**
	 * Permits follow demand, as a fetch does: each connection may have up to the last pull's `max`
	 * permitted, and held + buffered + permitted never exceeds maxInFlight. Permitting more up front
	 * would let the first consumer of a subscription take everything before a second one arrives.
	 */
	topUp(): void {
		if (this.closed || this.demand <= 0) return;
		const open = [...this.links.values()].filter((l) => l.ws?.readyState === WebSocket.OPEN);
		if (!open.length) return;
		let outstanding = 0;
		for (const l of open) outstanding += l.outstanding;
		let room = this.maxInFlight - this.held.size - (this.buffer.length - this.bufHead) - outstanding;
		const start = this.rotate++ % open.length;
		for (let i = 0; i < open.length && room > 0; i++) {
			const l = open[(start + i) % open.length];
			// top a connection up once it has used half its window: fewer, larger permit frames
			if (l.outstanding * 2 > this.demand) continue;
			const n = Math.min(this.demand - l.outstanding, room);
			l.permit(n);
			room -= n;
		}
	}

	onMessage(link: TopicLink, ws: WebSocket, text: string): void {
		if (link.ws !== ws) return;
		link.outstanding = Math.max(0, link.outstanding - 1);
		let m: { messageId?: unknown; payload?: unknown; publishTime?: unknown; redeliveryCount?: unknown; key?: unknown };
		try {
			m = JSON.parse(text);
		} catch {
			m = {};
		}
		if (typeof m.messageId !== "string" || typeof m.payload !== "string") {
			// not a message (e.g. an error text): count it, say so, keep going
			this.stats.malformed++;
			this.log.o.logger.warn(`market log: pulsar consumer on ${link.t.full}: ignored a frame that is not a message: ${text.slice(0, 200)}`);
			return;
		}
		const d: Delivery = {
			id: m.messageId,
			topic: link.t.topic,
			key: typeof m.key === "string" ? m.key : "",
			payload: new Uint8Array(Buffer.from(m.payload, "base64")),
			deliveryCount: (typeof m.redeliveryCount === "number" ? m.redeliveryCount : 0) + 1,
			publishTime: parsePublishTime(m.publishTime),
		};
		handles.set(d, { link, messageId: m.messageId });
		this.buffer.push(d);
		this.signal.notify();
	}

	dropBuffered(link: TopicLink): void {
		const keep: Delivery[] = [];
		for (let i = this.bufHead; i < this.buffer.length; i++) if (handles.get(this.buffer[i])?.link !== link) keep.push(this.buffer[i]);
		this.buffer = keep;
		this.bufHead = 0;
	}

	async pull(max: number, waitMs: number): Promise<Delivery[]> {
		if (this.closed || max <= 0) return [];
		const deadline = Date.now() + waitMs;
		this.demand = max;
		for (;;) {
			const out = this.take(max);
			this.topUp();
			if (out.length || this.closed) return out;
			const left = deadline - Date.now();
			if (left <= 0) return [];
			await this.signal.wait(left);
		}
	}

	private take(max: number): Delivery[] {
		const n = Math.min(max, this.buffer.length - this.bufHead);
		if (n <= 0) return [];
		const out = this.buffer.slice(this.bufHead, this.bufHead + n);
		this.bufHead += n;
		if (this.bufHead === this.buffer.length) {
			this.buffer = [];
			this.bufHead = 0;
		}
		for (const d of out) this.held.set(d.id, d);
		return out;
	}

	async ack(deliveries: readonly Delivery[]): Promise<void> {
		const sent: Promise<boolean>[] = [];
		for (const d of deliveries) {
			const h = handles.get(d);
			if (!h) throw new TypeError(`delivery ${d.id} did not come from this Pulsar log`);
			this.held.delete(d.id);
			// pull mode lets an ack travel on whichever connection of the topic is open now
			sent.push(h.link.command({ messageId: h.messageId }));
		}
		await Promise.all(sent);
		this.topUp();
	}

	async nack(deliveries: readonly Delivery[], delayMs = 0): Promise<void> {
		const now: Handle[] = [];
		const later: Handle[] = [];
		for (const d of deliveries) {
			const h = handles.get(d);
			if (!h) throw new TypeError(`delivery ${d.id} did not come from this Pulsar log`);
			this.held.delete(d.id);
			(delayMs > MIN_NACK_DELAY_MS ? later : now).push(h);
		}
		const send = (hs: Handle[]) => Promise.all(hs.map((h) => h.link.command({ type: "negativeAcknowledge", messageId: h.messageId })));
		if (later.length) {
			// the connection's own delay (MIN_NACK_DELAY_MS) comes on top
			const t = setTimeout(() => {
				this.nackTimers.delete(t);
				void send(later);
			}, delayMs - MIN_NACK_DELAY_MS);
			this.nackTimers.add(t);
		}
		await send(now);
		this.topUp();
	}

	async close(): Promise<void> {
		if (this.closed) return;
		this.closed = true;
		this.signal.notify();
		if (this.discoveryTimer) clearInterval(this.discoveryTimer);
		for (const t of this.nackTimers) clearTimeout(t);
		// closing the connections hands every un-acked message back to the subscription
		await Promise.all([...this.links.values()].map((l) => l.close()));
		this.held.clear();
		this.buffer = [];
		this.bufHead = 0;
		this.log.consumerClosed(this);
	}
}

export class PulsarWsLog implements MarketLog {
	readonly driver = "pulsar";
	readonly client = "websocket";
	readonly o: ResolvedPulsarOptions;
	readonly wsUrl: string;
	readonly admin: PulsarAdmin;
	readonly clientId: string;
	/** Topics this log has published to: consumers of this log pick them up without waiting for discovery. */
	readonly knownTopics = new Set<string>();
	private readonly producers = new Map<string, TopicProducer>();
	private readonly ensured = new Map<string, Promise<void>>();
	private readonly consumers = new Set<WsConsumer>();
	/** @internal the producers ack and fail through it */
	readonly batches: PublishBatches;
	private closed = false;
	private producerCount = 0;
	private warnedCreate = false;

	constructor(opts: PulsarLogOptions) {
		this.o = resolveOptions(opts);
		const urls = deriveUrls(this.o.url, this.o.adminUrl);
		this.wsUrl = urls.ws;
		this.admin = new PulsarAdmin({ url: urls.admin, token: this.o.token });
		this.clientId = `${this.o.producerNamePrefix}-${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
		this.batches = new PublishBatches(this.o.publishTimeoutMs, (b) => this.stalled(b));
	}

	/** Build and check that the admin API answers (a wrong token or URL fails here, not on first use). */
	static async connect(opts: PulsarLogOptions): Promise<PulsarWsLog> {
		const log = new PulsarWsLog(opts);
		await log.ping();
		log.o.logger.info(`market log: pulsar via WebSocket at ${log.wsUrl} (tenant ${log.o.layout.tenant}, namespaces ${log.o.layout.namespace} and ${log.o.layout.historicalNamespace})`);
		return log;
	}

	// ---- publish

	async publish(topic: string, key: string, payloads: readonly Uint8Array[]): Promise<void> {
		this.assertOpen();
		const t = pulsarTopic(topic, this.o.layout);
		assertKey(key);
		if (!payloads.length) return;
		const p = await this.producer(t);
		const { batch, done } = this.batches.start(payloads.length);
		await p.send(key, payloads, batch);
		return done;
	}

	private async producer(t: PulsarTopic): Promise<TopicProducer> {
		let p = this.producers.get(t.full);
		if (!p) {
			await this.ensureTopic(t);
			p = this.producers.get(t.full);
			if (!p) {
				p = new TopicProducer(this, t, `${this.clientId}-${this.producerCount++}`);
				this.producers.set(t.full, p);
				if (!this.knownTopics.has(t.topic)) {
					this.knownTopics.add(t.topic);
					for (const c of this.consumers) if (c.matches(t.topic)) void c.follow(t.topic);
				}
			}
		}
		return p;
	}

	/** Topics are created on first use: through the admin API when allowed, else by the broker's auto-creation. */
	private ensureTopic(t: PulsarTopic): Promise<void> {
		if (!this.o.createTopics) return Promise.resolve();
		let e = this.ensured.get(t.full);
		if (!e) {
			e = this.admin.createTopic(t.restPath).then(
				() => undefined,
				(err: Error) => {
					if (!this.warnedCreate) this.o.logger.warn(`market log: could not create ${t.full} through the admin API (${err.message}); relying on the broker's topic auto-creation`);
					this.warnedCreate = true;
				},
			);
			this.ensured.set(t.full, e);
		}
		return e;
	}

	/** No acknowledgement for the publish timeout: fail the batch everywhere it is pending, with the last reason known. */
	private stalled(b: PubBatch): void {
		const owners = [...this.producers.values()].filter((p) => p.holds(b));
		const why = owners.map((p) => p.lastError).find(Boolean);
		const err = new Error(`pulsar publish to ${owners.map((p) => p.t.full).join(", ") || "?"}: no acknowledgement for ${this.o.publishTimeoutMs} ms${why ? `; last error: ${why}` : ""}`);
		for (const p of owners) p.fail(b, err);
		this.batches.settle(b, err);
	}

	// ---- consume

	async consumer(opts: ConsumerOptions): Promise<Consumer> {
		this.assertOpen();
		if (!opts.subscription) throw new TypeError("consumer needs a subscription name");
		const patterns = consumerPatterns(opts.topics);
		const ackTimeoutMs = Math.max(MIN_ACK_TIMEOUT_MS, opts.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS);
		const c = new WsConsumer(this, opts.subscription, patterns, ackTimeoutMs, opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
		this.consumers.add(c);
		try {
			await c.start();
		} catch (e) {
			await c.close();
			throw e;
		}
		return c;
	}

	/** @internal */
	consumerClosed(c: WsConsumer): void {
		this.consumers.delete(c);
	}

	// ---- lifecycle

	async ping(): Promise<void> {
		this.assertOpen();
		const ns = `${this.o.layout.tenant}/${this.o.layout.namespace}`;
		try {
			await this.admin.listTopics(ns);
		} catch (e) {
			throw new Error(`pulsar unreachable: ${(e as Error).message}`, { cause: e });
		}
	}

	async flush(): Promise<void> {
		await this.batches.flush();
	}

	async close(): Promise<void> {
		if (this.closed) return;
		this.closed = true;
		await Promise.all([...this.consumers].map((c) => c.close()));
		await this.batches.flush();
		await Promise.all([...this.producers.values()].map((p) => p.close()));
		this.batches.stop();
	}

	private assertOpen(): void {
		if (this.closed) throw new Error("market log (pulsar) is closed");
	}
}
