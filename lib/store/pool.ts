import { Pool, type PoolClient, type PoolConfig, types } from "pg";

// NUMERIC (1700) stays a string: exact decimals end to end. INT8 (20) too, for trade ids and counts
// beyond 2^53; callers convert small counts explicitly.
types.setTypeParser(1700, (v) => v);
types.setTypeParser(20, (v) => v);

export interface Logger {
	info(...args: unknown[]): void;
	warn(...args: unknown[]): void;
	error(...args: unknown[]): void;
	debug?(...args: unknown[]): void;
}

export function createPool(connectionString: string, opts: Partial<PoolConfig> & { logger?: Logger } = {}): Pool {
	const { logger, ...cfg } = opts;
	const pool = new Pool({ connectionString, max: 10, idleTimeoutMillis: 30_000, ...cfg });
	// An idle client losing its connection must not crash the process.
	pool.on("error", (err) => (logger ?? console).error("pg pool: idle client error", err.message));
	// Nor a checked-out one: pg-pool removes its own 'error' listener while a client is lent out, and a server
	// restart (pg_ctl restart -m fast/immediate) then raised an unhandled 'error' event between two queries of
	// a transaction. The query in flight fails on its own; the broken client is dropped on release.
	pool.on("connect", (client) => {
		client.on("error", (err) => (logger ?? console).warn("pg: connection lost", err.message));
	});
	return pool;
}

/**
 * Run fn in one transaction on one pooled connection; commits when it resolves, rolls back (and
 * rethrows) when it throws. `begin` sets the opening statement, e.g. "BEGIN ISOLATION LEVEL REPEATABLE READ".
 */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>, begin = "BEGIN"): Promise<T> {
	const client = await pool.connect();
	try {
		await client.query(begin);
		const result = await fn(client);
		await client.query("COMMIT");
		client.release();
		return result;
	} catch (err) {
		let broken: Error | undefined;
		await client.query("ROLLBACK").catch((e: Error) => (broken = e));
		// A connection that cannot even roll back is not given back to the pool.
		client.release(broken);
		throw err;
	}
}
