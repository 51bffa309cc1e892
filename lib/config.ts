import type { MarketLogConfig } from "./log";

/**
 * Everything the pipeline reads from the environment, in one place. With nothing set it runs embedded:
 * one process, embedded PostgreSQL, in-memory log, in-process leadership, API on port 3000.
 */
export const ALL_SERVICES = ["tick-writer", "cascade-refresher", "api"] as const;

export interface Config {
	databaseUrl: string | null; // null: start embedded PostgreSQL under dataDir
	dataDir: string;
	embeddedPgPort: number;
	marketLog: "memory" | "jetstream" | "pulsar";
	natsUrl: string;
	logStream: string;
	logSubjectPrefix: string | undefined;
	logMaxAgeMs: number | undefined;
	transporter: string | null;
	redisUrl: string | null;
	services: string[];
	port: number;
	metricsPort: number; // 0 disables the Prometheus reporter
	logLevel: string;
	nodeId: string | null;
	namespace: string;
	migrateOnStart: boolean;
	cascadeIntervalMs: number;
	cascadeMaxDirty: number;
	leaseTtlMs: number;
	writerBatchRows: number;
	writerBatchWaitMs: number;
	writerAckTimeoutMs: number;
	apiMaxRangeBuckets: number;
	apiMaxRows: number;
}

/** The market-data log's settings (lib/log createMarketLog) out of the configuration. */
export function logConfig(c: Config): MarketLogConfig {
	return { driver: c.marketLog, natsUrl: c.natsUrl, stream: c.logStream, subjectPrefix: c.logSubjectPrefix, maxAgeMs: c.logMaxAgeMs };
}

export class ConfigError extends Error {}

function int(env: NodeJS.ProcessEnv, name: string, def: number, min = 0): number {
	const raw = env[name];
	if (raw === undefined || raw === "") return def;
	const n = Number(raw);
	if (!Number.isInteger(n) || n < min) throw new ConfigError(`${name}=${JSON.stringify(raw)}: expected an integer >= ${min}`);
	return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
	const marketLog = (env.MARKET_LOG || "memory").toLowerCase();
	if (marketLog !== "memory" && marketLog !== "jetstream" && marketLog !== "pulsar") {
		throw new ConfigError(`MARKET_LOG=${JSON.stringify(env.MARKET_LOG)}: expected memory, jetstream or pulsar`);
	}
	const services = (env.SERVICES || ALL_SERVICES.join(","))
		.split(",")
		.map((s) => s.trim())
		.filter(Boolean);
	for (const s of services) {
		if (!(ALL_SERVICES as readonly string[]).includes(s)) throw new ConfigError(`SERVICES: unknown service ${JSON.stringify(s)} (known: ${ALL_SERVICES.join(", ")})`);
	}
	const transporter = env.TRANSPORTER || null;
	if (marketLog === "memory" && transporter && services.length < ALL_SERVICES.length) {
		// Each process would have its own private log: publishers and the tick-writer would never meet.
		throw new ConfigError("MARKET_LOG=memory cannot span processes: set MARKET_LOG=jetstream (or pulsar) in cluster mode");
	}
	return {
		databaseUrl: env.DATABASE_URL || null,
		dataDir: env.DATA_DIR || "./.data",
		embeddedPgPort: int(env, "EMBEDDED_PG_PORT", 54329, 1),
		marketLog,
		natsUrl: env.NATS_URL || "nats://127.0.0.1:4222",
		logStream: env.MARKET_LOG_STREAM || "MARKET_DATA",
		logSubjectPrefix: env.MARKET_LOG_SUBJECT_PREFIX || undefined,
		logMaxAgeMs: env.MARKET_LOG_MAX_AGE_MS ? int(env, "MARKET_LOG_MAX_AGE_MS", 0, 1) : undefined,
		transporter,
		redisUrl: env.REDIS_URL || null,
		services,
		port: int(env, "PORT", 3000),
		metricsPort: int(env, "METRICS_PORT", 3030),
		logLevel: env.LOG_LEVEL || "info",
		nodeId: env.NODE_ID || null,
		namespace: env.NAMESPACE || "mdp",
		migrateOnStart: env.MIGRATE_ON_START !== "false",
		cascadeIntervalMs: int(env, "CASCADE_INTERVAL_MS", 1000, 10),
		cascadeMaxDirty: int(env, "CASCADE_MAX_DIRTY", 50_000, 1),
		leaseTtlMs: int(env, "LEASE_TTL_MS", 10_000, 300),
		writerBatchRows: int(env, "WRITER_BATCH_ROWS", 20_000, 1),
		writerBatchWaitMs: int(env, "WRITER_BATCH_WAIT_MS", 50, 0),
		writerAckTimeoutMs: int(env, "WRITER_ACK_TIMEOUT_MS", 30_000, 100),
		apiMaxRangeBuckets: int(env, "API_MAX_RANGE_BUCKETS", 10_000, 1),
		apiMaxRows: int(env, "API_MAX_ROWS", 10_000, 1),
	};
}
