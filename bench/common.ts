import { Client } from "pg";
import { createPool } from "../lib/store/pool";
import { migrate } from "../lib/store/migrate";
import type { Pool } from "pg";

/** Benchmarks use their own database on the machine's PostgreSQL (BENCH_PG_ADMIN_URL), dropped at the end. */
const ADMIN_URL = process.env.BENCH_PG_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export async function benchDatabase(prefix: string): Promise<{ url: string; pool: Pool; drop(): Promise<void> }> {
	const name = `mdp_bench_${prefix}_${process.pid}`;
	const admin = new Client({ connectionString: ADMIN_URL });
	await admin.connect();
	await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
	await admin.query(`CREATE DATABASE "${name}"`);
	await admin.end();
	const u = new URL(ADMIN_URL);
	u.pathname = "/" + name;
	const url = u.toString();
	const pool = createPool(url, { max: 8 });
	await migrate(pool);
	return {
		url,
		pool,
		async drop() {
			await pool.end();
			const a = new Client({ connectionString: ADMIN_URL });
			await a.connect();
			await a.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
			await a.end();
		},
	};
}

export function seconds(ms: number): string {
	return (ms / 1000).toFixed(2) + " s";
}

export function percentile(sorted: number[], p: number): number {
	if (!sorted.length) return NaN;
	return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
