import { DUKASCOPY_INSTRUMENTS, findInstrument } from "./backfill/dukascopy/instruments";
import type { MarketLogConfig } from "./log";

/**
 * Everything the pipeline reads from the environment, in one place. With nothing set it runs embedded:
 * one process, embedded PostgreSQL, in-memory log, in-process leadership, API on port 3000.
 */
export const ALL_SERVICES = ["tick-writer", "cascade-refresher", "api", "exchange-history", "dukascopy-backfill", "kraken-stream"] as const;

export interface Config {
	databaseUrl: string | null; // null: start embedded PostgreSQL under dataDir
	dataDir: string;
	embeddedPgPort: number;
	marketLog: "memory" | "jetstream" | "pulsar";
	natsUrl: string;
	logStream: string;
	logSubjectPrefix: string | undefined;
	logMaxAgeMs: number | undefined;
	pulsarUrl: string;
	pulsarAdminUrl: string | undefined;
	pulsarToken: string | undefined; // never logged
	pulsarTenant: string;
	pulsarNamespace: string; // real-time topics
	pulsarHistoricalNamespace: string; // topics whose stream segment is "historical"
	pulsarClient: "auto" | "native" | "websocket";
	pulsarSubscriptionType: "Shared" | "Key_Shared";
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
	liveMaxClients: number; // SSE clients over all /api/stream/* routes of one api process
	liveHeartbeatMs: number; // SSE comment line after this long without a frame
	liveMaxBufferedBytes: number; // an SSE client with more unsent bytes than this is too slow and is disconnected
	liveCoalesceMs: number; // changes gathered this long before one read per live subscription
	dukascopyUrl: string; // .bi5 datafeed base
	dukascopyJsonUrl: string; // JSON API base
	dukascopySource: "bi5" | "json";
	backfillConcurrency: number; // hours fetched at once per worker
	backfillRatePerSec: number; // requests per second to Dukascopy, per process
	backfillLeaseMs: number; // a worker silent this long loses its leased hours to another
	dukascopyPublishWindowMs: number; // a 404 for an hour that ended less than this ago means "not published yet"
	dukascopyUnpublishedRetryMs: number; // how often such an hour is asked for again
	autoIngestInstruments: string[]; // Dukascopy instruments followed hour by hour (empty: off)
	autoIngestIntervalMs: number;
	binanceRestUrl: string;
	binanceRequestsPerSec: number; // klines cost weight 2 of Binance's 6000 per minute
	krakenRestUrl: string;
	krakenWsUrl: string;
	krakenSymbols: string[]; // v2 names, e.g. BTC/USD
	krakenBookDepth: 10 | 25 | 100 | 500 | 1000;
	krakenWatchdogMs: number; // no frame (not even a heartbeat) this long: reconnect
	krakenPingIntervalMs: number;
	krakenBackoffBaseMs: number;
	krakenBackoffMaxMs: number;
	krakenChecksumMismatchLimit: number; // consecutive mismatches before one symbol's book is resubscribed
	krakenFlushMs: number; // trades/quotes are published in batches this often
	krakenRestRatePerSec: number; // REST calls per second for gap repair and history (one limiter per process)
	krakenHistoryLiveMarginMs: number; // Kraken trades history stops this far behind now (the live stream's stretch)
	krakenMaxPending: number; // trades/quotes/book messages held while the log refuses them; beyond: dropped, recorded in feed_gaps
	krakenRecordFile: string | null; // append raw frames here (one JSON line each)
}

/** The market-data log's settings (lib/log createMarketLog) out of the configuration. */
export function logConfig(c: Config): MarketLogConfig {
	const log: MarketLogConfig = { driver: c.marketLog, natsUrl: c.natsUrl, stream: c.logStream, subjectPrefix: c.logSubjectPrefix, maxAgeMs: c.logMaxAgeMs };
	if (c.marketLog !== "pulsar") return log;
	return {
		...log,
		pulsarUrl: c.pulsarUrl,
		pulsarAdminUrl: c.pulsarAdminUrl,
		pulsarToken: c.pulsarToken,
		pulsarTenant: c.pulsarTenant,
		pulsarNamespace: c.pulsarNamespace,
		pulsarHistoricalNamespace: c.pulsarHistoricalNamespace,
		pulsarClient: c.pulsarClient,
		pulsarSubscriptionType: c.pulsarSubscriptionType,
	};
}

export class ConfigError extends Error {}

function int(env: NodeJS.ProcessEnv, name: string, def: number, min = 0): number {
	const raw = env[name];
	if (raw === undefined || raw === "") return def;
	const n = Number(raw);
	if (!Number.isInteger(n) || n < min) throw new ConfigError(`${name}=${JSON.stringify(raw)}: expected an integer >= ${min}`);
	return n;
}

function positive(env: NodeJS.ProcessEnv, name: string, def: number): number {
	const raw = env[name];
	if (raw === undefined || raw === "") return def;
	const n = Number(raw);
	if (!Number.isFinite(n) || n <= 0) throw new ConfigError(`${name}=${JSON.stringify(raw)}: expected a number > 0`);
	return n;
}

function autoIngestInstruments(env: NodeJS.ProcessEnv): string[] {
	const names = (env.AUTO_INGEST_INSTRUMENTS || "").split(",").map((s) => s.trim()).filter(Boolean);
	return names.map((n) => {
		const inst = findInstrument(n);
		if (!inst) throw new ConfigError(`AUTO_INGEST_INSTRUMENTS: unknown Dukascopy instrument ${JSON.stringify(n)} (known: ${[...DUKASCOPY_INSTRUMENTS.keys()].join(", ")})`);
		return inst.id;
	});
}

function dukascopySource(env: NodeJS.ProcessEnv): "bi5" | "json" {
	const v = (env.DUKASCOPY_SOURCE || "bi5").toLowerCase();
	if (v !== "bi5" && v !== "json") throw new ConfigError(`DUKASCOPY_SOURCE=${JSON.stringify(env.DUKASCOPY_SOURCE)}: expected bi5 or json`);
	return v;
}

/** An enumerated setting; the first value is the default. */
function oneOf<T extends string>(env: NodeJS.ProcessEnv, name: string, values: readonly T[]): T {
	const raw = env[name];
	if (raw === undefined || raw === "") return values[0];
	const v = values.find((x) => x.toLowerCase() === raw.toLowerCase());
	if (!v) throw new ConfigError(`${name}=${JSON.stringify(raw)}: expected one of ${values.join(", ")}`);
	return v;
}

/** KRAKEN_SYMBOLS: comma-separated v2 pairs ("BTC/USD,ETH/USD"). */
function krakenSymbols(env: NodeJS.ProcessEnv): string[] {
	const list = (env.KRAKEN_SYMBOLS ?? "BTC/USD").split(",").map((s) => s.trim().toUpperCase()).filter(Boolean);
	for (const s of list) if (!/^[A-Z0-9.]{1,16}\/[A-Z0-9.]{1,16}$/.test(s)) throw new ConfigError(`KRAKEN_SYMBOLS: ${JSON.stringify(s)} is not a Kraken v2 pair like "BTC/USD"`);
	return list;
}

function krakenBookDepth(env: NodeJS.ProcessEnv): 10 | 25 | 100 | 500 | 1000 {
	const d = int(env, "KRAKEN_BOOK_DEPTH", 10, 1);
	if (d !== 10 && d !== 25 && d !== 100 && d !== 500 && d !== 1000) throw new ConfigError(`KRAKEN_BOOK_DEPTH=${d}: Kraken offers 10, 25, 100, 500 or 1000`);
	return d;
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
		pulsarUrl: env.PULSAR_URL || "http://127.0.0.1:8080",
		pulsarAdminUrl: env.PULSAR_ADMIN_URL || undefined,
		pulsarToken: env.PULSAR_TOKEN || undefined,
		pulsarTenant: env.PULSAR_TENANT || "public",
		pulsarNamespace: env.PULSAR_NAMESPACE || "default",
		pulsarHistoricalNamespace: env.PULSAR_HISTORICAL_NAMESPACE || "historical",
		pulsarClient: oneOf(env, "PULSAR_CLIENT", ["auto", "native", "websocket"] as const),
		pulsarSubscriptionType: oneOf(env, "PULSAR_SUBSCRIPTION_TYPE", ["Shared", "Key_Shared"] as const),
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
		liveMaxClients: int(env, "LIVE_MAX_CLIENTS", 500, 1),
		liveHeartbeatMs: int(env, "LIVE_HEARTBEAT_MS", 15_000, 100),
		liveMaxBufferedBytes: int(env, "LIVE_MAX_BUFFERED_BYTES", 1_048_576, 1024),
		liveCoalesceMs: int(env, "LIVE_COALESCE_MS", 100, 0),
		dukascopyUrl: (env.DUKASCOPY_URL || "https://datafeed.dukascopy.com/datafeed").replace(/\/+$/, ""),
		dukascopyJsonUrl: (env.DUKASCOPY_JSON_URL || "https://jetta.dukascopy.com/v1").replace(/\/+$/, ""),
		dukascopySource: dukascopySource(env),
		backfillConcurrency: int(env, "BACKFILL_CONCURRENCY", 4, 1),
		backfillRatePerSec: positive(env, "BACKFILL_RATE_PER_SEC", 5),
		backfillLeaseMs: int(env, "BACKFILL_LEASE_MS", 30_000, 500),
		dukascopyPublishWindowMs: int(env, "DUKASCOPY_PUBLISH_WINDOW_MS", 86_400_000, 0),
		dukascopyUnpublishedRetryMs: int(env, "DUKASCOPY_UNPUBLISHED_RETRY_MS", 600_000, 100),
		autoIngestInstruments: autoIngestInstruments(env),
		autoIngestIntervalMs: int(env, "AUTO_INGEST_INTERVAL_MS", 300_000, 100),
		binanceRestUrl: (env.BINANCE_REST_URL || "https://api.binance.com").replace(/\/+$/, ""),
		binanceRequestsPerSec: int(env, "BINANCE_REQUESTS_PER_SEC", 10, 1),
		krakenRestUrl: (env.KRAKEN_REST_URL || "https://api.kraken.com").replace(/\/+$/, ""),
		krakenWsUrl: env.KRAKEN_WS_URL || "wss://ws.kraken.com/v2",
		krakenSymbols: krakenSymbols(env),
		krakenBookDepth: krakenBookDepth(env),
		krakenWatchdogMs: int(env, "KRAKEN_WATCHDOG_MS", 10_000, 100),
		krakenPingIntervalMs: int(env, "KRAKEN_PING_INTERVAL_MS", 30_000, 0),
		krakenBackoffBaseMs: int(env, "KRAKEN_BACKOFF_BASE_MS", 500, 1),
		krakenBackoffMaxMs: int(env, "KRAKEN_BACKOFF_MAX_MS", 30_000, 1),
		krakenChecksumMismatchLimit: int(env, "KRAKEN_CHECKSUM_MISMATCH_LIMIT", 3, 1),
		krakenFlushMs: int(env, "KRAKEN_FLUSH_MS", 100, 1),
		krakenRestRatePerSec: positive(env, "KRAKEN_REST_RATE_PER_SEC", 1),
		krakenHistoryLiveMarginMs: int(env, "KRAKEN_HISTORY_LIVE_MARGIN_MS", 300_000, 0),
		krakenMaxPending: int(env, "KRAKEN_MAX_PENDING", 200_000, 1),
		krakenRecordFile: env.KRAKEN_RECORD_FILE || null,
	};
}
