import type { MarketLogLogger } from "../jetstream";
import { DEFAULT_LAYOUT, assertLayout, type PulsarLayout } from "./topics";

export type PulsarClientKind = "auto" | "native" | "websocket";
export type PulsarSubscriptionType = "Shared" | "Key_Shared";

/** Settings shared by both Pulsar drivers (lib/log/pulsar/index.ts picks one). */
export interface PulsarLogOptions {
	/** PULSAR_URL: pulsar://host:6650, http://host:8080 or ws://host:8080 (see topics.ts deriveUrls). */
	url: string;
	/** PULSAR_ADMIN_URL, default derived from url (http://host:8080). */
	adminUrl?: string;
	/** PULSAR_TOKEN: JWT; sent as `Authorization: Bearer`, never logged, never put in a URL. */
	token?: string;
	/** PULSAR_TENANT / PULSAR_NAMESPACE / PULSAR_HISTORICAL_NAMESPACE. */
	layout?: Partial<PulsarLayout>;
	/** PULSAR_CLIENT, default "auto": native when pulsar-client loads, else WebSocket. */
	client?: PulsarClientKind;
	/** PULSAR_SUBSCRIPTION_TYPE, default "Shared". Key_Shared keeps each key on one consumer. */
	subscriptionType?: PulsarSubscriptionType;
	/** Producer names are `<prefix>-<host>-<pid>-<random>-<n>`, default "mdp". */
	producerNamePrefix?: string;
	/** Producer batching window, default 1 ms (the broker's default is 10 ms; we pipeline anyway). */
	batchingMaxPublishDelayMs?: number;
	/** Messages per producer batch, default 1000. */
	batchingMaxMessages?: number;
	/** Default "LZ4", as the seeds' OANDA ingester. */
	compressionType?: "NONE" | "LZ4" | "ZLIB" | "ZSTD" | "SNAPPY";
	/** Messages sent but not yet acknowledged, per topic producer (also its maxPendingMessages). Default 1000. */
	maxPendingPerTopic?: number;
	/** A publish batch without any acknowledgement for this long fails. Default 30 s. */
	publishTimeoutMs?: number;
	/** WebSocket driver: largest frame the broker accepts (its webSocketMaxTextFrameSize), default 1 MiB. */
	maxFrameBytes?: number;
	/** WebSocket driver: how often a wildcard subscription lists topics to find new ones. Default 5 s. */
	discoveryIntervalMs?: number;
	/**
	 * WebSocket driver: mask frames with RFC-random keys instead of a zero key. Default false: a zero key
	 * skips masking work on both ends (see ws-socket.ts zeroMask); set it for a proxy that insists.
	 */
	randomMaskKeys?: boolean;
	/** Create a topic through the admin API before its first producer (409 is fine). Default true. */
	createTopics?: boolean;
	logger?: MarketLogLogger;
}

export interface ResolvedPulsarOptions extends Required<Omit<PulsarLogOptions, "adminUrl" | "token" | "layout" | "logger">> {
	adminUrl: string | undefined;
	token: string | undefined;
	layout: PulsarLayout;
	logger: MarketLogLogger;
}

export const DEFAULT_ACK_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_IN_FLIGHT = 10_000;
/** The Java consumer behind the WebSocket service (and the C++ one) refuse ack timeouts below 1 s. */
export const MIN_ACK_TIMEOUT_MS = 1_000;
/** The clients' negative-ack tracker never redelivers sooner than this. */
export const MIN_NACK_DELAY_MS = 100;

export const consoleLogger: MarketLogLogger = {
	info: (m, ...a) => console.info(m, ...a),
	warn: (m, ...a) => console.warn(m, ...a),
	error: (m, ...a) => console.error(m, ...a),
};

export function resolveOptions(o: PulsarLogOptions): ResolvedPulsarOptions {
	if (!o.url) throw new TypeError("the pulsar market log needs PULSAR_URL (for example http://127.0.0.1:8080 for `bin/pulsar standalone`)");
	const layout = { ...DEFAULT_LAYOUT, ...Object.fromEntries(Object.entries(o.layout ?? {}).filter(([, v]) => v)) } as PulsarLayout;
	assertLayout(layout);
	return {
		url: o.url,
		adminUrl: o.adminUrl || undefined,
		token: o.token || undefined,
		layout,
		client: o.client ?? "auto",
		subscriptionType: o.subscriptionType ?? "Shared",
		producerNamePrefix: o.producerNamePrefix ?? "mdp",
		batchingMaxPublishDelayMs: o.batchingMaxPublishDelayMs ?? 1,
		batchingMaxMessages: o.batchingMaxMessages ?? 1000,
		compressionType: o.compressionType ?? "LZ4",
		maxPendingPerTopic: o.maxPendingPerTopic ?? 1000,
		publishTimeoutMs: o.publishTimeoutMs ?? 30_000,
		maxFrameBytes: o.maxFrameBytes ?? 1_048_576,
		discoveryIntervalMs: o.discoveryIntervalMs ?? 5_000,
		randomMaskKeys: o.randomMaskKeys ?? false,
		createTopics: o.createTopics ?? true,
		logger: o.logger ?? consoleLogger,
	};
}
