import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { topicMatches } from "../../domain/topics";
import { assertKey, consumerPatterns } from "../names";
import type { Consumer, ConsumerOptions, Delivery, MarketLog } from "../types";
import { PulsarAdmin } from "./admin";
import { Signal } from "./signal";
import { DEFAULT_ACK_TIMEOUT_MS, DEFAULT_MAX_IN_FLIGHT, MIN_ACK_TIMEOUT_MS, MIN_NACK_DELAY_MS, resolveOptions, type PulsarLogOptions, type ResolvedPulsarOptions } from "./options";
import { deriveUrls, isLiteral, localNameRegex, logTopic, namespacesOf, pulsarTopic } from "./topics";

/**
 * The market-data log on the native `pulsar-client` package (C++ libpulsar underneath, binary protocol
 * on pulsar://host:6650). It is an optional dependency: where libpulsar is missing the package does not
 * install, `loadPulsarClient()` says why, and PULSAR_CLIENT=auto falls back to the WebSocket driver.
 *
 * Written against pulsar-client 1.x's documented API (index.d.ts of apache/pulsar-client-node); no
 * broker could run where it was written, so it has been type-checked, not run: only a real broker can
 * confirm it. The types below are the subset used, declared here so the project type-checks without
 * the package.
 *
 * - one producer per topic: producerName, explicit sequenceId per message (broker deduplication),
 *   partitionKey = key, batching, LZ4, blockIfQueueFull;
 * - one consumer per namespace a subscription's patterns reach: `topicsPattern` (a regex over
 *   persistent://tenant/ns/<local>, which is why local names carry '.' instead of '/') or `topic` for a
 *   single literal pattern; Shared or KeyShared, initial position Earliest, ackTimeoutMs,
 *   nAckRedeliverTimeoutMs at its minimum with each nack delayed by us; a pump per consumer
 *   receives while un-acked + buffered < maxInFlight.
 */
export interface NativeMessageId {
	toString(): string;
}
export interface NativeMessage {
	getTopicName(): string;
	getData(): Buffer;
	getMessageId(): NativeMessageId;
	getPublishTimestamp(): number;
	getRedeliveryCount(): number;
	getPartitionKey(): string;
}
export interface NativeProducer {
	send(m: { data: Buffer; partitionKey?: string; sequenceId?: number; properties?: Record<string, string> }): Promise<NativeMessageId>;
	flush(): Promise<null>;
	close(): Promise<null>;
}
export interface NativeConsumer {
	receive(timeoutMs?: number): Promise<NativeMessage>;
	acknowledge(m: NativeMessage): Promise<null>;
	negativeAcknowledge(m: NativeMessage): void;
	close(): Promise<null>;
}
export interface NativeClient {
	createProducer(c: {
		topic: string;
		producerName?: string;
		sendTimeoutMs?: number;
		maxPendingMessages?: number;
		blockIfQueueFull?: boolean;
		compressionType?: "None" | "Zlib" | "LZ4" | "ZSTD" | "SNAPPY";
		batchingEnabled?: boolean;
		batchingMaxPublishDelayMs?: number;
		batchingMaxMessages?: number;
	}): Promise<NativeProducer>;
	subscribe(c: {
		topic?: string;
		topicsPattern?: string;
		subscription: string;
		subscriptionType?: "Exclusive" | "Shared" | "KeyShared" | "Failover";
		subscriptionInitialPosition?: "Latest" | "Earliest";
		ackTimeoutMs?: number;
		nAckRedeliverTimeoutMs?: number;
		receiverQueueSize?: number;
		consumerName?: string;
		regexSubscriptionMode?: "PersistentOnly" | "NonPersistentOnly" | "AllTopics";
	}): Promise<NativeConsumer>;
	close(): Promise<null>;
}
export interface PulsarClientModule {
	Client: new (c: { serviceUrl: string; authentication?: unknown; operationTimeoutSeconds?: number }) => NativeClient;
	AuthenticationToken: new (p: { token: string }) => unknown;
}

/** Load the optional `pulsar-client` package; resolves to the module or to the reason it is not usable. */
export async function loadPulsarClient(): Promise<{ module: PulsarClientModule } | { error: string }> {
	const name = "pulsar-client";
	try {
		// a variable name keeps bundlers and tsc from resolving the optional package at build time
		const m = (await import(name)) as PulsarClientModule & { default?: PulsarClientModule };
		const mod = m.Client ? m : m.default;
		if (!mod?.Client || !mod.AuthenticationToken) return { error: "pulsar-client loaded but has no Client/AuthenticationToken export" };
		return { module: mod };
	} catch (e) {
		const msg = (e as Error).message.split("\n")[0];
		return { error: /Cannot find (module|package)/.test(msg) ? "pulsar-client is not installed (it needs the C++ libpulsar to build)" : `pulsar-client failed to load: ${msg}` };
	}
}

interface Handle {
	readonly msg: NativeMessage;
	readonly consumer: NativeConsumer;
}
const handles = new WeakMap<Delivery, Handle>();

class NativeConsumerHandle implements Consumer {
	private buffer: Delivery[] = [];
	readonly held = new Set<Delivery>();
	private readonly signal = new Signal();
	/** One waiter per pump (a consumer over both namespaces has two): all wake when room frees up. */
	private roomWaiters: Array<() => void> = [];
	private readonly nackTimers = new Set<NodeJS.Timeout>();
	private closed = false;
	private readonly pumps: Promise<void>[];

	constructor(
		private readonly log: PulsarNativeLog,
		private readonly consumers: NativeConsumer[],
		private readonly patterns: string[],
		private readonly maxInFlight: number,
	) {
		this.pumps = consumers.map((c) => this.pump(c));
	}

	/** Receive into the buffer while there is room; receive(timeout) rejects on timeout, which is normal. */
	private async pump(c: NativeConsumer): Promise<void> {
		while (!this.closed) {
			if (this.held.size + this.buffer.length >= this.maxInFlight) {
				await new Promise<void>((r) => this.roomWaiters.push(r));
				continue;
			}
			let m: NativeMessage;
			try {
				m = await c.receive(500);
			} catch (e) {
				// A timeout is the normal empty answer. Anything else (a closed or failed consumer) would
				// come back at once and spin this loop: say so and back off.
				if (!this.closed && !/time\s*out/i.test(String((e as Error)?.message ?? e))) {
					this.log.o.logger.warn(`market log: pulsar receive failed (${(e as Error)?.message ?? e}); retrying in 250 ms`);
					await new Promise((r) => setTimeout(r, 250));
				}
				continue;
			}
			if (this.closed) {
				c.negativeAcknowledge(m);
				break;
			}
			const topic = logTopic(m.getTopicName());
			if (!topic || !this.patterns.some((p) => topicMatches(p, topic))) {
				// a regex match our own patterns do not confirm: never expected; ack so it does not loop
				this.log.o.logger.warn(`market log: pulsar message on unexpected topic ${m.getTopicName()} acknowledged and skipped`);
				await c.acknowledge(m).catch(() => undefined);
				continue;
			}
			const d: Delivery = {
				id: `${m.getTopicName()}@${m.getMessageId().toString()}`,
				topic,
				key: m.getPartitionKey() ?? "",
				payload: new Uint8Array(m.getData()),
				deliveryCount: m.getRedeliveryCount() + 1,
				publishTime: m.getPublishTimestamp(),
			};
			handles.set(d, { msg: m, consumer: c });
			this.buffer.push(d);
			this.signal.notify();
		}
	}

	private room(): void {
		const waiters = this.roomWaiters;
		this.roomWaiters = [];
		for (const r of waiters) r();
	}

	async pull(max: number, waitMs: number): Promise<Delivery[]> {
		if (this.closed || max <= 0) return [];
		const deadline = Date.now() + waitMs;
		while (!this.buffer.length && !this.closed) {
			const left = deadline - Date.now();
			if (left <= 0) return [];
			await this.signal.wait(left);
		}
		const out = this.buffer.splice(0, max);
		for (const d of out) this.held.add(d);
		return out;
	}

	async ack(deliveries: readonly Delivery[]): Promise<void> {
		await Promise.all(
			deliveries.map((d) => {
				const h = handles.get(d);
				if (!h) throw new TypeError(`delivery ${d.id} did not come from this Pulsar log`);
				this.held.delete(d);
				return h.consumer.acknowledge(h.msg);
			}),
		);
		this.room();
	}

	async nack(deliveries: readonly Delivery[], delayMs = 0): Promise<void> {
		const hs = deliveries.map((d) => {
			const h = handles.get(d);
			if (!h) throw new TypeError(`delivery ${d.id} did not come from this Pulsar log`);
			this.held.delete(d);
			return h;
		});
		const send = () => hs.forEach((h) => h.consumer.negativeAcknowledge(h.msg));
		if (delayMs > MIN_NACK_DELAY_MS) {
			const t = setTimeout(() => {
				this.nackTimers.delete(t);
				send();
			}, delayMs - MIN_NACK_DELAY_MS);
			this.nackTimers.add(t);
		} else send();
		this.room();
	}

	async close(): Promise<void> {
		if (this.closed) return;
		this.closed = true;
		this.signal.notify();
		this.room();
		for (const t of this.nackTimers) clearTimeout(t);
		await Promise.all(this.pumps);
		// closing the consumers hands their un-acked messages back to the subscription
		await Promise.all(this.consumers.map((c) => c.close().catch(() => null)));
		this.buffer = [];
		this.held.clear();
		this.log.consumerClosed(this);
	}
}

export class PulsarNativeLog implements MarketLog {
	readonly driver = "pulsar";
	readonly client = "native";
	readonly o: ResolvedPulsarOptions;
	private readonly admin: PulsarAdmin;
	private readonly producers = new Map<string, Promise<{ p: NativeProducer; seq: number }>>();
	private readonly consumers = new Set<NativeConsumerHandle>();
	private readonly inflight = new Set<Promise<void>>();
	private readonly clientId: string;
	private producerCount = 0;
	private closed = false;

	private constructor(
		private readonly c: NativeClient,
		opts: ResolvedPulsarOptions,
		adminUrl: string,
	) {
		this.o = opts;
		this.admin = new PulsarAdmin({ url: adminUrl, token: opts.token });
		this.clientId = `${opts.producerNamePrefix}-${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
	}

	static async connect(mod: PulsarClientModule, opts: PulsarLogOptions): Promise<PulsarNativeLog> {
		const o = resolveOptions(opts);
		const urls = deriveUrls(o.url, o.adminUrl);
		const client = new mod.Client({
			serviceUrl: urls.service,
			authentication: o.token ? new mod.AuthenticationToken({ token: o.token }) : undefined,
			operationTimeoutSeconds: 30,
		});
		const log = new PulsarNativeLog(client, o, urls.admin);
		o.logger.info(`market log: pulsar via the native client at ${urls.service} (tenant ${o.layout.tenant})`);
		return log;
	}

	async publish(topic: string, key: string, payloads: readonly Uint8Array[]): Promise<void> {
		this.assertOpen();
		const t = pulsarTopic(topic, this.o.layout);
		assertKey(key);
		if (!payloads.length) return;
		let pp = this.producers.get(t.full);
		if (!pp) {
			pp = this.c
				.createProducer({
					topic: t.full,
					producerName: `${this.clientId}-${this.producerCount++}`,
					sendTimeoutMs: this.o.publishTimeoutMs,
					maxPendingMessages: this.o.maxPendingPerTopic,
					blockIfQueueFull: true,
					compressionType: this.o.compressionType === "NONE" ? "None" : this.o.compressionType === "ZLIB" ? "Zlib" : this.o.compressionType,
					batchingEnabled: true,
					batchingMaxPublishDelayMs: this.o.batchingMaxPublishDelayMs,
					batchingMaxMessages: this.o.batchingMaxMessages,
				})
				.then((p) => ({ p, seq: 0 }));
			this.producers.set(t.full, pp);
			pp.catch(() => this.producers.delete(t.full));
		}
		const prod = await pp;
		const sends = payloads.map((p) => prod.p.send({ data: Buffer.from(p), partitionKey: key, sequenceId: prod.seq++ }));
		const all = Promise.all(sends).then(() => undefined);
		this.inflight.add(all.catch(() => undefined));
		void all.catch(() => undefined).finally(() => this.inflight.delete(all));
		await all;
	}

	async consumer(opts: ConsumerOptions): Promise<Consumer> {
		this.assertOpen();
		if (!opts.subscription) throw new TypeError("consumer needs a subscription name");
		const patterns = consumerPatterns(opts.topics);
		const ackTimeoutMs = Math.max(MIN_ACK_TIMEOUT_MS, opts.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS);
		const maxInFlight = opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
		const base = {
			subscription: opts.subscription,
			subscriptionType: this.o.subscriptionType === "Key_Shared" ? ("KeyShared" as const) : ("Shared" as const),
			subscriptionInitialPosition: "Earliest" as const,
			ackTimeoutMs,
			nAckRedeliverTimeoutMs: MIN_NACK_DELAY_MS,
			receiverQueueSize: Math.min(1000, maxInFlight),
			consumerName: `${this.clientId}-${opts.subscription}`,
		};
		const configs: Parameters<NativeClient["subscribe"]>[0][] = [];
		if (patterns.length === 1 && isLiteral(patterns[0])) configs.push({ ...base, topic: pulsarTopic(patterns[0], this.o.layout).full });
		else {
			// one pattern consumer per namespace: a topicsPattern cannot span namespaces
			const byNs = new Map<string, string[]>();
			for (const p of patterns) {
				const nss = isLiteral(p) ? [pulsarTopic(p, this.o.layout).namespace] : namespacesOf(p, this.o.layout);
				for (const ns of nss) byNs.set(ns, [...(byNs.get(ns) ?? []), localNameRegex(p)]);
			}
			for (const [ns, res] of byNs) {
				configs.push({ ...base, topicsPattern: `persistent://${ns}/(${res.join("|")})`, regexSubscriptionMode: "PersistentOnly" });
			}
		}
		const cs: NativeConsumer[] = [];
		try {
			for (const cfg of configs) cs.push(await this.c.subscribe(cfg));
		} catch (e) {
			await Promise.all(cs.map((c) => c.close().catch(() => null)));
			throw new Error(`pulsar subscribe ${opts.subscription}: ${(e as Error).message}`, { cause: e });
		}
		const h = new NativeConsumerHandle(this, cs, patterns, maxInFlight);
		this.consumers.add(h);
		return h;
	}

	/** @internal */
	consumerClosed(c: NativeConsumerHandle): void {
		this.consumers.delete(c);
	}

	async ping(): Promise<void> {
		this.assertOpen();
		try {
			await this.admin.listTopics(`${this.o.layout.tenant}/${this.o.layout.namespace}`);
		} catch (e) {
			throw new Error(`pulsar unreachable: ${(e as Error).message}`, { cause: e });
		}
	}

	async flush(): Promise<void> {
		await Promise.all([...this.producers.values()].map(async (pp) => (await pp.catch(() => null))?.p.flush()));
		await Promise.all(this.inflight);
	}

	async close(): Promise<void> {
		if (this.closed) return;
		this.closed = true;
		await Promise.all([...this.consumers].map((c) => c.close()));
		await Promise.all(this.inflight);
		await Promise.all(
			[...this.producers.values()].map(async (pp) => {
				const p = await pp.catch(() => null);
				await p?.p.flush().catch(() => null);
				await p?.p.close().catch(() => null);
			}),
		);
		await this.c.close();
	}

	private assertOpen(): void {
		if (this.closed) throw new Error("market log (pulsar) is closed");
	}
}
