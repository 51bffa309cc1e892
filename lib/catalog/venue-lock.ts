import type { Pool } from "pg";

/** The lock a venue's catalog writes (sync, seeding) share. */
export const venueLockName = (venue: string) => `venue:${venue}`;

/**
 * One replica at a time per catalog chore (a venue's sync, the history top-up, seeding a venue's first
 * active rows): a PostgreSQL session advisory lock held on one pooled connection while `fn` runs. By
 * default another replica that finds it taken skips the round (its own timer comes back later) and gets
 * undefined; `wait: true` queues behind the holder instead (seeding must not be skipped, nor run while a
 * sync of the same venue inserts the same rows).
 */
export async function withCatalogLock<T>(pool: Pool, name: string, fn: () => Promise<T>, opts: { wait?: boolean } = {}): Promise<T | undefined> {
	const client = await pool.connect();
	try {
		if (opts.wait) await client.query("SELECT pg_advisory_lock(hashtext('mdp-catalog'), hashtext($1))", [name]);
		else {
			const { rows } = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock(hashtext('mdp-catalog'), hashtext($1)) AS ok", [name]);
			if (!rows[0].ok) return undefined;
		}
		try {
			return await fn();
		} finally {
			await client.query("SELECT pg_advisory_unlock(hashtext('mdp-catalog'), hashtext($1))", [name]);
		}
	} finally {
		client.release();
	}
}
