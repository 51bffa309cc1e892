import { startPipeline, type Pipeline } from "../../bin/pipeline";
import { loadConfig } from "../../lib/config";
import { encodeEnvelope, tradeEnvelope } from "../../lib/domain/codec";
import type { TradeItem } from "../../lib/domain/types";
import { PulsarAdmin } from "../../lib/log/pulsar/admin";
import { PulsarWsLog } from "../../lib/log/pulsar/websocket";
import { migrate } from "../../lib/store/migrate";
import { freshDatabase, waitFor, type TestDb } from "../helpers/db";
import { freePort, getJson } from "../helpers/net";
import { startService, type Child } from "../helpers/proc";
import { FakePulsar } from "../helpers/pulsar-ws-server";
import { makeTrades, normalizeCandle, referenceCandles, TIMEFRAMES } from "../helpers/trades";

/**
 * The whole pipeline with MARKET_LOG=pulsar over the WebSocket API, on the fake broker: trades are
 * published through the log, two tick-writers share the subscription (this process and a child
 * process), the child is killed with SIGKILL mid-stream, and in the end PostgreSQL holds every trade
 * exactly once and the API serves candles equal to an independent computation. Real PostgreSQL and
 * Redis; the broker is the only stand-in.
 */
const TOPIC = "market-data/crypto/raw/kraken/btcusd/trades";
const FULL = "persistent://public/default/market-data.crypto.raw.kraken.btcusd.trades";
const VENUE = "kraken";
const SYMBOL = "BTC-USD-SPOT";
const DAY = Date.parse("2024-03-04T00:00:00Z");
const TOKEN = "pipeline-jwt-token";
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe("pipeline end to end on Pulsar (WebSocket API, fake broker, PostgreSQL, Redis)", () => {
	let broker: FakePulsar;
	let db: TestDb;
	let p: Pipeline;
	let pub: PulsarWsLog;
	let base: string;
	let child: Child | null = null;

	const env = () => ({
		DATABASE_URL: db.url,
		MARKET_LOG: "pulsar",
		PULSAR_URL: broker.url,
		PULSAR_TOKEN: TOKEN,
		PULSAR_CLIENT: "websocket",
		METRICS_PORT: "0",
		MIGRATE_ON_START: "false",
		WRITER_ACK_TIMEOUT_MS: "5000",
		WRITER_BATCH_ROWS: "2000",
		LOG_LEVEL: "warn",
	});

	beforeAll(async () => {
		broker = await FakePulsar.start({ token: TOKEN });
		db = await freshDatabase("pulsar_e2e");
		await migrate(db.pool);
		const port = await freePort();
		p = await startPipeline(
			loadConfig({
				...env(),
				SERVICES: "tick-writer,cascade-refresher,api",
				REDIS_URL: "redis://127.0.0.1:6379",
				PORT: String(port),
				CASCADE_INTERVAL_MS: "200",
				LEASE_TTL_MS: "2000",
				NODE_ID: `pulsar-e2e-${process.pid}`,
				NAMESPACE: `pulsare2e${process.pid}`,
			}),
		);
		pub = await PulsarWsLog.connect({ url: broker.url, token: TOKEN, logger: quiet });
		base = `http://127.0.0.1:${port}/api`;
	}, 60_000);
	afterAll(async () => {
		await child?.kill();
		await pub?.close();
		await p?.stop();
		await broker?.close();
		await db?.drop();
	});

	const stored = async () => (await db.pool.query("SELECT count(*)::int AS n, count(DISTINCT trade_id)::int AS d FROM trades")).rows[0] as { n: number; d: number };

	it("stores every trade once although a tick-writer process dies mid-stream, and serves the reference candles", async () => {
		const trades: TradeItem[] = makeTrades(40_000, DAY, 20 * 3_600_000, 11);
		// created up front, as `npm run pulsar:topics` does; the writers find it by listing the namespace
		await new PulsarAdmin({ url: broker.adminUrl, token: TOKEN }).createTopic("persistent/public/default/market-data.crypto.raw.kraken.btcusd.trades");
		child = startService({ ...env(), SERVICES: "tick-writer", LOG_LEVEL: "info" }); // "pipeline up" is an info line
		await child.waitForOutput(/pipeline up/, 60_000);
		// both writers are consumers of the one shared subscription
		await waitFor(() => (broker.subscription(FULL, "tick-writer")?.consumers.length ?? 0) >= 2, { what: "two tick-writer consumers", timeoutMs: 20_000 });

		let published = 0;
		const publishing = (async () => {
			for (let i = 0; i < trades.length; i += 100) {
				await pub.publish(TOPIC, SYMBOL, [encodeEnvelope(tradeEnvelope(VENUE, SYMBOL, trades.slice(i, i + 100)))]);
				published += 100;
			}
		})();

		// kill the child while it holds deliveries it has not acknowledged
		let heldAtKill = 0;
		await waitFor(
			async () => {
				const sub = broker.subscription(FULL, "tick-writer");
				const s = await stored();
				// consumer names carry the process id (mdp-<host>-<pid>-...)
				const childHeld = sub?.consumers.find((c) => c.consumerName.includes(`-${child!.proc.pid}-`))?.unackedMessages ?? 0;
				if (s.n >= 5_000 && childHeld > 0) {
					heldAtKill = childHeld;
					return true;
				}
				return false;
			},
			{ what: "writers busy with unacked deliveries", timeoutMs: 60_000, intervalMs: 5 },
		);
		await child.kill("SIGKILL");
		const atKill = await stored();
		expect(atKill.n).toBeLessThan(trades.length);
		expect(heldAtKill).toBeGreaterThan(0);

		await publishing;
		expect(published).toBe(trades.length);
		await waitFor(async () => (await stored()).n >= trades.length, { what: "all trades stored", timeoutMs: 60_000 });
		await waitFor(async () => (await db.pool.query("SELECT count(*)::int AS n FROM dirty_buckets")).rows[0].n === 0, { what: "cascade to drain", timeoutMs: 30_000 });
		expect(await stored()).toEqual({ n: trades.length, d: trades.length });
		expect(broker.stats.redelivered).toBeGreaterThan(0);

		for (const tf of TIMEFRAMES) {
			const r = await getJson(`${base}/candles?venue=${VENUE}&symbol=${SYMBOL}&timeframe=${tf}&from=${new Date(DAY).toISOString()}&to=${new Date(DAY + 86_400_000).toISOString()}`);
			expect(r.status).toBe(200);
			expect((r.body as any[]).map(normalizeCandle)).toEqual([...referenceCandles(trades, tf).values()].map(normalizeCandle));
		}
		const ready = await getJson(`${base}/ready`);
		expect(ready.body.checks).toEqual({ database: "ok", log: "ok", redis: "ok", feeds: "ok" });
	}, 180_000);
});
