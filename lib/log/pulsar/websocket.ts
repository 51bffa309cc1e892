import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { assertKey, consumerPatterns } from "../names";
import { PublishBatches, type PubBatch } from "../publish-batches";
import type { Consumer, ConsumerOptions, MarketLog } from "../types";
import { PulsarAdmin } from "./admin";
import { DEFAULT_ACK_TIMEOUT_MS, DEFAULT_MAX_IN_FLIGHT, MIN_ACK_TIMEOUT_MS, resolveOptions, type PulsarLogOptions, type ResolvedPulsarOptions } from "./options";
import { deriveUrls, pulsarTopic, type PulsarTopic } from "./topics";
import { WsConsumer } from "./ws-consumer";
import { TopicProducer } from "./ws-producer";


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
