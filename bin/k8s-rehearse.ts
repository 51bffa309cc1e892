// npm run k8s:rehearse: run the dev overlay's Deployments as local processes and kill some (lib/ops/rehearsal.ts).
// Needs kubectl, NATS (JetStream) on 127.0.0.1:4222, Redis on 6379, and PostgreSQL at REHEARSE_PG_ADMIN_URL
// (default postgres://postgres@127.0.0.1:5432/postgres), where it makes and drops a database of its own.
import { Client } from "pg";
import { rehearse } from "../lib/ops/rehearsal";
import { createPool } from "../lib/store/pool";

async function main(): Promise<number> {
	const admin = process.env.REHEARSE_PG_ADMIN_URL || "postgres://postgres@127.0.0.1:5432/postgres";
	const runId = `${process.pid}_${Date.now().toString(36)}`;
	const dbName = `mdp_rehearse_${runId}`;
	const c = new Client({ connectionString: admin });
	await c.connect();
	await c.query(`CREATE DATABASE ${dbName}`);
	const url = new URL(admin);
	url.pathname = `/${dbName}`;
	const pool = createPool(url.toString(), { max: 2 });
	try {
		const r = await rehearse({ databaseUrl: url.toString(), pool, runId, log: (l) => console.log(`rehearsal: ${l}`) });
		console.log(r.summary);
		return r.ok ? 0 : 1;
	} finally {
		await pool.end();
		await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
		await c.end();
	}
}

main().then(
	(code) => process.exit(code),
	(err) => {
		console.error(err?.stack ?? err);
		process.exit(1);
	},
);
