import { DUKASCOPY_INSTRUMENTS, findInstrument } from "./backfill/dukascopy/instruments";
import type { MarketLogConfig } from "./log";
import type { NatsAuth } from "./net/nats-options";

/**
 * Everything the pipeline reads from the environment, in one place. With nothing set it runs embedded:
 * one process, embedded PostgreSQL, in-memory log, in-process leadership, API on port 3000.
 */
export const ALL_SERVICES = ["tick-writer", "cascade-refresher", "api", "exchange-history", "dukascopy-backfill", "kraken-stream", "symbol-catalog", "orderbook-poller", "oanda-stream"] as const;

export interface Config {
	databaseUrl: string | null; // null: start embedded PostgreSQL under dataDir
	dataDir: string;
	embeddedPgPort: number;
	marketLog: "memory" | "jetstream" | "pulsar";
	natsUrl: string;
	/** NATS_USER/NATS_PASSWORD, NATS_TOKEN, NATS_CREDS, NATS_TLS_CA: for the JetStream log and the transporter. Never logged. */
	natsAuth: NatsAuth;
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
	pulsarRandomMaskKeys: boolean; // PULSAR_WS_RANDOM_MASK: RFC-random WebSocket masking keys instead of a zero key
	transporter: string | null;
	redisUrl: string | null;
	redisTlsCa: string | undefined; // CA file for rediss://
	deadLetterMaxRows: number; // dead_letters keeps the newest this many rows
	services: string[];
	port: number;
	metricsPort: number; // 0 disables the Prometheus reporter
	logLevel: string;
	logFormat: "text" | "json"; // json: one JSON object per line (node, service, venue, symbol), for log collectors
	healthPort: number; // /livez and /readyz for probes of pods without the api; 0: off
	nodeId: string | null;
	namespace: string;
	migrateOnStart: boolean;
	cascadeIntervalMs: number;
	cascadeMaxDirty: number;
	leaseTtlMs: number;
	writerBatchRows: number;
	writerConcurrency: number;
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
	backfillWire: "v3" | "v2"; // how Dukascopy ticks go on the log: v3 columns, or v2 lines (for tick-writers older than v3)
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
	binanceCoinmRestUrl: string; // COIN-M futures (dapi)
	dukascopyMetaUrl: string; // instrument metadata (HTTP(S) URL or a local file)
	catalogVenues: string[]; // venues the catalog syncs
	catalogSyncIntervalMs: number;
	catalogRetryBaseMs: number; // first retry after a venue failed to answer; doubles up to catalogRetryMaxMs
	catalogRetryMaxMs: number;
	addSymbolBackfillMs: number; // history fetched when a symbol is added
	historyTopUpIntervalMs: number; // how often Binance klines and Kraken trades of active symbols are topped up
	ingestAllowUnknown: boolean; // POST /api/ingest and replay accept venue/symbols the catalog does not know
	oandaApiKey: string | null; // OANDA_API_KEY (a secret: never logged); oanda-stream is off without it
	oandaAccountId: string | null;
	oandaStreamUrl: string;
	oandaRestUrl: string;
	oandaInstruments: string[]; // OANDA names, e.g. EUR_USD; the catalog's active symbols replace them when it runs
	oandaStaleMs: number; // no price and no heartbeat this long: reconnect
	oandaBackoffBaseMs: number;
	oandaBackoffMaxMs: number;
	oandaClosedProbeMs: number; // while the FX market is closed: one connection attempt this often
	oandaMarketHours: "fx" | "always"; // fx: closed Friday 17:00 to Sunday 17:00 New York; always: no closed hours
	oandaRestRatePerSec: number; // REST calls per second for gap repair
	oandaFlushMs: number;
	oandaMaxPending: number;
	apiToken: string | null; // never logged; required on every non-GET route when set
	apiReadToken: string | null; // never logged; required on GET routes when set (the write token also reads)
	apiHost: string; // listen address of the REST gateway
	apiIngestMaxBytes: number; // /api/ingest body limit
	apiBodyMaxBytes: number; // every other route's body limit
	apiIngestMaxLines: number; // lines per /api/ingest request
	apiWriteRatePerMin: number; // mutating requests per client and minute
	apiWriteBurst: number; // mutating requests a client may send at once
	apiRequestTimeoutMs: number; // a request must arrive whole within this
	dbConnectTimeoutMs: number; // one PostgreSQL connection attempt
	dbWaitMaxBackoffMs: number; // longest pause between start-up attempts to reach PostgreSQL
	binanceUsdmRestUrl: string; // Binance USD-M futures REST (/fapi)
	orderbookPollIntervalMs: number; // one book snapshot per symbol (REST, and the live Kraken book) per interval
	orderbookDepth: number; // levels per side asked for in REST snapshots
	orderbookSymbols: BookSymbolSetting[]; // REST-polled books when the symbol catalog is not running (besides KRAKEN_SYMBOLS)
	orderbookClaimTtlMs: number; // a snapshot slot claimed by a replica that went silent is taken over after this
	orderbookWeightShare: number; // fraction of a Binance host's request-weight limit per minute the poller may use
	orderbookWsSnapshots: boolean; // kraken-stream stores its live, checksummed books in book_snapshots
}

/** One ORDERBOOK_SYMBOLS entry: `venue:SYMBOL` with a standard symbol, e.g. binance:BTC-USDT-PERP. */
export interface BookSymbolSetting {
	venue: "kraken" | "binance";
	symbol: string;
}

/** The market-data log's settings (lib/log createMarketLog) out of the configuration. */
export function logConfig(c: Config): MarketLogConfig {
	const log: MarketLogConfig = { driver: c.marketLog, natsUrl: c.natsUrl, natsAuth: c.natsAuth, stream: c.logStream, subjectPrefix: c.logSubjectPrefix, maxAgeMs: c.logMaxAgeMs };
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
		pulsarRandomMaskKeys: c.pulsarRandomMaskKeys,
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

function share(env: NodeJS.ProcessEnv, name: string, def: number): number {
	const n = positive(env, name, def);
	if (n > 1) throw new ConfigError(`${name}=${JSON.stringify(env[name])}: expected a fraction in (0, 1]`);
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

/** OANDA_INSTRUMENTS: comma-separated OANDA names ("EUR_USD,GBP_USD"). */
function oandaInstruments(env: NodeJS.ProcessEnv): string[] {
	const list = (env.OANDA_INSTRUMENTS ?? "EUR_USD,GBP_USD,USD_JPY,AUD_USD").split(",").map((s) => s.trim().toUpperCase()).filter(Boolean);
	for (const s of list) if (!/^[A-Z0-9]{2,10}_[A-Z0-9]{2,10}$/.test(s)) throw new ConfigError(`OANDA_INSTRUMENTS: ${JSON.stringify(s)} is not an OANDA instrument like "EUR_USD"`);
	return list;
}

/** KRAKEN_SYMBOLS: comma-separated v2 pairs ("BTC/USD,ETH/USD"). */
function krakenSymbols(env: NodeJS.ProcessEnv): string[] {
	const list = (env.KRAKEN_SYMBOLS ?? "BTC/USD").split(",").map((s) => s.trim().toUpperCase()).filter(Boolean);
	for (const s of list) if (!/^[A-Z0-9.]{1,16}\/[A-Z0-9.]{1,16}$/.test(s)) throw new ConfigError(`KRAKEN_SYMBOLS: ${JSON.stringify(s)} is not a Kraken v2 pair like "BTC/USD"`);
	return list;
}

/** ORDERBOOK_SYMBOLS: comma-separated `venue:SYMBOL` (kraken:ETH-USD-SPOT, binance:BTC-USDT-SPOT, binance:BTC-USDT-PERP). */
function orderbookSymbols(env: NodeJS.ProcessEnv): BookSymbolSetting[] {
	const list = (env.ORDERBOOK_SYMBOLS ?? "").split(",").map((s) => s.trim()).filter(Boolean);
	return list.map((entry) => {
		const m = /^(kraken|binance):([A-Za-z0-9.]{1,16}-[A-Za-z0-9.]{1,16}-(?:SPOT|PERP|FUTURE_\d{6}))$/i.exec(entry);
		if (!m) throw new ConfigError(`ORDERBOOK_SYMBOLS: ${JSON.stringify(entry)} is not venue:SYMBOL like "binance:BTC-USDT-SPOT", "binance:BTC-USDT-PERP" or "kraken:ETH-USD-SPOT"`);
		const venue = m[1].toLowerCase() as BookSymbolSetting["venue"];
		const symbol = m[2].toUpperCase();
		if (venue === "kraken" && !symbol.endsWith("-SPOT")) throw new ConfigError(`ORDERBOOK_SYMBOLS: ${JSON.stringify(entry)}: Kraken books are spot only`);
		return { venue, symbol };
	});
}

/** Kraken's Depth serves at most 500 levels; Binance spot and USD-M serve more. */
function orderbookDepth(env: NodeJS.ProcessEnv): number {
	const d = int(env, "ORDERBOOK_DEPTH", 100, 1);
	if (d > 500) throw new ConfigError(`ORDERBOOK_DEPTH=${d}: at most 500 (Kraken's Depth limit)`);
	return d;
}

function bool(env: NodeJS.ProcessEnv, name: string, def: boolean): boolean {
	const raw = env[name];
	if (raw === undefined || raw === "") return def;
	if (/^(true|1|yes)$/i.test(raw)) return true;
	if (/^(false|0|no)$/i.test(raw)) return false;
	throw new ConfigError(`${name}=${JSON.stringify(raw)}: expected true or false`);
}

function krakenBookDepth(env: NodeJS.ProcessEnv): 10 | 25 | 100 | 500 | 1000 {
	const d = int(env, "KRAKEN_BOOK_DEPTH", 10, 1);
	if (d !== 10 && d !== 25 && d !== 100 && d !== 500 && d !== 1000) throw new ConfigError(`KRAKEN_BOOK_DEPTH=${d}: Kraken offers 10, 25, 100, 500 or 1000`);
	return d;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

export function isLoopback(host: string): boolean {
	return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * API_HOST: loopback unless a token guards the writes. An exposed address without API_TOKEN would let
 * anyone publish market data, so it is refused unless API_INSECURE=true says it is meant.
 */
function apiHost(env: NodeJS.ProcessEnv, token: string | null, services: string[]): string {
	const insecure = env.API_INSECURE === "true";
	const host = env.API_HOST || (token ? "0.0.0.0" : "127.0.0.1");
	if (services.includes("api") && !token && !isLoopback(host) && !insecure) {
		throw new ConfigError(`API_HOST=${host} exposes the API without API_TOKEN: set API_TOKEN (clients send "Authorization: Bearer <token>"), or API_INSECURE=true to accept anonymous writes`);
	}
	return host;
}

function token(env: NodeJS.ProcessEnv, name: string): string | null {
	const v = env[name];
	if (v === undefined || v === "") return null;
	if (v.length < 16) throw new ConfigError(`${name} is too short: use at least 16 characters (e.g. openssl rand -hex 32)`);
	return v;
}

function natsAuth(env: NodeJS.ProcessEnv): NatsAuth {
	const a: NatsAuth = { user: env.NATS_USER || undefined, password: env.NATS_PASSWORD || undefined, token: env.NATS_TOKEN || undefined, credsFile: env.NATS_CREDS || undefined, tlsCaFile: env.NATS_TLS_CA || undefined };
	if (a.password && !a.user) throw new ConfigError("NATS_PASSWORD is set without NATS_USER");
	if ([a.user, a.token, a.credsFile].filter(Boolean).length > 1) throw new ConfigError("set only one of NATS_USER (with NATS_PASSWORD), NATS_TOKEN and NATS_CREDS");
	return a;
}
/** A duration: milliseconds, or a number with a unit (90s, 15m, 24h, 7d). */
function duration(env: NodeJS.ProcessEnv, name: string, defMs: number): number {
	const raw = env[name];
	if (raw === undefined || raw === "") return defMs;
	const m = /^(\d+)(ms|s|m|h|d)?$/.exec(raw.trim());
	if (!m) throw new ConfigError(`${name}=${JSON.stringify(raw)}: expected milliseconds or a duration like 24h, 90m, 7d`);
	return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? "ms") as "ms"];
}

const CATALOG_VENUES = ["binance", "kraken", "dukascopy", "oanda"] as const;

function catalogVenues(env: NodeJS.ProcessEnv): string[] {
	const list = (env.CATALOG_VENUES ?? CATALOG_VENUES.join(",")).split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
	for (const v of list) if (!(CATALOG_VENUES as readonly string[]).includes(v)) throw new ConfigError(`CATALOG_VENUES: unknown venue ${JSON.stringify(v)} (known: ${CATALOG_VENUES.join(", ")})`);
	return list;
}

/** Where dukascopy-node publishes Dukascopy's instrument metadata (PROTOCOLS.md). */
export const DEFAULT_DUKASCOPY_META_URL = "https://raw.githubusercontent.com/Leo4815162342/dukascopy-node/master/src/utils/instrument-meta-data/generated/instrument-meta-data.json";

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
	const apiToken = token(env, "API_TOKEN");
	const host = apiHost(env, apiToken, services);
	return {
		databaseUrl: env.DATABASE_URL || null,
		dataDir: env.DATA_DIR || "./.data",
		embeddedPgPort: int(env, "EMBEDDED_PG_PORT", 54329, 1),
		marketLog,
		natsUrl: env.NATS_URL || "nats://127.0.0.1:4222",
		natsAuth: natsAuth(env),
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
		pulsarRandomMaskKeys: bool(env, "PULSAR_WS_RANDOM_MASK", false),
		transporter,
		redisUrl: env.REDIS_URL || null,
		redisTlsCa: env.REDIS_TLS_CA || undefined,
		deadLetterMaxRows: int(env, "DEAD_LETTER_MAX_ROWS", 100_000, 1),
		services,
		port: int(env, "PORT", 3000),
		metricsPort: int(env, "METRICS_PORT", 3030),
		logLevel: env.LOG_LEVEL || "info",
		logFormat: oneOf(env, "LOG_FORMAT", ["text", "json"] as const),
		healthPort: int(env, "HEALTH_PORT", 0),
		nodeId: env.NODE_ID || env.POD_NAME || null, // in Kubernetes both come from the downward API
		namespace: env.NAMESPACE || "mdp",
		migrateOnStart: env.MIGRATE_ON_START !== "false",
		cascadeIntervalMs: int(env, "CASCADE_INTERVAL_MS", 1000, 10),
		cascadeMaxDirty: int(env, "CASCADE_MAX_DIRTY", 50_000, 1),
		leaseTtlMs: int(env, "LEASE_TTL_MS", 10_000, 300),
		writerBatchRows: int(env, "WRITER_BATCH_ROWS", 20_000, 1),
		writerConcurrency: int(env, "WRITER_CONCURRENCY", 2, 1),
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
		backfillWire: oneOf(env, "BACKFILL_WIRE", ["v3", "v2"] as const),
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
		binanceUsdmRestUrl: (env.BINANCE_USDM_REST_URL || "https://fapi.binance.com").replace(/\/+$/, ""),
		orderbookPollIntervalMs: int(env, "ORDERBOOK_POLL_INTERVAL_MS", 60_000, 100),
		orderbookDepth: orderbookDepth(env),
		orderbookSymbols: orderbookSymbols(env),
		orderbookClaimTtlMs: int(env, "ORDERBOOK_CLAIM_TTL_MS", 20_000, 100),
		orderbookWeightShare: share(env, "ORDERBOOK_WEIGHT_SHARE", 0.5),
		orderbookWsSnapshots: bool(env, "ORDERBOOK_WS_SNAPSHOTS", true),
		apiToken,
		apiReadToken: token(env, "API_READ_TOKEN"),
		apiHost: host,
		apiIngestMaxBytes: int(env, "API_INGEST_MAX_BYTES", 8 * 1024 * 1024, 1024),
		apiBodyMaxBytes: int(env, "API_BODY_MAX_BYTES", 64 * 1024, 1024),
		apiIngestMaxLines: int(env, "API_INGEST_MAX_LINES", 100_000, 1),
		apiWriteRatePerMin: int(env, "API_WRITE_RATE_PER_MIN", 120, 1),
		apiWriteBurst: int(env, "API_WRITE_BURST", 30, 1),
		apiRequestTimeoutMs: int(env, "API_REQUEST_TIMEOUT_MS", 120_000, 1000),
		dbConnectTimeoutMs: int(env, "DB_CONNECT_TIMEOUT_MS", 5_000, 100),
		dbWaitMaxBackoffMs: int(env, "DB_WAIT_MAX_BACKOFF_MS", 30_000, 100),
		oandaApiKey: env.OANDA_API_KEY?.trim() || null,
		oandaAccountId: env.OANDA_ACCOUNT_ID?.trim() || null,
		oandaStreamUrl: (env.OANDA_STREAM_URL || "https://stream-fxpractice.oanda.com").replace(/\/+$/, ""),
		oandaRestUrl: (env.OANDA_REST_URL || "https://api-fxpractice.oanda.com").replace(/\/+$/, ""),
		oandaInstruments: oandaInstruments(env),
		oandaStaleMs: int(env, "OANDA_STALE_MS", 15_000, 100),
		oandaBackoffBaseMs: int(env, "OANDA_BACKOFF_BASE_MS", 1000, 1),
		oandaBackoffMaxMs: int(env, "OANDA_BACKOFF_MAX_MS", 60_000, 1),
		oandaClosedProbeMs: int(env, "OANDA_CLOSED_PROBE_MS", 900_000, 100),
		oandaMarketHours: oneOf(env, "OANDA_MARKET_HOURS", ["fx", "always"] as const),
		oandaRestRatePerSec: positive(env, "OANDA_REST_RATE_PER_SEC", 2),
		oandaFlushMs: int(env, "OANDA_FLUSH_MS", 100, 1),
		oandaMaxPending: int(env, "OANDA_MAX_PENDING", 200_000, 1),
		binanceCoinmRestUrl: (env.BINANCE_COINM_REST_URL || "https://dapi.binance.com").replace(/\/+$/, ""),
		dukascopyMetaUrl: env.DUKASCOPY_META_URL || DEFAULT_DUKASCOPY_META_URL,
		catalogVenues: catalogVenues(env),
		catalogSyncIntervalMs: duration(env, "CATALOG_SYNC_INTERVAL_MS", 6 * 3_600_000),
		catalogRetryBaseMs: duration(env, "CATALOG_RETRY_BASE_MS", 60_000),
		catalogRetryMaxMs: duration(env, "CATALOG_RETRY_MAX_MS", 3_600_000),
		addSymbolBackfillMs: duration(env, "ADD_SYMBOL_BACKFILL", 24 * 3_600_000),
		historyTopUpIntervalMs: duration(env, "HISTORY_TOPUP_INTERVAL_MS", 15 * 60_000),
		ingestAllowUnknown: env.INGEST_ALLOW_UNKNOWN === "true",
	};
}
