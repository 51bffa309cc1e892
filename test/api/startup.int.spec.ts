import { Client } from "pg";
import { ADMIN_URL, waitFor } from "../helpers/db";
import { freePort, getJson } from "../helpers/net";
import { startService, type Child } from "../helpers/proc";

/**
 * Start-up against a database that is not there yet, refuses us, or wants TLS it does not get: `npm start`
 * keeps running, /api/health answers, /api/ready names the failing check without the driver's text, the
 * log says what is wrong, and the password in DATABASE_URL appears nowhere.
 */

const PASSWORD = "pw-Sup3rSecret-4f9a1c";
const TOKEN = "tok-0123456789abcdef0123456789";

function urlWith(user: string, db: string, port = 5432, query = ""): string {
	const u = new URL(ADMIN_URL);
	return `postgres://${user}:${encodeURIComponent(PASSWORD)}@${u.hostname}:${port}/${db}${query}`;
}

async function admin(sql: string): Promise<void> {
	const c = new Client({ connectionString: ADMIN_URL });
	await c.connect();
	try {
		await c.query(sql);
	} finally {
		await c.end();
	}
}

describe("npm start while the database is not usable", () => {
	const children: Child[] = [];
	const dbs: string[] = [];
	afterAll(async () => {
		for (const c of children) await c.kill("SIGKILL");
		for (const d of dbs) await admin(`DROP DATABASE IF EXISTS "${d}" WITH (FORCE)`);
	});

	async function start(databaseUrl: string, metricsPort = 0): Promise<{ child: Child; base: string }> {
		const port = await freePort();
		const child = startService({ DATABASE_URL: databaseUrl, SERVICES: "api,tick-writer", MARKET_LOG: "memory", TRANSPORTER: "", REDIS_URL: "", PORT: String(port), METRICS_PORT: String(metricsPort), API_HOST: "", API_TOKEN: TOKEN, API_READ_TOKEN: "", DB_WAIT_MAX_BACKOFF_MS: "500" });
		children.push(child);
		await child.waitForOutput(/api listening on/, 60_000);
		return { child, base: `http://127.0.0.1:${port}/api` };
	}

	async function readyState(base: string, check = "database"): Promise<string | undefined> {
		const r = await getJson(`${base}/ready`);
		return r.status === 503 ? r.body.data?.[check] : r.status === 200 ? "ok" : undefined;
	}

	function expectNoSecret(child: Child, ...answers: unknown[]): void {
		for (const text of [child.output(), ...answers.map((a) => JSON.stringify(a))]) {
			expect(text).not.toContain(PASSWORD);
			expect(text).not.toContain(encodeURIComponent(PASSWORD));
			expect(text).not.toContain(TOKEN);
		}
	}

	it("waits for a database that does not exist yet, answering health and naming the database in readiness, then comes up", async () => {
		const name = `mdp_startup_${process.pid}_${Date.now().toString(36)}`;
		dbs.push(name);
		const metricsPort = await freePort();
		const { child, base } = await start(urlWith("postgres", name), metricsPort);
		expect((await getJson(`${base}/health`)).status).toBe(200);
		await waitFor(async () => (await readyState(base)) === "missing", { what: "readiness naming the missing database" });
		const ready = await getJson(`${base}/ready`);
		expect(ready.status).toBe(503);
		expect(ready.body.data).toEqual({ database: "missing", log: "ok", startup: "waiting-for-database", feeds: "ok" });
		await child.waitForOutput(/database postgres:\/\/postgres:\*\*\*@[^ ]+ not ready \(missing\)/);
		expect(child.proc.exitCode).toBeNull();

		await admin(`CREATE DATABASE "${name}"`);
		await child.waitForOutput(/pipeline up/, 60_000);
		const up = await getJson(`${base}/ready`);
		expect([up.status, up.body.checks]).toEqual([200, { database: "ok", log: "ok", feeds: "ok" }]);
		const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
		expect(metrics).toMatch(/moleculer_/);
		expectNoSecret(child, ready.body, up.body, metrics);
	});

	it("keeps waiting when the server is unreachable, without the driver's error text in readiness", async () => {
		const { child, base } = await start(urlWith("postgres", "postgres", await freePort()));
		await waitFor(async () => (await readyState(base)) === "unreachable", { what: "readiness naming the unreachable database" });
		const ready = await getJson(`${base}/ready`);
		expect(JSON.stringify(ready.body)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1/);
		expect((await getJson(`${base}/health`)).status).toBe(200);
		await child.waitForOutput(/not ready \(unreachable\).*retrying in/);
		expectNoSecret(child, ready.body);
	});

	it("reports an authentication failure as a clear error and a failing check", async () => {
		const { child, base } = await start(urlWith(`mdp_nobody_${process.pid}`, "postgres"));
		await waitFor(async () => (await readyState(base)) === "auth-failed", { what: "readiness naming the authentication failure" });
		await child.waitForOutput(/ERROR.*not ready \(auth-failed\).*authentication failed: check the user and password in DATABASE_URL/);
		expectNoSecret(child, (await getJson(`${base}/ready`)).body);
	});

	it("honours sslmode from DATABASE_URL (this server offers no TLS, so sslmode=require fails and says so)", async () => {
		const { child, base } = await start(urlWith("postgres", "postgres", 5432, "?sslmode=require"));
		await waitFor(async () => (await readyState(base)) === "tls-failed", { what: "readiness naming the TLS failure" });
		await child.waitForOutput(/not ready \(tls-failed\): The server does not support SSL connections/);
		expectNoSecret(child);
	});
});
