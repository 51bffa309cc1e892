import { JetStreamLog, type MarketLogLogger } from "./jetstream";
import { MemoryLog } from "./memory";
import type { MarketLog } from "./types";

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
				stream: cfg.stream,
				subjectPrefix: cfg.subjectPrefix,
				maxAgeMs: cfg.maxAgeMs,
				replicas: cfg.replicas,
				logger: cfg.logger,
			});
		case "pulsar":
			throw new Error('market log driver "pulsar" is not built yet; use MARKET_LOG=jetstream or memory');
		default:
			throw new Error(`unknown market log driver "${cfg.driver}" (expected one of ${MARKET_LOG_DRIVERS.join(", ")})`);
	}
}
