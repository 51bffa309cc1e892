import type { Pool } from "pg";

/**
 * One replica at a time per catalog chore (a venue's sync, the history top-up): a PostgreSQL session
 * advisory lock held on one pooled connection while `fn` runs. Another replica that finds it taken
 * skips the round (its own timer comes back later). Returns undefined when skipped.
 */
export async function withCatalogLock<T>(pool: Pool, name: string, fn: () => Promise<T>): Promise<T | undefined> {
	const client = await pool.connect();
	try {
		const { rows } = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock(hashtext('mdp-catalog'), hashtext($1)) AS ok", [name]);
		if (!rows[0].ok) return undefined;
		try {
			return await fn();
		} finally {
			await client.query("SELECT pg_advisory_unlock(hashtext('mdp-catalog'), hashtext($1))", [name]);
		}
	} finally {
		client.release();
	}
}
