import { Client, Pool } from "pg";
import { createPool } from "../../lib/store/pool";

/** The machine's PostgreSQL (trust auth). Tests make a database of their own on it and drop it after. */
export const ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export function dbUrl(name: string): string {
	const u = new URL(ADMIN_URL);
	u.pathname = "/" + name;
	return u.toString();
}

export interface TestDb {
	name: string;
	url: string;
	pool: Pool;
	drop(): Promise<void>;
}

/** Create an empty database with a unique name; `drop()` ends the pool and removes it. */
export async function freshDatabase(prefix: string): Promise<TestDb> {
	const name = `mdp_${prefix.replace(/[^a-z0-9_]/gi, "_").toLowerCase()}_${process.pid}_${Date.now().toString(36)}`;
	const admin = new Client({ connectionString: ADMIN_URL });
	await admin.connect();
	try {
		await admin.query(`CREATE DATABASE "${name}"`);
	} finally {
		await admin.end();
	}
	const url = dbUrl(name);
	const pool = createPool(url, { max: 8 });
	return {
		name,
		url,
		pool,
		async drop() {
			await pool.end().catch(() => undefined);
			const a = new Client({ connectionString: ADMIN_URL });
			await a.connect();
			try {
				await a.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
			} finally {
				await a.end();
			}
		},
	};
}

/** Poll `fn` until it returns a truthy value or the deadline passes (then throws with the last value). */
export async function waitFor<T>(fn: () => Promise<T> | T, { timeoutMs = 20_000, intervalMs = 50, what = "condition" } = {}): Promise<NonNullable<T>> {
	const deadline = Date.now() + timeoutMs;
	let last: T | undefined;
	for (;;) {
		last = await fn();
		if (last) return last as NonNullable<T>;
		if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
		await new Promise((r) => setTimeout(r, intervalMs));
	}
}
