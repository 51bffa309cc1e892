// npm run migrate: apply sql/ migrations to DATABASE_URL. Exits non-zero on failure.
import { migrate } from "../lib/store/migrate";
import { createPool } from "../lib/store/pool";

async function main(): Promise<number> {
	const url = process.env.DATABASE_URL;
	if (!url) {
		console.error("migrate: DATABASE_URL is not set (e.g. DATABASE_URL=postgres://user:pass@host:5432/marketdata npm run migrate)");
		return 2;
	}
	const pool = createPool(url, { max: 1 });
	try {
		const { applied, timescale } = await migrate(pool, { logger: console });
		console.log(applied.length ? `migrate: applied ${applied.join(", ")}` : "migrate: database is up to date");
		console.log(`migrate: TimescaleDB ${timescale ? "enabled" : "not installed (plain PostgreSQL tables)"}`);
		return 0;
	} catch (err) {
		console.error(`migrate: ${(err as Error).message}`);
		return 1;
	} finally {
		await pool.end().catch(() => undefined);
	}
}

main().then((code) => {
	process.exitCode = code;
});
