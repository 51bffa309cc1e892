import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { Pool, PoolClient, QueryResult, QueryResultRow } from "pg";
import type { Logger } from "./pool";

/** The repo's migrations. */
export const DEFAULT_MIGRATIONS_DIR = path.resolve(__dirname, "../../sql");

/** Key of the session-level advisory lock that serialises migration runners (several pods start at once). */
export const MIGRATION_LOCK_KEY = 7_301_946_202_511;

/** First line of a file whose statements must run one by one, outside any transaction block. */
const NO_TRANSACTION_MARKER = /^--\s*migrate:no-transaction\b/;
const SETTING_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;
const FILE_NAME = /^(\d+)_([A-Za-z0-9][A-Za-z0-9_.-]*)\.sql$/;

export interface MigrateOptions {
	/** Folder of `NNN_name.sql` files; default: the repo's `sql/`. */
	dir?: string;
	logger?: Logger;
	/**
	 * Session settings for the migrating connection, e.g. `{ "mdp.tick_retention": "5 years" }` (see
	 * sql/002_timescale.sql). They are RESET afterwards, so they never leak into the pool.
	 */
	settings?: Record<string, string>;
}

export interface MigrateResult {
	/** File names applied by this run, in order (empty when the database was up to date). */
	applied: string[];
	/** Whether the timescaledb extension is installed in the database after the run. */
	timescale: boolean;
}

export interface MigrationFile {
	version: string;
	name: string;
	file: string;
	sql: string;
	checksum: string;
	noTransaction: boolean;
}

/** Anything with pg's `query(text, values)`: a Pool, a Client or a PoolClient. */
export interface Queryable {
	query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
}

export class MigrationError extends Error {
	constructor(message: string, options?: { cause?: unknown }) {
		super(message, options);
		this.name = "MigrationError";
	}
}

/** Whether the server could install TimescaleDB (the extension's files are there), installed or not. */
export async function timescaleAvailable(client: Queryable): Promise<boolean> {
	const r = await client.query<{ ok: boolean }>("SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') AS ok");
	return r.rows[0].ok;
}

/** Whether TimescaleDB is installed in the current database. */
export async function timescaleInstalled(client: Queryable): Promise<boolean> {
	const r = await client.query<{ ok: boolean }>("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AS ok");
	return r.rows[0].ok;
}

/** Read and order the migration files of `dir`. Throws on two files with the same number. */
export async function loadMigrations(dir: string = DEFAULT_MIGRATIONS_DIR): Promise<MigrationFile[]> {
	const files: MigrationFile[] = [];
	for (const file of await readdir(dir)) {
		const m = FILE_NAME.exec(file);
		if (!m) continue;
		// CRLF checkouts must not look like edited migrations.
		const sql = (await readFile(path.join(dir, file), "utf8")).replace(/\r\n/g, "\n");
		files.push({
			version: m[1],
			name: m[2],
			file,
			sql,
			checksum: createHash("sha256").update(sql).digest("hex"),
			noTransaction: NO_TRANSACTION_MARKER.test(sql),
		});
	}
	files.sort((a, b) => Number(a.version) - Number(b.version) || a.version.localeCompare(b.version));
	for (let i = 1; i < files.length; i++) {
		if (Number(files[i].version) === Number(files[i - 1].version)) {
			throw new MigrationError(`two migrations share number ${files[i].version}: ${files[i - 1].file} and ${files[i].file}`);
		}
	}
	return files;
}

/**
 * Apply the pending migrations of `opts.dir` in order, each in its own transaction (or statement by statement
 * for `-- migrate:no-transaction` files), recording them in `schema_migrations`.
 * Uses one connection for everything (lock, bookkeeping, migrations), so a pool of one connection works.
 */
export async function migrate(pool: Pool, opts: MigrateOptions = {}): Promise<MigrateResult> {
	const log = opts.logger;
	const files = await loadMigrations(opts.dir ?? DEFAULT_MIGRATIONS_DIR);
	const settings = Object.entries(opts.settings ?? {});
	for (const [name] of settings) {
		if (!SETTING_NAME.test(name)) throw new MigrationError(`not a setting name: ${JSON.stringify(name)}`);
	}
	const client = await pool.connect();
	let discard = false;
	let locked = false;
	try {
		for (const [name, value] of settings) await client.query("SELECT set_config($1, $2, false)", [name, value]);
		// Session-level lock: it outlives the per-file transactions and is released even if we crash (session ends).
		const got = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1) AS ok", [MIGRATION_LOCK_KEY]);
		if (!got.rows[0].ok) {
			log?.info("migrate: another runner holds the migration lock, waiting");
			await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
		}
		locked = true;

		await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
			version     text        PRIMARY KEY,
			name        text        NOT NULL,
			checksum    text        NOT NULL,
			applied_at  timestamptz NOT NULL DEFAULT now()
		)`);
		const done = new Map(
			(await client.query<{ version: string; name: string; checksum: string }>("SELECT version, name, checksum FROM schema_migrations")).rows.map((r) => [
				r.version,
				r,
			]),
		);

		// Refuse before touching anything: an edited migration means this database and the files disagree.
		const byVersion = new Map(files.map((f) => [f.version, f]));
		for (const row of done.values()) {
			const f = byVersion.get(row.version);
			if (!f) {
				// A newer release may have migrated this database already (rolling deploys): not ours to judge.
				log?.warn(`migrate: applied migration ${row.version}_${row.name} has no file here`);
				continue;
			}
			if (f.checksum !== row.checksum) {
				throw new MigrationError(
					`migration ${f.file} was changed after it was applied (recorded checksum ${row.checksum.slice(0, 12)}, file ${f.checksum.slice(0, 12)}); ` +
						"migrations are forward-only: restore the file and add a new numbered migration instead",
				);
			}
		}

		const applied: string[] = [];
		for (const f of files) {
			if (done.has(f.version)) continue;
			const started = Date.now();
			log?.info(`migrate: applying ${f.file}${f.noTransaction ? " (no transaction)" : ""}`);
			try {
				if (f.noTransaction) await applyWithoutTransaction(client, f);
				else await applyInTransaction(client, f);
			} catch (err) {
				discard = true;
				throw new MigrationError(`migration ${f.file} failed${describePosition(f, err)}: ${(err as Error).message}`, { cause: err });
			}
			log?.info(`migrate: applied ${f.file} in ${Date.now() - started} ms`);
			applied.push(f.file);
		}
		return { applied, timescale: await timescaleInstalled(client) };
	} catch (err) {
		discard = true;
		throw err;
	} finally {
		// RESET rather than dropping the connection: over pglite-socket every connection is the same backend
		// session, so closing it would not clear anything.
		for (const [name] of settings) await client.query(`RESET ${name}`).catch(() => (discard = true));
		if (locked) {
			await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => {
				discard = true;
			});
		}
		// A connection that failed mid-way may be in any state: close it rather than hand it back to the pool.
		client.release(discard);
	}
}

async function applyInTransaction(client: PoolClient, f: MigrationFile): Promise<void> {
	await client.query("BEGIN");
	try {
		// No parameters: pg uses the simple protocol, which accepts the whole file as one multi-statement string.
		await client.query(f.sql);
		await record(client, f);
		await client.query("COMMIT");
	} catch (err) {
		await client.query("ROLLBACK").catch(() => undefined);
		throw err;
	}
}

async function applyWithoutTransaction(client: PoolClient, f: MigrationFile): Promise<void> {
	// One query per statement: PostgreSQL runs a multi-statement string as one implicit transaction block,
	// which is exactly what CREATE INDEX CONCURRENTLY and friends refuse. Such files must be safe to re-run
	// (IF NOT EXISTS ...), since a failure halfway leaves the earlier statements applied and the file unrecorded.
	for (const stmt of splitSqlStatements(f.sql)) await client.query(stmt);
	await record(client, f);
}

async function record(client: PoolClient, f: MigrationFile): Promise<void> {
	await client.query("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", [f.version, f.name, f.checksum]);
}

function describePosition(f: MigrationFile, err: unknown): string {
	const pos = Number((err as { position?: string }).position);
	if (f.noTransaction || !Number.isInteger(pos) || pos < 1) return "";
	return ` at line ${f.sql.slice(0, pos - 1).split("\n").length}`;
}

/**
 * Split SQL text into statements at top-level semicolons, skipping those inside quotes ('', E'', ""),
 * dollar quotes ($$, $tag$) and comments. Statements that are only comments and whitespace are dropped.
 */
export function splitSqlStatements(sql: string): string[] {
	const out: string[] = [];
	let start = 0;
	let meaningful = false;
	let i = 0;
	const n = sql.length;
	const isIdent = (c: string | undefined) => c !== undefined && /[A-Za-z0-9_$]/.test(c);
	const push = (end: number) => {
		const s = sql.slice(start, end).trim();
		if (meaningful && s) out.push(s);
		start = end + 1;
		meaningful = false;
	};
	while (i < n) {
		const c = sql[i];
		const next = sql[i + 1];
		if (c === "-" && next === "-") {
			const eol = sql.indexOf("\n", i);
			i = eol < 0 ? n : eol + 1;
			continue;
		}
		if (c === "/" && next === "*") {
			// Block comments nest in PostgreSQL.
			let depth = 1;
			i += 2;
			while (i < n && depth > 0) {
				if (sql[i] === "/" && sql[i + 1] === "*") {
					depth++;
					i += 2;
				} else if (sql[i] === "*" && sql[i + 1] === "/") {
					depth--;
					i += 2;
				} else i++;
			}
			continue;
		}
		if (c === ";") {
			push(i);
			i++;
			continue;
		}
		if (!/\s/.test(c)) meaningful = true;
		if (c === "'") {
			const escapes = (sql[i - 1] === "E" || sql[i - 1] === "e") && !isIdent(sql[i - 2]);
			i++;
			while (i < n) {
				if (escapes && sql[i] === "\\") i += 2;
				else if (sql[i] === "'" && sql[i + 1] === "'") i += 2;
				else if (sql[i] === "'") break;
				else i++;
			}
			i++;
			continue;
		}
		if (c === '"') {
			i++;
			while (i < n) {
				if (sql[i] === '"' && sql[i + 1] === '"') i += 2;
				else if (sql[i] === '"') break;
				else i++;
			}
			i++;
			continue;
		}
		if (c === "$" && !isIdent(sql[i - 1])) {
			const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64));
			if (m) {
				const end = sql.indexOf(m[0], i + m[0].length);
				i = end < 0 ? n : end + m[0].length;
				continue;
			}
		}
		i++;
	}
	push(n);
	return out;
}
