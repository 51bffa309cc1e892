import http from "node:http";
import { crc32 } from "node:zlib";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { encodeMessageId, formatPublishTime } from "../../lib/log/pulsar/message-id";

/**
 * A stand-in for a Pulsar broker's WebSocket service and the part of its admin REST API the log uses,
 * written from the broker's documented protocol (pulsar.apache.org "Pulsar WebSocket API") and its
 * source (pulsar-websocket ProducerHandler / ConsumerHandler, TopicName, MessageIdData):
 *
 * - producer  /ws/v2/producer/persistent/{tenant}/{namespace}/{topic}?producerName=&initialSequenceId=
 *   &batchingEnabled=&batchingMaxMessages=&batchingMaxPublishDelay=&compressionType=&messageRoutingMode=
 *   &hashingScheme=&sendTimeoutMillis=&maxPendingMessages=; message {payload (base64), properties,
 *   context, key, sequenceId}; answer {result:"ok", messageId, context} or {result:"send-error:<code>",
 *   errorMsg, context}. Message ids are base64 protobuf MessageIdData (ledger, entry, batch index when
 *   the producer batches). Two producers with one name on a topic: HTTP 409 (ProducerBusy).
 * - consumer  /ws/v2/consumer/persistent/{tenant}/{namespace}/{topic}/{subscription}?subscriptionType=
 *   Exclusive|Failover|Shared|Key_Shared&subscriptionInitialPosition=Latest|Earliest&ackTimeoutMillis=
 *   &receiverQueueSize=&negativeAckRedeliveryDelay=&pullMode=&consumerName=; pushes {messageId, payload,
 *   properties, publishTime, redeliveryCount, key}; takes {messageId} (ack), {type:"negativeAcknowledge",
 *   messageId}, {type:"permit", permitMessages}. Push mode keeps at most receiverQueueSize (max 1000)
 *   unacked per consumer; pull mode sends only what was permitted.
 * - redelivery: un-acked messages of a consumer that disconnects go to the others at once; ack timeout
 *   (>= 1000 ms, as the Java client enforces) and negative acks (after max(100 ms, delay), the client's
 *   minimum) send a message back; each redelivery raises redeliveryCount.
 * - Shared: round robin over consumers with room; Key_Shared: a key always goes to the same consumer
 *   (hash of the key over the connected consumers) and its messages wait rather than skip ahead.
 * - a topic's path must have exactly the documented number of '/'-separated parts (the broker checks
 *   9 for a consumer), so a local name with a raw '/' is refused with HTTP 400; topics are created on
 *   first use inside an existing namespace; deduplication (per namespace, off by default as on a broker)
 *   drops a message whose sequence id is not above the last one stored for its producer name and
 *   answers it with the id -1:-1, as the broker does.
 * - token auth: with `token` set, the upgrade and every admin call need `Authorization: Bearer <token>`
 *   (or ?token= on the upgrade); anything else gets HTTP 401. A topic in `forbidden` gets HTTP 403 on the
 *   upgrade (the role may not produce/consume there), as the WebSocket service answers a failed
 *   authorization.
 * - half-open connections: a broker notices a producer's dead connection only when its keepalive gives
 *   up, and until then a new producer with that name gets 409 ProducerBusy. `producerBusyAfterDropMs`
 *   keeps a producer whose connection ended without a close handshake registered that long.
 *
 * Batching follows the producer's parameters: a batch is stored and answered when it holds
 * batchingMaxMessages messages or 128 KiB of payload (the Java producer's batchingMaxBytes), or
 * batchingMaxPublishDelay ms after its first message.
 *
 * Stored messages stay (no retention limits); batches are acknowledged per message (as with
 * acknowledgmentAtBatchIndexLevelEnabled). Compression happens between the WebSocket service and the
 * bookies, so it is only recorded here (producerParams), not performed.
 */
export interface FakePulsarOptions {
	port?: number;
	token?: string;
	/** Namespaces that exist at start, default ["public/default"]. */
	namespaces?: string[];
	/** Deduplication for every namespace (brokerDeduplicationEnabled), default false. */
	deduplication?: boolean;
	/**
	 * Check that each payload is standard base64 and answer send-error:7 otherwise, as the broker does.
	 * Default true. Benchmarks turn it off to keep the fake's CPU off the figure, and check what arrived
	 * afterwards instead (`retain: false`'s counts and CRC-32s).
	 */
	validatePayloads?: boolean;
	/**
	 * Keep what is published (default true). False (benchmarks): nothing is kept, and each topic keeps per key
	 * only a count and a CRC-32 of the payloads' base64 text in arrival order (`digest()`), so the fake's memory
	 * and collector stay out of the figure while a lost, doubled, reordered or damaged message still shows.
	 */
	retain?: boolean;
}

interface Stored {
	readonly topic: Topic;
	readonly index: number;
	readonly id: string;
	/** the base64 text as it arrived (its UTF-8 bytes): a Buffer, so thousands of stored 10 kB payloads are not heap strings copied by every scavenge */
	readonly payload: Buffer;
	readonly key: string | undefined;
	readonly properties: Record<string, string>;
	readonly publishTime: number;
}

interface Topic {
	readonly name: string; // persistent://tenant/ns/local
	readonly namespace: string;
	readonly ledgerId: bigint;
	nextEntry: bigint;
	readonly messages: Stored[];
	readonly byId: Map<string, Stored>;
	/** key ("" for none) -> count and CRC-32 of the base64 payloads in arrival order; filled when not retaining */
	readonly digests: Map<string, { count: number; crc: number }>;
	readonly subs: Map<string, Subscription>;
	readonly lastSequence: Map<string, number>;
	readonly producers: Set<ProducerConn>;
}

const SUB_TYPES = ["Exclusive", "Failover", "Shared", "Key_Shared"] as const;
type SubType = (typeof SUB_TYPES)[number];
const COMPRESSION = ["NONE", "LZ4", "ZLIB", "ZSTD", "SNAPPY"];
const ROUTING = ["SinglePartition", "RoundRobinPartition", "CustomPartition"];
const HASHING = ["JavaStringHash", "Murmur3_32Hash"];
/**
 * The Java producer behind the WebSocket service sends a batch once it holds this many payload bytes
 * (ProducerConfigurationData.batchingMaxBytes, 128 KiB; the WebSocket API does not let a client change it).
 */
const BATCHING_MAX_BYTES = 128 * 1024;
/** WebSocketError codes of the broker. */
const ERR = { deserialize: 3, payload: 7, unknown: 8 };

class Subscription {
	cursor: number;
	readonly replay: Stored[] = [];
	readonly redeliveries = new Map<number, number>();
	readonly pending = new Map<number, ConsumerConn>();
	readonly consumers: ConsumerConn[] = [];
	private rr = 0;

	constructor(
		readonly topic: Topic,
		readonly name: string,
		readonly type: SubType,
		initialPosition: "Latest" | "Earliest",
		private readonly server: FakePulsar,
	) {
		this.cursor = initialPosition === "Earliest" ? 0 : topic.messages.length;
	}

	dispatch(): void {
		for (;;) {
			if (!this.consumers.length) return;
			const msg = this.replay.length ? this.replay[0] : this.cursor < this.topic.messages.length ? this.topic.messages[this.cursor] : null;
			if (!msg) return;
			const c = this.pick(msg);
			if (!c) return;
			if (this.replay.length && this.replay[0] === msg) this.replay.shift();
			else this.cursor++;
			this.pending.set(msg.index, c);
			c.deliver(msg, this.redeliveries.get(msg.index) ?? 0);
		}
	}

	private pick(msg: Stored): ConsumerConn | null {
		const cs = this.consumers;
		if (this.type === "Exclusive" || this.type === "Failover") return cs[0].hasRoom() ? cs[0] : null;
		if (this.type === "Key_Shared") {
			// a key's messages wait for their consumer: skipping ahead would break per-key order
			const c = cs[keyHash(msg.key ?? "") % cs.length];
			return c.hasRoom() ? c : null;
		}
		for (let i = 0; i < cs.length; i++) {
			const c = cs[(this.rr + i) % cs.length];
			if (c.hasRoom()) {
				this.rr = (this.rr + i + 1) % cs.length;
				return c;
			}
		}
		return null;
	}

	/** Back to the subscription, in publish order, one redelivery more. */
	redeliver(msgs: Stored[]): void {
		for (const m of msgs) {
			if (!this.pending.delete(m.index)) continue;
			this.redeliveries.set(m.index, (this.redeliveries.get(m.index) ?? 0) + 1);
			let i = this.replay.length;
			while (i > 0 && this.replay[i - 1].index > m.index) i--;
			this.replay.splice(i, 0, m);
			this.server.stats.redelivered++;
		}
		this.dispatch();
	}

	ack(m: Stored): void {
		const holder = this.pending.get(m.index);
		if (!holder) return;
		this.pending.delete(m.index);
		this.redeliveries.delete(m.index);
		holder.release(m.index);
		this.server.stats.acked++;
	}

	stats() {
		return {
			type: this.type,
			msgBacklog: this.topic.messages.length - this.cursor + this.replay.length + this.pending.size,
			unackedMessages: this.pending.size,
			consumers: this.consumers.map((c) => ({ consumerName: c.name, unackedMessages: c.held.size, availablePermits: c.pullMode ? c.permits : 0 })),
		};
	}
}

class ConsumerConn {
	permits = 0;
	readonly held = new Map<number, { msg: Stored; deadline: number }>();
	private readonly nackTimers = new Set<NodeJS.Timeout>();
	private timer: NodeJS.Timeout | null = null;
	closed = false;

	constructor(
		readonly ws: WebSocket,
		readonly sub: Subscription,
		readonly name: string,
		readonly pullMode: boolean,
		private readonly queueSize: number,
		private readonly ackTimeoutMs: number,
		private readonly nackDelayMs: number,
		private readonly server: FakePulsar,
	) {
		if (ackTimeoutMs > 0) {
			this.timer = setInterval(() => this.expire(), Math.min(100, ackTimeoutMs));
			this.timer.unref();
		}
	}

	hasRoom(): boolean {
		if (this.closed) return false;
		return this.pullMode ? this.permits > 0 : this.held.size < this.queueSize;
	}

	deliver(m: Stored, redeliveryCount: number): void {
		if (this.pullMode) this.permits--;
		this.held.set(m.index, { msg: m, deadline: Date.now() + this.ackTimeoutMs });
		const frame: Record<string, unknown> = { messageId: m.id, payload: m.payload.toString(), properties: m.properties, publishTime: formatPublishTime(m.publishTime), redeliveryCount };
		if (m.key !== undefined) frame.key = m.key;
		this.ws.send(JSON.stringify(frame));
		this.server.stats.delivered++;
	}

	release(index: number): void {
		this.held.delete(index);
		if (!this.pullMode) this.sub.dispatch();
	}

	private expire(): void {
		const now = Date.now();
		const due: Stored[] = [];
		for (const [i, h] of this.held) {
			if (h.deadline <= now) {
				this.held.delete(i);
				due.push(h.msg);
			}
		}
		if (due.length) this.sub.redeliver(due);
	}

	onText(text: string): void {
		let cmd: { type?: unknown; messageId?: unknown; permitMessages?: unknown };
		try {
			cmd = JSON.parse(text);
			if (typeof cmd !== "object" || cmd === null) throw new Error("not an object");
		} catch {
			this.ws.close(1003, "Failed to deserialize from JSON");
			return;
		}
		if (cmd.type === "permit") {
			if (typeof cmd.permitMessages !== "number") {
				this.ws.close(1003, "Missing required permitMessages field for 'permit' command");
				return;
			}
			if (this.pullMode) {
				this.permits += cmd.permitMessages;
				this.sub.dispatch();
			}
			return;
		}
		if (typeof cmd.messageId !== "string") {
			this.ws.close(1003, "Failed to deserialize message id");
			return;
		}
		const m = this.sub.topic.byId.get(cmd.messageId);
		if (!m) return; // an id the topic does not have: the broker ignores it
		if (cmd.type === "negativeAcknowledge") {
			if (this.sub.pending.get(m.index) !== this) return;
			this.server.stats.nacked++;
			const t = setTimeout(() => {
				this.nackTimers.delete(t);
				if (this.held.delete(m.index)) this.sub.redeliver([m]);
			}, this.nackDelayMs);
			this.nackTimers.add(t);
			return;
		}
		// in pull mode an ack may come on another connection of the subscription
		this.sub.ack(m);
	}

	onClose(): void {
		if (this.closed) return;
		this.closed = true;
		if (this.timer) clearInterval(this.timer);
		for (const t of this.nackTimers) clearTimeout(t);
		const i = this.sub.consumers.indexOf(this);
		if (i >= 0) this.sub.consumers.splice(i, 1);
		const back = [...this.held.values()].map((h) => h.msg);
		this.held.clear();
		this.sub.redeliver(back);
	}
}

class ProducerConn {
	private batch: { msgs: { m: Omit<Stored, "id" | "index"> & { context: unknown }; seq: number }[]; bytes: number; timer: NodeJS.Timeout } | null = null;
	private lastSeq: number;

	constructor(
		readonly ws: WebSocket,
		readonly topic: Topic,
		readonly name: string,
		readonly params: Record<string, string>,
		private readonly server: FakePulsar,
	) {
		const init = params.initialSequenceId !== undefined ? Number(params.initialSequenceId) : -1;
		this.lastSeq = Math.max(init, topic.lastSequence.get(name) ?? -1);
	}

	private reply(o: Record<string, unknown>): void {
		if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(o));
	}

	onFrame(frame: Buffer): void {
		const validate = this.server.validatePayloads;
		const fast = parsePayloadFirst(frame, validate, this.server.retain);
		let req = fast?.rest ?? null;
		try {
			req ??= JSON.parse(frame.toString()) as SendRequest;
			if (typeof req !== "object" || req === null) throw new Error("expected a JSON object");
		} catch (e) {
			this.reply({ result: `send-error:${ERR.deserialize}`, errorMsg: (e as Error).message, context: null });
			return;
		}
		const context = req.context ?? null;
		if (!fast && (typeof req.payload !== "string" || (validate && !isBase64(req.payload)))) {
			this.reply({ result: `send-error:${ERR.payload}`, errorMsg: "Invalid Base64 message-payload", context });
			return;
		}
		const payload = fast ? fast.payload : Buffer.from(req.payload as string);
		const seq = typeof req.sequenceId === "number" && req.sequenceId >= 0 ? req.sequenceId : this.lastSeq + 1;
		this.lastSeq = Math.max(this.lastSeq, seq);
		if (this.server.dedupOn(this.topic.namespace) && seq <= (this.topic.lastSequence.get(this.name) ?? -1)) {
			this.server.stats.duplicates++;
			this.reply({ result: "ok", messageId: encodeMessageId({ ledgerId: -1n, entryId: -1n, partition: -1, batchIndex: -1 }), context });
			return;
		}
		this.topic.lastSequence.set(this.name, seq);
		const m = {
			topic: this.topic,
			payload,
			key: typeof req.key === "string" ? req.key : undefined,
			properties: (req.properties && typeof req.properties === "object" ? req.properties : {}) as Record<string, string>,
			publishTime: Date.now(),
			context,
		};
		if (this.params.batchingEnabled !== "true") {
			const id = this.server.store(this.topic, [m])[0];
			if (this.server.loseNextAcks) {
				this.server.loseNextAcks = false;
				this.ws.terminate();
				return;
			}
			this.reply({ result: "ok", messageId: id, context });
			return;
		}
		if (!this.batch) {
			const delay = Number(this.params.batchingMaxPublishDelay ?? 10);
			this.batch = { msgs: [], bytes: 0, timer: setTimeout(() => this.closeBatch(), delay) };
		}
		this.batch.msgs.push({ m, seq });
		this.batch.bytes += base64Bytes(payload);
		if (this.batch.msgs.length >= Number(this.params.batchingMaxMessages ?? 1000) || this.batch.bytes >= BATCHING_MAX_BYTES) this.closeBatch();
	}

	closeBatch(): void {
		const b = this.batch;
		if (!b) return;
		this.batch = null;
		clearTimeout(b.timer);
		const ids = this.server.store(this.topic, b.msgs.map((x) => x.m), true);
		if (this.server.loseNextAcks) {
			// stored, but the connection dies before the answers go out
			this.server.loseNextAcks = false;
			this.ws.terminate();
			return;
		}
		// one socket write for the batch's answers (a write per answer cost the fake more than the driver's whole send)
		const answers = b.msgs.map((x, i) => JSON.stringify({ result: "ok", messageId: ids[i], context: x.m.context }));
		if (this.ws.readyState !== this.ws.OPEN) return;
		const sock = (this.ws as unknown as { _socket?: import("node:net").Socket })._socket;
		if (sock) sock.write(textFrames(answers));
		else for (const a of answers) this.ws.send(a);
	}

	onClose(code: number): void {
		// a batch not yet written is lost with the connection, as its sends were never acknowledged
		if (this.batch) clearTimeout(this.batch.timer);
		this.batch = null;
		const busyMs = this.server.producerBusyAfterDropMs;
		// a close handshake the broker sees at once; 1006 (no close frame) is a connection that just died
		if (busyMs > 0 && code === 1006) {
			const t = setTimeout(() => this.topic.producers.delete(this), busyMs);
			t.unref();
		} else this.topic.producers.delete(this);
	}
}

type SendRequest = { payload?: unknown; properties?: unknown; context?: unknown; key?: unknown; sequenceId?: unknown };

const PAYLOAD_FIRST = Buffer.from('{"payload":"');

/**
 * The common shape of a send request, payload first, read from the frame's bytes: the payload is the
 * bytes up to the next quote when they are valid base64 (which holds neither '"' nor '\\'), copied out
 * of the frame once, and the small rest goes through JSON.parse. Null when the frame has another shape,
 * the payload is not plain base64, or the rest names a payload again: the caller then parses the whole
 * text, so the answer is always JSON.parse's.
 */
function parsePayloadFirst(frame: Buffer, validate: boolean, copy: boolean): { rest: SendRequest; payload: Buffer } | null {
	const start = PAYLOAD_FIRST.length;
	if (frame.length < start || frame.compare(PAYLOAD_FIRST, 0, start, 0, start) !== 0) return null;
	const end = frame.indexOf(0x22 /* " */, start);
	if (end < 0 || frame[end + 1] !== 44 /* , */) return null;
	if (validate && !isBase64(frame.toString("latin1", start, end))) return null;
	let rest: SendRequest;
	try {
		rest = JSON.parse(`{${frame.toString("utf8", end + 2)}`) as SendRequest;
	} catch {
		return null;
	}
	if (typeof rest !== "object" || rest === null || Object.hasOwn(rest, "payload")) return null;
	if (!copy) return { rest, payload: frame.subarray(start, end) };
	// a copy of its own when kept: the frame may be a view into the socket's 64 KiB read buffer
	const payload = Buffer.allocUnsafeSlow(end - start);
	frame.copy(payload, 0, start, end);
	return { rest, payload };
}

/** Bytes that valid padded base64 text (as text or as its bytes) decodes to. */
function base64Bytes(s: string | Buffer): number {
	const n = s.length;
	const isPad = (i: number) => (typeof s === "string" ? s.charCodeAt(i) : s[i]) === 61; // '='
	return (n / 4) * 3 - (n > 1 && isPad(n - 1) ? (isPad(n - 2) ? 2 : 1) : 0);
}

/** Unmasked server-to-client text frames of the given texts, back to back in one buffer. */
function textFrames(texts: string[]): Buffer {
	let size = 0;
	const lengths = texts.map((t) => {
		const n = Buffer.byteLength(t);
		size += n + (n < 126 ? 2 : n < 65_536 ? 4 : 10);
		return n;
	});
	const out = Buffer.allocUnsafe(size);
	let at = 0;
	texts.forEach((t, i) => {
		const n = lengths[i];
		out[at++] = 0x81; // FIN + text
		if (n < 126) out[at++] = n;
		else if (n < 65_536) {
			out[at++] = 126;
			out.writeUInt16BE(n, at);
			at += 2;
		} else {
			out[at++] = 127;
			out.writeBigUInt64BE(BigInt(n), at);
			at += 8;
		}
		at += out.write(t, at);
	});
	return out;
}

/**
 * Standard base64 with padding, as the broker's Base64.getDecoder() takes it. Node's decoder skips what
 * is not base64 (so a bad character shows as a short result) but also takes the URL alphabet, hence the
 * '-'/'_' check; the same answer as /^[A-Za-z0-9+/]*={0,2}$/ with length % 4 === 0, several times faster
 * on large payloads.
 */
function isBase64(s: string): boolean {
	if (s.length % 4 !== 0) return false;
	const n = base64Bytes(s);
	// decoded into a reused buffer: the stored message keeps the base64 text, the bytes are not needed
	if (base64Scratch.length < n + 3) base64Scratch = Buffer.allocUnsafe(Math.max(n + 3, base64Scratch.length * 2));
	return base64Scratch.write(s, 0, "base64") === n && !s.includes("-") && !s.includes("_");
}
let base64Scratch = Buffer.allocUnsafe(64 * 1024);

function keyHash(key: string): number {
	let h = 0x811c9dc5;
	for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
	return h >>> 0;
}

export class FakePulsar {
	readonly stats = { published: 0, duplicates: 0, delivered: 0, redelivered: 0, acked: 0, nacked: 0, upgrades: 0, rejectedUpgrades: 0 };
	/** Query parameters of every producer connection, for tests. */
	readonly producerParams: Record<string, string>[] = [];
	/** Query parameters of every consumer connection, for tests. */
	readonly consumerParams: Record<string, string>[] = [];
	/** Authorization header of every request and upgrade, and every URL asked for, for tests. */
	readonly requests: { url: string; authorization: string | undefined }[] = [];
	/** Test hook: store the next message or batch, then cut the producer's connection instead of answering. */
	loseNextAcks = false;
	/** Test hook: how long a producer whose connection dropped (no close handshake) still holds its name. */
	producerBusyAfterDropMs = 0;
	/** Test hook: full topic names whose upgrades get HTTP 403. */
	readonly forbidden = new Set<string>();
	readonly topics = new Map<string, Topic>();
	readonly namespaces = new Set<string>();
	private readonly dedupNamespaces = new Set<string>();
	private nextLedger = 10n;
	private readonly sockets = new Set<WebSocket>();
	private readonly http: http.Server;
	// webSocketMaxTextFrameSize: 1 MiB by default on a broker; larger frames close the connection (1009)
	private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 1_048_576 });
	port = 0;

	private constructor(private readonly o: FakePulsarOptions) {
		for (const ns of o.namespaces ?? ["public/default"]) this.namespaces.add(ns);
		this.http = http.createServer((req, res) => this.admin(req, res));
		this.http.on("upgrade", (req, socket, head) => this.upgrade(req, socket as import("node:net").Socket, head));
	}

	static async start(o: FakePulsarOptions = {}): Promise<FakePulsar> {
		const f = new FakePulsar(o);
		await new Promise<void>((resolve, reject) => {
			f.http.once("error", reject);
			f.http.listen(o.port ?? 0, "127.0.0.1", () => resolve());
		});
		f.port = (f.http.address() as AddressInfo).port;
		return f;
	}

	get url(): string {
		return `ws://127.0.0.1:${this.port}`;
	}
	get adminUrl(): string {
		return `http://127.0.0.1:${this.port}`;
	}

	get retain(): boolean {
		return this.o.retain ?? true;
	}

	/** Per key, the count and CRC-32 of the base64 payloads published on a topic (by full name) while not retaining. */
	digest(full: string): Record<string, { count: number; crc: number }> {
		return Object.fromEntries(this.topics.get(full)?.digests ?? []);
	}

	get validatePayloads(): boolean {
		return this.o.validatePayloads ?? true;
	}

	dedupOn(namespace: string): boolean {
		return !!this.o.deduplication || this.dedupNamespaces.has(namespace);
	}

	/** Messages stored on a topic (by full name), in order. */
	messages(full: string): { id: string; payload: Buffer; key: string | undefined; properties: Record<string, string> }[] {
		return (this.topics.get(full)?.messages ?? []).map((m) => ({ id: m.id, payload: Buffer.from(m.payload.toString(), "base64"), key: m.key, properties: m.properties }));
	}

	/** Drop the messages stored on a topic (benchmarks: a checked run need not stay in memory). */
	forget(full: string): void {
		const t = this.topics.get(full);
		if (!t) return;
		t.messages.length = 0;
		t.byId.clear();
		t.digests.clear();
	}

	subscription(full: string, name: string) {
		return this.topics.get(full)?.subs.get(name)?.stats() ?? null;
	}

	/** Cut every WebSocket connection, as a broker restart or a network failure would. */
	dropConnections(): void {
		for (const s of this.sockets) s.terminate();
	}

	async close(): Promise<void> {
		for (const s of this.sockets) s.terminate();
		this.wss.close();
		this.http.closeAllConnections();
		await new Promise<void>((r) => this.http.close(() => r()));
	}

	/** @internal */
	store(t: Topic, ms: Omit<Stored, "id" | "index" | "topic">[], batched = false): string[] {
		const entry = t.nextEntry++;
		const ids: string[] = [];
		ms.forEach((m, i) => {
			const id = encodeMessageId({ ledgerId: t.ledgerId, entryId: batched ? entry : i === 0 ? entry : t.nextEntry++, partition: -1, batchIndex: batched ? i : -1 });
			ids.push(id);
			this.stats.published++;
			if (!this.retain) {
				const k = m.key ?? "";
				const d = t.digests.get(k);
				if (d) {
					d.count++;
					d.crc = crc32(m.payload, d.crc);
				} else t.digests.set(k, { count: 1, crc: crc32(m.payload) });
				return;
			}
			const s: Stored = { topic: t, index: t.messages.length, id, payload: m.payload, key: m.key, properties: m.properties, publishTime: m.publishTime };
			t.messages.push(s);
			t.byId.set(id, s);
		});
		for (const sub of t.subs.values()) sub.dispatch();
		return ids;
	}

	private topic(namespace: string, local: string): Topic | null {
		const name = `persistent://${namespace}/${local}`;
		let t = this.topics.get(name);
		if (!t) {
			if (!this.namespaces.has(namespace)) return null;
			t = { name, namespace, ledgerId: this.nextLedger++, nextEntry: 0n, messages: [], byId: new Map(), digests: new Map(), subs: new Map(), lastSequence: new Map(), producers: new Set() };
			this.topics.set(name, t);
		}
		return t;
	}

	private authorized(req: http.IncomingMessage, query?: URLSearchParams): boolean {
		this.requests.push({ url: req.url ?? "", authorization: req.headers.authorization });
		if (!this.o.token) return true;
		return req.headers.authorization === `Bearer ${this.o.token}` || query?.get("token") === this.o.token;
	}

	private upgrade(req: http.IncomingMessage, socket: import("node:net").Socket, head: Buffer): void {
		const deny = (status: number, reason: string) => {
			this.stats.rejectedUpgrades++;
			socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${reason}`);
		};
		const rawUrl = req.url ?? "";
		const qi = rawUrl.indexOf("?");
		const rawPath = qi >= 0 ? rawUrl.slice(0, qi) : rawUrl;
		const query = new URLSearchParams(qi >= 0 ? rawUrl.slice(qi + 1) : "");
		if (!this.authorized(req, query)) return deny(401, "Failed to authenticate");
		const parts = rawPath.split("/");
		const kind = parts[3];
		// the handlers split the raw request URI: a '/' inside the topic changes the part count
		if (parts[1] !== "ws" || parts[2] !== "v2" || (kind !== "producer" && kind !== "consumer")) return deny(404, "Not found");
		if (parts.length !== (kind === "producer" ? 8 : 9) || parts[4] !== "persistent") return deny(400, "Invalid topic name format");
		const namespace = `${parts[5]}/${parts[6]}`;
		const local = decodeURIComponent(parts[7]);
		if (this.forbidden.has(`persistent://${namespace}/${local}`)) return deny(403, "Not authorized to access topic");
		const params = Object.fromEntries(query.entries());
		if (kind === "producer") {
			const bad = enumError(params, { compressionType: COMPRESSION, messageRoutingMode: ROUTING, hashingScheme: HASHING });
			if (bad) return deny(400, `Invalid query params: ${bad}`);
			const t = this.topic(namespace, local);
			if (!t) return deny(500, `Failed to create producer: Namespace ${namespace} does not exist`);
			const name = params.producerName ?? `standalone-${this.nextLedger}-${t.producers.size}`;
			if ([...t.producers].some((p) => p.name === name)) return deny(409, `Failed to create producer: Producer with name '${name}' is already connected to topic`);
			this.producerParams.push(params);
			this.wss.handleUpgrade(req, socket, head, (ws) => {
				const p = new ProducerConn(ws, t, name, params, this);
				t.producers.add(p);
				this.track(ws, (d) => p.onFrame(d), (code) => p.onClose(code));
			});
			return;
		}
		const subName = decodeURIComponent(parts[8]);
		if (!subName) return deny(400, "Empty subscription name");
		const bad = enumError(params, { subscriptionType: [...SUB_TYPES], subscriptionInitialPosition: ["Latest", "Earliest"] });
		if (bad) return deny(400, `Invalid query params: ${bad}`);
		const ackTimeoutMs = Number(params.ackTimeoutMillis ?? 0);
		if (!Number.isInteger(ackTimeoutMs) || (ackTimeoutMs > 0 && ackTimeoutMs < 1000)) return deny(400, "Invalid query params: Ack timeout should be greater than 1000 ms");
		const t = this.topic(namespace, local);
		if (!t) return deny(500, `Failed to subscribe: Namespace ${namespace} does not exist`);
		const type = (params.subscriptionType ?? "Exclusive") as SubType;
		let sub = t.subs.get(subName);
		if (sub && sub.type !== type && sub.consumers.length) return deny(409, `Failed to subscribe: Subscription is of different type`);
		if (sub && (type === "Exclusive") && sub.consumers.length) return deny(409, "Failed to subscribe: Exclusive consumer is already connected");
		if (!sub || (sub.type !== type && !sub.consumers.length)) {
			const old = sub;
			sub = new Subscription(t, subName, type, params.subscriptionInitialPosition === "Earliest" ? "Earliest" : "Latest", this);
			if (old) {
				// the type of an idle subscription may change; its position and backlog stay
				sub.cursor = old.cursor;
				sub.replay.push(...old.replay);
				for (const [k, v] of old.redeliveries) sub.redeliveries.set(k, v);
			}
			t.subs.set(subName, sub);
		}
		const s = sub;
		this.consumerParams.push(params);
		const queueSize = Math.max(1, Math.min(Number(params.receiverQueueSize ?? 1000), 1000));
		const nackDelay = Math.max(100, Number(params.negativeAckRedeliveryDelay ?? 60_000));
		this.wss.handleUpgrade(req, socket, head, (ws) => {
			const c = new ConsumerConn(ws, s, params.consumerName ?? `c${this.stats.upgrades}`, params.pullMode === "true", queueSize, ackTimeoutMs, nackDelay, this);
			s.consumers.push(c);
			this.track(ws, (d) => c.onText(d.toString()), () => c.onClose());
			s.dispatch();
		});
	}

	private track(ws: WebSocket, onText: (frame: Buffer) => void, onClose: (code: number) => void): void {
		this.stats.upgrades++;
		this.sockets.add(ws);
		ws.on("message", (d, isBinary) => {
			if (isBinary) ws.close(1003, "Failed to deserialize from JSON");
			else onText(d as Buffer); // binaryType "nodebuffer" (ws's default): one Buffer per message
		});
		ws.on("close", (code) => {
			this.sockets.delete(ws);
			onClose(code);
		});
		ws.on("error", () => undefined);
	}

	private admin(req: http.IncomingMessage, res: http.ServerResponse): void {
		const send = (status: number, body?: unknown) => {
			res.writeHead(status, body === undefined ? {} : { "content-type": "application/json" });
			res.end(body === undefined ? undefined : JSON.stringify(body));
		};
		if (!this.authorized(req)) return send(401, { reason: "Authentication required" });
		let body = "";
		req.on("data", (c: Buffer) => (body += c.toString()));
		req.on("end", () => {
			const path = (req.url ?? "").split("?")[0];
			const p = path.split("/").slice(1); // admin, v2, ...
			if (p[0] !== "admin" || p[1] !== "v2") return send(404, { reason: "Not found" });
			const m = req.method;
			if (p[2] === "namespaces") {
				const ns = `${p[3]}/${p[4]}`;
				if (p.length === 4 && m === "GET") {
					if (p[3] !== "public" && ![...this.namespaces].some((n) => n.startsWith(`${p[3]}/`))) return send(404, { reason: "Tenant does not exist" });
					return send(200, [...this.namespaces].filter((n) => n.startsWith(`${p[3]}/`)));
				}
				if (p.length === 5 && m === "PUT") {
					if (this.namespaces.has(ns)) return send(409, { reason: "Namespace already exists" });
					this.namespaces.add(ns);
					return send(204);
				}
				if (p.length === 6 && p[5] === "deduplication" && m === "POST") {
					if (!this.namespaces.has(ns)) return send(404, { reason: "Namespace does not exist" });
					if (body.trim() === "true") this.dedupNamespaces.add(ns);
					else if (body.trim() === "false") this.dedupNamespaces.delete(ns);
					else return send(400, { reason: "expected true or false" });
					return send(204);
				}
				return send(405, { reason: "Method not allowed" });
			}
			if (p[2] === "persistent") {
				const ns = `${p[3]}/${p[4]}`;
				if (!this.namespaces.has(ns)) return send(404, { reason: "Namespace does not exist" });
				if (p.length === 5 && m === "GET") return send(200, [...this.topics.values()].filter((t) => t.namespace === ns).map((t) => t.name));
				if (p.length === 6 && m === "PUT") {
					const name = `persistent://${ns}/${decodeURIComponent(p[5])}`;
					if (this.topics.has(name)) return send(409, { reason: "This topic already exists" });
					this.topic(ns, decodeURIComponent(p[5]));
					return send(204);
				}
				if (p.length === 7 && p[6] === "stats" && m === "GET") {
					const t = this.topics.get(`persistent://${ns}/${decodeURIComponent(p[5])}`);
					if (!t) return send(404, { reason: "Topic not found" });
					return send(200, {
						msgInCounter: t.messages.length,
						publishers: [...t.producers].map((x) => ({ producerName: x.name })),
						subscriptions: Object.fromEntries([...t.subs].map(([k, s]) => [k, s.stats()])),
					});
				}
				if (p.length >= 7) return send(400, { reason: "Invalid topic name" });
				return send(405, { reason: "Method not allowed" });
			}
			send(404, { reason: "Not found" });
		});
	}
}

function enumError(params: Record<string, string>, allowed: Record<string, string[]>): string | null {
	for (const [k, vs] of Object.entries(allowed)) {
		if (params[k] !== undefined && !vs.includes(params[k])) return `Invalid ${k} ${params[k]}`;
	}
	return null;
}
