import { deleteStream } from "../helpers/nats";
import { encodeEnvelope, tradeEnvelope } from "../../lib/domain/codec";
import { createMarketLog } from "../../lib/log";
import type { MarketLog } from "../../lib/log/types";
import { migrate } from "../../lib/store/migrate";
import { freshDatabase, waitFor, type TestDb } from "../helpers/db";
import { startService, type Child } from "../helpers/proc";
import { makeTrades } from "../helpers/trades";

/** A tick-writer process killed with SIGKILL in the middle of a stream: its successor loses nothing and duplicates nothing. */
describe("tick-writer crash (SIGKILL) mid-stream", () => {
	let db: TestDb;
	let log: MarketLog;
	const children: Child[] = [];
	const stream = `MDP_CRASH_${process.pid}_${Date.now().toString(36)}`.toUpperCase();

	beforeAll(async () => {
		db = await freshDatabase("crash");
		await migrate(db.pool);
		log = await createMarketLog({ driver: "jetstream", stream, subjectPrefix: stream.toLowerCase() + "." });
	});
	afterAll(async () => {
		for (const c of children) await c.kill();
		await log?.close();
		await deleteStream(stream);
		await db?.drop();
	});

	const writerEnv = () => ({
		SERVICES: "tick-writer",
		DATABASE_URL: db.url,
		MARKET_LOG: "jetstream",
		MARKET_LOG_STREAM: stream,
			MARKET_LOG_SUBJECT_PREFIX: stream.toLowerCase() + ".",
		METRICS_PORT: "0",
		WRITER_ACK_TIMEOUT_MS: "3000",
		WRITER_BATCH_ROWS: "2000",
		MIGRATE_ON_START: "false",
	});

	const stored = async () => (await db.pool.query("SELECT count(*)::int AS n, count(DISTINCT trade_id)::int AS d, coalesce(sum(trade_id), 0)::text AS s FROM trades")).rows[0];

	it("ends with exactly the published trades", async () => {
		const trades = makeTrades(100_000, Date.parse("2024-01-15T00:00:00Z"), 6 * 3_600_000, 3);
		const first = startService(writerEnv());
		children.push(first);
		await first.waitForOutput(/pipeline up/);

		let published = 0;
		const publishing = (async () => {
			for (let i = 0; i < trades.length; i += 100) {
				await log.publish("market-data/crypto/raw/kraken/btcusd/trades", "BTC-USD-SPOT", [encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", trades.slice(i, i + 100)))]);
				published += 100;
			}
		})();

		// kill it while it is busy: some rows committed, more in flight
		await waitFor(async () => (await stored()).n >= 20_000, { what: "the first writer to store 20000 trades", timeoutMs: 60_000 });
		await first.kill("SIGKILL");
		const atKill = (await stored()).n;
		expect(atKill).toBeLessThan(trades.length);

		const second = startService(writerEnv());
		children.push(second);
		await publishing;
		expect(published).toBe(trades.length);
		await waitFor(async () => (await stored()).n >= trades.length, { what: "all trades stored", timeoutMs: 90_000 });
		const expectedSum = trades.reduce((a, t) => a + BigInt(t.tradeId), 0n).toString();
		expect(await stored()).toEqual({ n: trades.length, d: trades.length, s: expectedSum });
		// and nothing more arrives later
		await second.kill("SIGTERM");
		expect((await stored()).n).toBe(trades.length);
	});
});
