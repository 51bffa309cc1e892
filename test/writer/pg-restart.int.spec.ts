import { encodeEnvelope, tradeEnvelope } from "../../lib/domain/codec";
import { MemoryLog } from "../../lib/log/memory";
import { migrate } from "../../lib/store/migrate";
import { createPool } from "../../lib/store/pool";
import { TickWriter } from "../../lib/writer/tick-writer";
import { waitFor } from "../helpers/db";
import { startPgServer, type PgServer } from "../helpers/servers";
import { makeTrades } from "../helpers/trades";

const TOPIC = "market-data/crypto/raw/kraken/btcusd/trades";

jest.setTimeout(120_000);

describe("tick-writer across a restart of its PostgreSQL", () => {
	let pg: PgServer;
	beforeAll(async () => {
		pg = await startPgServer();
	});
	afterAll(async () => {
		await pg?.stop();
	});

	it.each(["fast", "immediate"] as const)("survives pg_ctl restart -m %s, reconnects, and stores every trade exactly once", async (mode) => {
		const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
		const pool = createPool(pg.url, { max: 4, logger: quiet });
		await migrate(pool);
		await pool.query("TRUNCATE trades");
		const log = new MemoryLog();
		const w = new TickWriter({ pool, log, maxBatchWaitMs: 10, ackTimeoutMs: 2_000, logger: quiet });
		await w.start();
		const all = makeTrades(6_000, Date.parse("2024-03-01T00:00:00Z"), 3_600_000);
		// Publish steadily while the server goes down and comes back, so batches are in flight during the restart.
		const publishing = (async () => {
			for (let i = 0; i < all.length; i += 50) {
				await log.publish(TOPIC, "BTC-USD-SPOT", [encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", all.slice(i, i + 50)))]);
				await new Promise((r) => setImmediate(r));
				if (i % 1_000 === 0) await new Promise((r) => setTimeout(r, 20));
			}
		})();
		await waitFor(() => w.stats.trades > 0, { what: "first batch written" });
		await pg.restart(mode);
		await publishing;
		const counts = async () => (await pool.query("SELECT count(*)::int AS n, count(DISTINCT trade_id)::int AS d FROM trades")).rows[0] as { n: number; d: number };
		await waitFor(async () => (await counts().catch(() => ({ n: -1 }))).n === all.length, { timeoutMs: 60_000, what: "every trade stored" });
		expect(await counts()).toEqual({ n: all.length, d: all.length });
		await w.stop();
		await log.close();
		await pool.end();
	});
});
