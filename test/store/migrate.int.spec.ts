import { cp, mkdtemp, rm, writeFile, appendFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Client } from "pg";
import { DEFAULT_MIGRATIONS_DIR, MIGRATION_LOCK_KEY, loadMigrations, migrate, timescaleAvailable } from "../../lib/store/migrate";
import { createPool, type Logger } from "../../lib/store/pool";
import { freshDatabase, waitFor, type TestDb } from "../helpers/db";

const TABLES = [
	"symbols",
	"trades",
	"quotes",
	"book_snapshots",
	"candles_1m",
	"candles_5m",
	"candles_15m",
	"candles_1h",
	"candles_4h",
	"candles_12h",
	"candles_1d",
	"candles_1w",
	"dirty_buckets",
	"leader_fence",
	"feed_gaps",
	"backfill_jobs",
	"backfill_units",
	"dead_letters",
	"schema_migrations",
];

function memoryLogger(): Logger & { lines: string[] } {
	const lines: string[] = [];
	const push = (...a: unknown[]) => void lines.push(a.map(String).join(" "));
	return { lines, info: push, warn: push, error: push, debug: push };
}

async function tableNames(db: TestDb): Promise<string[]> {
	const r = await db.pool.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'");
	return r.rows.map((x) => x.table_name);
}

async function recorded(db: TestDb): Promise<string[]> {
	const r = await db.pool.query<{ version: string }>("SELECT version FROM schema_migrations ORDER BY version");
	return r.rows.map((x) => x.version);
}

describe("migrate on PostgreSQL", () => {
	const dbs: TestDb[] = [];
	const dirs: string[] = [];
	const fresh = async (prefix: string) => {
		const db = await freshDatabase(prefix);
		dbs.push(db);
		return db;
	};
	const tempDir = async () => {
		const d = await mkdtemp(path.join(tmpdir(), "mdp-mig-"));
		dirs.push(d);
		return d;
	};
	afterAll(async () => {
		for (const db of dbs) await db.drop();
		for (const d of dirs) await rm(d, { recursive: true, force: true });
	});

	it("creates every table as a plain table, then applies nothing on a second run", async () => {
		const db = await fresh("mig_basic");
		const files = await loadMigrations();
		expect(files.slice(0, 2).map((f) => f.file)).toEqual(["001_schema.sql", "002_timescale.sql"]);
		expect(await timescaleAvailable(db.pool)).toBe(false); // this machine's PostgreSQL has no TimescaleDB

		const first = await migrate(db.pool);
		expect(first).toEqual({ applied: files.map((f) => f.file), timescale: false });
		expect(await tableNames(db)).toEqual(expect.arrayContaining(TABLES));
		const kinds = await db.pool.query<{ relname: string; relkind: string }>(
			"SELECT relname, relkind FROM pg_class WHERE relname = ANY($1) AND relnamespace = 'public'::regnamespace",
			[["trades", "quotes", "book_snapshots", "candles_1m", "candles_12h"]],
		);
		expect(kinds.rows.map((r) => r.relkind)).toEqual(["r", "r", "r", "r", "r"]);
		const ext = await db.pool.query("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'");
		expect(ext.rowCount).toBe(0);

		const rows = await db.pool.query<{ version: string; checksum: string }>("SELECT version, checksum FROM schema_migrations ORDER BY version");
		expect(rows.rows).toEqual(files.map((f) => ({ version: f.version, checksum: f.checksum })));

		const second = await migrate(db.pool);
		expect(second).toEqual({ applied: [], timescale: false });
		expect(await recorded(db)).toEqual(files.map((f) => f.version));
	});

	it("natural keys make repeated writes idempotent", async () => {
		const db = await fresh("mig_keys");
		await migrate(db.pool);
		const insert = `INSERT INTO trades (venue, symbol, time, trade_id, price, qty, side, recv_time)
			VALUES ('kraken', 'BTC-USD-SPOT', '2024-01-15T13:00:01.5Z', 42, '42000.10', '0.00100000', 'b', now())
			ON CONFLICT DO NOTHING`;
		expect((await db.pool.query(insert)).rowCount).toBe(1);
		expect((await db.pool.query(insert)).rowCount).toBe(0);
		const t = await db.pool.query("SELECT price, qty FROM trades");
		expect(t.rows).toEqual([{ price: "42000.10", qty: "0.00100000" }]);

		const upsert = (close: string) =>
			db.pool.query(
				`INSERT INTO candles_1m (venue, symbol, price_type, bucket, open, high, low, close, volume, trades)
				 VALUES ('kraken', 'BTC-USD-SPOT', 'trade', '2024-01-15T13:00:00Z', 1, 2, 0.5, $1, 3, 4)
				 ON CONFLICT (venue, symbol, price_type, bucket) DO UPDATE SET close = EXCLUDED.close, updated_at = now()`,
				[close],
			);
		await upsert("1.5");
		await upsert("1.75");
		const c = await db.pool.query("SELECT close FROM candles_1m");
		expect(c.rows).toEqual([{ close: "1.75" }]);
	});

	it("serialises concurrent runners: both succeed and each file is applied once", async () => {
		const db = await fresh("mig_conc");
		const files = await loadMigrations();
		// Two "pods", each with its own pool; a third session holds the lock until both are queued behind it.
		const pods = [createPool(db.url, { max: 2 }), createPool(db.url, { max: 2 })];
		const holder = new Client({ connectionString: db.url });
		await holder.connect();
		try {
			await holder.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
			const logs = [memoryLogger(), memoryLogger()];
			const runs = pods.map((p, i) => migrate(p, { logger: logs[i] }));
			await waitFor(
				async () => {
					const r = await holder.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted");
					return r.rows[0].n === 2;
				},
				{ what: "both runners waiting on the migration lock" },
			);
			await holder.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]);
			const results = await Promise.all(runs);

			const all = results.flatMap((r) => r.applied);
			expect(all.sort()).toEqual(files.map((f) => f.file).sort());
			expect(results.map((r) => r.applied.length).sort()).toEqual([0, files.length]);
			for (const l of logs) expect(l.lines.some((s) => /waiting/.test(s))).toBe(true);
			expect(await recorded(db)).toEqual(files.map((f) => f.version));
		} finally {
			await holder.end();
			await Promise.all(pods.map((p) => p.end()));
		}
	});

	it("two concurrent calls on one pool of a single connection do not deadlock", async () => {
		const db = await fresh("mig_one");
		const pool = createPool(db.url, { max: 1 });
		try {
			const [a, b] = await Promise.all([migrate(pool), migrate(pool)]);
			expect([...a.applied, ...b.applied].sort()).toEqual((await loadMigrations()).map((f) => f.file).sort());
		} finally {
			await pool.end();
		}
	});

	it("refuses a migration whose file changed after it was applied, before applying anything new", async () => {
		const db = await fresh("mig_sum");
		const dir = await tempDir();
		await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
		await migrate(db.pool, { dir });
		const before = await recorded(db);

		await appendFile(path.join(dir, "001_schema.sql"), "\n-- an innocent-looking edit\n");
		await writeFile(path.join(dir, "999_new.sql"), "CREATE TABLE should_not_exist (x int);");
		await expect(migrate(db.pool, { dir })).rejects.toThrow(/001_schema\.sql was changed after it was applied/);
		expect(await tableNames(db)).not.toContain("should_not_exist");
		expect(await recorded(db)).toEqual(before);
	});

	it("rolls a failing file back whole, reports file and line, and applies it once fixed", async () => {
		const db = await fresh("mig_fail");
		const dir = await tempDir();
		await writeFile(path.join(dir, "001_ok.sql"), "CREATE TABLE ok_a (x int);\n");
		await writeFile(path.join(dir, "002_bad.sql"), "CREATE TABLE partial (x int);\nSELECT no_such_function();\n");
		await expect(migrate(db.pool, { dir })).rejects.toThrow(/migration 002_bad\.sql failed at line 2: .*no_such_function/);
		expect(await tableNames(db)).toContain("ok_a");
		expect(await tableNames(db)).not.toContain("partial");
		expect(await recorded(db)).toEqual(["001"]);

		await writeFile(path.join(dir, "002_bad.sql"), "CREATE TABLE partial (x int);\n");
		expect((await migrate(db.pool, { dir })).applied).toEqual(["002_bad.sql"]);
	});

	it("runs -- migrate:no-transaction files statement by statement, outside a transaction", async () => {
		const db = await fresh("mig_notx");
		const dir = await tempDir();
		const concurrently = "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_x ON t (x);\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_y ON t (y);\n";
		await writeFile(path.join(dir, "001_t.sql"), "CREATE TABLE t (x int, y int);\n");
		await writeFile(path.join(dir, "002_idx.sql"), concurrently);
		await expect(migrate(db.pool, { dir })).rejects.toThrow(/cannot run inside a transaction block/);
		expect(await recorded(db)).toEqual(["001"]);

		await writeFile(path.join(dir, "002_idx.sql"), "-- migrate:no-transaction\n" + concurrently);
		expect((await migrate(db.pool, { dir })).applied).toEqual(["002_idx.sql"]);
		const idx = await db.pool.query("SELECT indexname FROM pg_indexes WHERE tablename = 't' ORDER BY 1");
		expect(idx.rows.map((r) => r.indexname)).toEqual(["t_x", "t_y"]);
	});

	it("passes settings to the migrations and resets them afterwards", async () => {
		const db = await fresh("mig_set");
		const pool = createPool(db.url, { max: 1 });
		try {
			// 002 reads mdp.timescale: 'on' demands TimescaleDB, which this server does not have.
			await expect(migrate(pool, { settings: { "mdp.timescale": "on" } })).rejects.toThrow(/002_timescale\.sql failed.*mdp\.timescale=on/);
			expect(await recorded({ pool } as TestDb)).toEqual(["001"]);
			await expect(migrate(pool, { settings: { "mdp.timescale": "sometimes" } })).rejects.toThrow(/must be auto, on or off/);

			expect((await migrate(pool, { settings: { "mdp.timescale": "auto" } })).applied).toEqual(
				(await loadMigrations()).slice(1).map((f) => f.file),
			);
			// Same (only) connection: the setting did not outlive the run.
			const r = await pool.query("SELECT current_setting('mdp.timescale', true) AS v");
			expect([null, ""]).toContain(r.rows[0].v);
			await expect(migrate(pool, { settings: { "x; DROP TABLE trades": "1" } })).rejects.toThrow(/not a setting name/);
		} finally {
			await pool.end();
		}
	});
});
