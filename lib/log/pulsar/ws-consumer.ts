import WebSocket from "ws";
import { topicMatches } from "../../domain/topics";
import type { Consumer, Delivery } from "../types";
import { parsePublishTime } from "./message-id";
import { Signal } from "./signal";
import { MIN_NACK_DELAY_MS } from "./options";
import { isLiteral, localNameRegex, logTopic, namespacesOf, pulsarTopic, type PulsarTopic } from "./topics";
import type { PulsarWsLog } from "./websocket";
import { backoff, closeSocket, CONSUMER_PERMANENT, openSocket, UpgradeError } from "./ws-socket";

/** The Pulsar WebSocket log's consumer: one connection per matching topic, in pull mode (see "Consuming" in lib/log/pulsar/websocket.ts). */

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

export class WsConsumer implements Consumer {
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
