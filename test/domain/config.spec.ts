import { ALL_SERVICES, loadConfig, ConfigError } from "../../lib/config";

describe("configuration", () => {
	it("runs embedded with nothing set", () => {
		const c = loadConfig({});
		expect(c).toMatchObject({ databaseUrl: null, marketLog: "memory", transporter: null, redisUrl: null, port: 3000, services: expect.arrayContaining(["tick-writer", "cascade-refresher", "api", "exchange-history"]) });
		expect(c.services).toEqual([...ALL_SERVICES]); // embedded: every service in one process
		expect(c.cascadeIntervalMs).toBeLessThanOrEqual(5000);
	});
	it("switches to cluster mode from the environment", () => {
		const c = loadConfig({ DATABASE_URL: "postgres://x/y", TRANSPORTER: "nats://127.0.0.1:4222", MARKET_LOG: "jetstream", REDIS_URL: "redis://127.0.0.1:6379", SERVICES: "tick-writer" });
		expect(c).toMatchObject({ databaseUrl: "postgres://x/y", marketLog: "jetstream", services: ["tick-writer"], redisUrl: "redis://127.0.0.1:6379" });
	});
	it("points exchange history at the real venues unless told otherwise", () => {
		expect(loadConfig({})).toMatchObject({ binanceRestUrl: "https://api.binance.com", binanceRequestsPerSec: 10, krakenRestUrl: "https://api.kraken.com" });
		expect(loadConfig({ BINANCE_REST_URL: "http://127.0.0.1:9/", BINANCE_REQUESTS_PER_SEC: "2" })).toMatchObject({ binanceRestUrl: "http://127.0.0.1:9", binanceRequestsPerSec: 2 });
		expect(() => loadConfig({ BINANCE_REQUESTS_PER_SEC: "0" })).toThrow(/BINANCE_REQUESTS_PER_SEC/);
	});
	it("points the Dukascopy backfill at the real feeds unless told otherwise", () => {
		expect(loadConfig({}).services).toContain("dukascopy-backfill");
		expect(loadConfig({})).toMatchObject({
			dukascopyUrl: "https://datafeed.dukascopy.com/datafeed",
			dukascopyJsonUrl: "https://jetta.dukascopy.com/v1",
			dukascopySource: "bi5",
			backfillConcurrency: 4,
			backfillRatePerSec: 5,
			autoIngestInstruments: [],
			autoIngestIntervalMs: 300_000,
			dukascopyPublishWindowMs: 86_400_000,
			dukascopyUnpublishedRetryMs: 600_000,
		});
		expect(loadConfig({ DUKASCOPY_PUBLISH_WINDOW_MS: "7200000", DUKASCOPY_UNPUBLISHED_RETRY_MS: "60000" })).toMatchObject({ dukascopyPublishWindowMs: 7_200_000, dukascopyUnpublishedRetryMs: 60_000 });
		expect(() => loadConfig({ DUKASCOPY_UNPUBLISHED_RETRY_MS: "10" })).toThrow(/DUKASCOPY_UNPUBLISHED_RETRY_MS="10": expected an integer >= 100/);
		const c = loadConfig({ DUKASCOPY_URL: "http://127.0.0.1:9/datafeed/", DUKASCOPY_SOURCE: "JSON", BACKFILL_RATE_PER_SEC: "0.5", AUTO_INGEST_INSTRUMENTS: "eurusd, BTC-USD" });
		expect(c).toMatchObject({ dukascopyUrl: "http://127.0.0.1:9/datafeed", dukascopySource: "json", backfillRatePerSec: 0.5, autoIngestInstruments: ["EURUSD", "BTCUSD"] });
		expect(() => loadConfig({ DUKASCOPY_SOURCE: "csv" })).toThrow(/DUKASCOPY_SOURCE="csv": expected bi5 or json/);
		expect(() => loadConfig({ AUTO_INGEST_INSTRUMENTS: "EURUSD,FOOBAR" })).toThrow(/AUTO_INGEST_INSTRUMENTS: unknown Dukascopy instrument "FOOBAR"/);
		expect(() => loadConfig({ BACKFILL_RATE_PER_SEC: "0" })).toThrow(/BACKFILL_RATE_PER_SEC/);
		expect(() => loadConfig({ BACKFILL_CONCURRENCY: "0" })).toThrow(/BACKFILL_CONCURRENCY/);
		expect([loadConfig({}).backfillWire, loadConfig({ BACKFILL_WIRE: "V2" }).backfillWire]).toEqual(["v3", "v2"]);
		expect(() => loadConfig({ BACKFILL_WIRE: "v4" })).toThrow(/BACKFILL_WIRE="v4": expected one of v3, v2/);
	});
	it("writes two tick-writer batches at once unless told otherwise", () => {
		expect(loadConfig({}).writerConcurrency).toBe(2);
		expect(loadConfig({ WRITER_CONCURRENCY: "3" }).writerConcurrency).toBe(3);
		expect(() => loadConfig({ WRITER_CONCURRENCY: "0" })).toThrow(/WRITER_CONCURRENCY/);
	});
	it("streams BTC/USD from Kraken v2 unless told otherwise, and checks the Kraken settings", () => {
		expect(loadConfig({})).toMatchObject({ krakenWsUrl: "wss://ws.kraken.com/v2", krakenSymbols: ["BTC/USD"], krakenBookDepth: 10, krakenRecordFile: null });
		expect(loadConfig({ KRAKEN_SYMBOLS: "btc/usd, ETH/USD", KRAKEN_BOOK_DEPTH: "25" })).toMatchObject({ krakenSymbols: ["BTC/USD", "ETH/USD"], krakenBookDepth: 25 });
		expect(() => loadConfig({ KRAKEN_SYMBOLS: "BTCUSD" })).toThrow(/KRAKEN_SYMBOLS/);
		expect(() => loadConfig({ KRAKEN_BOOK_DEPTH: "20" })).toThrow(/KRAKEN_BOOK_DEPTH=20/);
		expect(() => loadConfig({ KRAKEN_WATCHDOG_MS: "5" })).toThrow(/KRAKEN_WATCHDOG_MS/);
	});
	it("polls order books every minute at depth 100, and checks the order-book settings", () => {
		expect(loadConfig({})).toMatchObject({ orderbookPollIntervalMs: 60_000, orderbookDepth: 100, orderbookSymbols: [], orderbookClaimTtlMs: 20_000, orderbookWeightShare: 0.5, orderbookWsSnapshots: true, binanceUsdmRestUrl: "https://fapi.binance.com" });
		expect(loadConfig({ ORDERBOOK_SYMBOLS: "binance:btc-usdt-spot, binance:ETH-USDT-PERP,kraken:ETH-USD-SPOT", ORDERBOOK_WS_SNAPSHOTS: "false" })).toMatchObject({
			orderbookSymbols: [
				{ venue: "binance", symbol: "BTC-USDT-SPOT" },
				{ venue: "binance", symbol: "ETH-USDT-PERP" },
				{ venue: "kraken", symbol: "ETH-USD-SPOT" },
			],
			orderbookWsSnapshots: false,
		});
		expect(() => loadConfig({ ORDERBOOK_SYMBOLS: "BTCUSDT" })).toThrow(/ORDERBOOK_SYMBOLS: "BTCUSDT" is not venue:SYMBOL/);
		expect(() => loadConfig({ ORDERBOOK_SYMBOLS: "kraken:BTC-USD-PERP" })).toThrow(/Kraken books are spot only/);
		expect(() => loadConfig({ ORDERBOOK_DEPTH: "1000" })).toThrow(/ORDERBOOK_DEPTH=1000: at most 500/);
		expect(() => loadConfig({ ORDERBOOK_WEIGHT_SHARE: "2" })).toThrow(/ORDERBOOK_WEIGHT_SHARE/);
		expect(() => loadConfig({ ORDERBOOK_WS_SNAPSHOTS: "maybe" })).toThrow(/ORDERBOOK_WS_SNAPSHOTS/);
	});
	it("refuses what cannot work", () => {
		expect(() => loadConfig({ MARKET_LOG: "kafka" })).toThrow(ConfigError);
		expect(() => loadConfig({ SERVICES: "tick-writer,nope" })).toThrow(/unknown service "nope"/);
		expect(() => loadConfig({ TRANSPORTER: "nats://x", SERVICES: "api" })).toThrow(/cannot span processes/);
		expect(() => loadConfig({ PORT: "http" })).toThrow(/PORT/);
	});
});
