import { deleteStream } from "../helpers/nats";
import { encodeEnvelope, tradeEnvelope } from "../../lib/domain/codec";
import { loadConfig } from "../../lib/config";
import { createMarketLog } from "../../lib/log";
import type { MarketLog } from "../../lib/log/types";
import { startPipeline, type Pipeline } from "../../bin/pipeline";
import { freshDatabase, waitFor, type TestDb } from "../helpers/db";
import { freePort, getJson } from "../helpers/net";
import { makeTrades, normalizeCandle, referenceBucketStart, referenceCandles, TIMEFRAMES } from "../helpers/trades";
import type { TradeItem } from "../../lib/domain/types";

/**
 * The whole spine on real parts: JetStream log -> tick-writer -> PostgreSQL -> cascade (Redis lease)
 * -> REST API, checked against candles computed independently from the same trades.
 */
const TOPIC = "market-data/crypto/raw/kraken/btcusd/trades";
const VENUE = "kraken";
const SYMBOL = "BTC-USD-SPOT";
const DAY = Date.parse("2024-01-15T00:00:00Z");

describe("pipeline end to end (JetStream, PostgreSQL, Redis)", () => {
	let db: TestDb;
	let p: Pipeline;
	let pub: MarketLog;
	let base: string;
	const stream = `MDP_E2E_${process.pid}_${Date.now().toString(36)}`.toUpperCase();

	beforeAll(async () => {
		db = await freshDatabase("e2e");
		const port = await freePort();
		const config = loadConfig({
			DATABASE_URL: db.url,
			SERVICES: "tick-writer,cascade-refresher,api", // no venue streams: the test is the only producer
			MARKET_LOG: "jetstream",
			MARKET_LOG_STREAM: stream,
			MARKET_LOG_SUBJECT_PREFIX: stream.toLowerCase() + ".",
			REDIS_URL: "redis://127.0.0.1:6379",
			PORT: String(port),
			METRICS_PORT: "0",
			CASCADE_INTERVAL_MS: "200",
			LEASE_TTL_MS: "2000",
			NODE_ID: `e2e-${process.pid}`,
			NAMESPACE: `e2e${process.pid}`,
			LOG_LEVEL: "warn",
		});
		p = await startPipeline(config);
		pub = await createMarketLog({ driver: "jetstream", stream, subjectPrefix: stream.toLowerCase() + "." });
		base = `http://127.0.0.1:${port}/api`;
	});
	afterAll(async () => {
		await pub?.close();
		await p?.stop();
		await deleteStream(stream);
		await db?.drop();
	});

	async function publish(trades: TradeItem[]) {
		for (let i = 0; i < trades.length; i += 100) await pub.publish(TOPIC, SYMBOL, [encodeEnvelope(tradeEnvelope(VENUE, SYMBOL, trades.slice(i, i + 100)))]);
	}

	async function settled() {
		await waitFor(async () => {
			const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM dirty_buckets");
			return rows[0].n === 0;
		}, { what: "cascade to drain the dirty buckets", timeoutMs: 30_000 });
	}

	async function apiCandles(tf: string, from: number, to: number) {
		const r = await getJson(`${base}/candles?venue=${VENUE}&symbol=${SYMBOL}&timeframe=${tf}&from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`);
		expect(r.status).toBe(200);
		return r.body as any[];
	}

	const all: TradeItem[] = makeTrades(20_000, DAY, 26 * 3_600_000, 7);

	it("stores replayed trades exactly once and serves all six levels equal to an independent aggregation", async () => {
		await publish(all);
		await publish(all.slice(5_000, 6_000)); // a redelivery: must change nothing
		await waitFor(async () => (await db.pool.query("SELECT count(*)::int AS n FROM trades")).rows[0].n === all.length, { what: "20000 trades stored", timeoutMs: 40_000 });
		await settled();
		const { rows } = await db.pool.query("SELECT count(*)::int AS n, count(DISTINCT trade_id)::int AS d FROM trades");
		expect(rows[0]).toEqual({ n: 20_000, d: 20_000 });
		for (const tf of TIMEFRAMES) {
			const ref = [...referenceCandles(all, tf).values()];
			const got = await apiCandles(tf, DAY, DAY + 2 * 86_400_000);
			expect(got.map(normalizeCandle)).toEqual(ref.map(normalizeCandle));
			// and what the cascade stored, not only what the API computes
			const stored = await db.pool.query(`SELECT count(*)::int AS n FROM candles_${tf} WHERE venue = $1 AND symbol = $2 AND price_type = 'trade'`, [VENUE, SYMBOL]);
			expect(stored.rows[0].n).toBe(ref.length);
		}
	});

	it("a late trade inside an old bucket updates that bucket at every level", async () => {
		const lateTime = DAY + 3 * 3_600_000 + 17 * 60_000 + 5_000; // 03:17:05
		const late: TradeItem = { tradeId: "99999999", side: "buy", price: "99999.99", qty: "1.00000000", time: new Date(lateTime).toISOString(), recvTime: new Date().toISOString() };
		const snapshot = async () => new Map((await db.pool.query("SELECT bucket, updated_at FROM candles_1m")).rows.map((r) => [new Date(r.bucket).getTime(), new Date(r.updated_at).getTime()]));
		const before = await snapshot();
		await publish([late]);
		await waitFor(async () => (await db.pool.query("SELECT count(*)::int AS n FROM trades WHERE trade_id = 99999999")).rows[0].n === 1, { what: "late trade stored" });
		await settled();
		const withLate = [...all, late];
		for (const tf of TIMEFRAMES) {
			const ref = referenceCandles(withLate, tf);
			const got = await apiCandles(tf, DAY, DAY + 2 * 86_400_000);
			expect(got.map(normalizeCandle)).toEqual([...ref.values()].map(normalizeCandle));
			const { rows } = await db.pool.query(`SELECT bucket, high::text FROM candles_${tf} WHERE price_type = 'trade' AND high = 99999.99`);
			expect(rows).toHaveLength(1); // exactly the bucket holding the late trade
			expect(new Date(rows[0].bucket).getTime()).toBe(referenceBucketStart(lateTime, tf));
		}
		const after = await snapshot();
		const changed = [...after].filter(([b, u]) => before.get(b) !== u).map(([b]) => new Date(b).toISOString());
		expect(changed).toEqual([new Date(Math.floor(lateTime / 60_000) * 60_000).toISOString()]); // only the late trade's minute was rebuilt at 1m
	});

	it("shows a trade published now in every timeframe, including each still-open bucket", async () => {
		const now = Date.now();
		const t: TradeItem = { tradeId: "100000000", side: "sell", price: "12345.67", qty: "0.5", time: new Date(now).toISOString(), recvTime: new Date(now).toISOString() };
		await publish([t]);
		for (const tf of TIMEFRAMES) {
			await waitFor(async () => {
				const got = await apiCandles(tf, Math.min(now - 86_400_000, referenceBucketStart(now, tf)), now + 60_000);
				const last = got[got.length - 1];
				return last && last.close === "12345.67" && Date.parse(last.time) <= now;
			}, { what: `the trade in the open ${tf} bucket` });
		}
	});

	it("answers bad parameters with 400 and a message naming the problem", async () => {
		const r1 = await getJson(`${base}/candles?venue=${VENUE}&symbol=${SYMBOL}&timeframe=2m`);
		expect(r1.status).toBe(400);
		expect(r1.body.message).toMatch(/timeframe="2m" is not one of/);
		const r2 = await getJson(`${base}/candles?venue=${VENUE}&symbol=${SYMBOL}&timeframe=1m&from=2024-01-02&to=2024-01-01`);
		expect(r2.status).toBe(400);
		expect(r2.body.message).toMatch(/must be before/);
		const r3 = await getJson(`${base}/trades?venue=${VENUE}&symbol=${SYMBOL}&from=yesterday`);
		expect(r3.status).toBe(400);
		expect(r3.body.data.param).toBe("from");
		const r4 = await getJson(`${base}/candles?venue=${VENUE}&symbol=${SYMBOL}&timeframe=1m&from=2020-01-01&to=2024-01-01`);
		expect(r4.status).toBe(400);
		expect(r4.body.message).toMatch(/range too large/);
	});

	it("pages trades with a cursor, and reports freshness, health and readiness", async () => {
		const from = new Date(DAY).toISOString();
		const to = new Date(DAY + 3_600_000).toISOString();
		const expected = all.filter((t) => Date.parse(t.time) < DAY + 3_600_000).map((t) => t.tradeId);
		const seen: string[] = [];
		let cursor: string | null = null;
		do {
			const r: { status: number; body: any } = await getJson(`${base}/trades?venue=${VENUE}&symbol=${SYMBOL}&from=${from}&to=${to}&limit=200${cursor ? `&cursor=${cursor}` : ""}`);
			expect(r.status).toBe(200);
			seen.push(...r.body.items.map((x: any) => x.tradeId));
			cursor = r.body.nextCursor;
		} while (cursor);
		expect(seen).toEqual(expected);
		const f = await getJson(`${base}/freshness`);
		expect(f.status).toBe(200);
		const tfs = f.body.filter((r: any) => r.venue === VENUE && r.symbol === SYMBOL).map((r: any) => r.timeframe).sort();
		expect(tfs).toEqual([...TIMEFRAMES].sort());
		expect((await getJson(`${base}/health`)).body.status).toBe("ok");
		const ready = await getJson(`${base}/ready`);
		expect(ready.status).toBe(200);
		expect(ready.body.checks).toEqual({ database: "ok", log: "ok", redis: "ok", feeds: "ok" });
	});
});
