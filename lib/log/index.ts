import { JetStreamLog, type MarketLogLogger } from "./jetstream";
import { MemoryLog } from "./memory";
import { createPulsarLog, type PulsarClientKind, type PulsarSubscriptionType } from "./pulsar";
import type { MarketLog } from "./types";
import type { NatsAuth } from "../net/nats-options";

export type { Consumer, ConsumerOptions, Delivery, MarketLog } from "./types";
export { MemoryLog, type MemoryLogOptions } from "./memory";
export { JetStreamLog, KEY_HEADER, type JetStreamLogOptions, type MarketLogLogger } from "./jetstream";
export { assertTopic, assertPattern } from "./names";

export const MARKET_LOG_DRIVERS = ["memory", "jetstream", "pulsar"] as const;

export interface MarketLogConfig {
	/** "memory" (default), "jetstream" or "pulsar". */
	driver?: string;
	/** JetStream: server URL(s), default nats://127.0.0.1:4222. */
	natsUrl?: string;
	/** JetStream: credentials and TLS (never logged). */
	natsAuth?: NatsAuth;
	/** JetStream: stream name, default MARKET_DATA. */
	stream?: string;
	/** JetStream: prefix for every subject, to keep several streams apart on one server. */
	subjectPrefix?: string;
	/** JetStream: retention by age, default 7 days. */
	maxAgeMs?: number;
	/** JetStream: stream replicas. */
	replicas?: number;
	/** Memory: retained messages, default 1,000,000. */
	maxMessages?: number;
	/** Pulsar: PULSAR_URL (pulsar://host:6650, http://host:8080 or ws://host:8080). */
	pulsarUrl?: string;
	/** Pulsar: PULSAR_ADMIN_URL, default derived from pulsarUrl. */
	pulsarAdminUrl?: string;
	/** Pulsar: PULSAR_TOKEN (JWT), never logged. */
	pulsarToken?: string;
	/** Pulsar: PULSAR_TENANT, PULSAR_NAMESPACE (real-time), PULSAR_HISTORICAL_NAMESPACE. */
	pulsarTenant?: string;
	pulsarNamespace?: string;
	pulsarHistoricalNamespace?: string;
	/** Pulsar: PULSAR_CLIENT auto (default) | native | websocket. */
	pulsarClient?: PulsarClientKind;
	/** Pulsar: PULSAR_SUBSCRIPTION_TYPE Shared (default) | Key_Shared. */
	pulsarSubscriptionType?: PulsarSubscriptionType;
	/** Pulsar WebSocket driver: PULSAR_WS_RANDOM_MASK=true masks frames with random keys (default: a zero key). */
	pulsarRandomMaskKeys?: boolean;
	logger?: MarketLogLogger;
}

/** Build and connect the log driver named by `cfg.driver`. */
export async function createMarketLog(cfg: MarketLogConfig = {}): Promise<MarketLog> {
	const driver = (cfg.driver ?? "memory").toLowerCase();
	switch (driver) {
		case "memory":
			return new MemoryLog({ maxMessages: cfg.maxMessages });
		case "jetstream":
			return JetStreamLog.connect({
				servers: cfg.natsUrl?.split(",").map((u) => u.trim()),
				auth: cfg.natsAuth,
				stream: cfg.stream,
				subjectPrefix: cfg.subjectPrefix,
				maxAgeMs: cfg.maxAgeMs,
				replicas: cfg.replicas,
				logger: cfg.logger,
			});
		case "pulsar":
			return createPulsarLog({
				url: cfg.pulsarUrl ?? "",
				adminUrl: cfg.pulsarAdminUrl,
				token: cfg.pulsarToken,
				layout: { tenant: cfg.pulsarTenant, namespace: cfg.pulsarNamespace, historicalNamespace: cfg.pulsarHistoricalNamespace },
				client: cfg.pulsarClient,
				subscriptionType: cfg.pulsarSubscriptionType,
				randomMaskKeys: cfg.pulsarRandomMaskKeys,
				logger: cfg.logger,
			});
		default:
			throw new Error(`unknown market log driver "${cfg.driver}" (expected one of ${MARKET_LOG_DRIVERS.join(", ")})`);
	}
}
