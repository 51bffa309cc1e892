import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { freshDatabase, waitFor, type TestDb } from "../helpers/db";
import { deleteStream } from "../helpers/nats";
import { freePort } from "../helpers/net";
import { startService, type Child } from "../helpers/proc";
import { makeTrades } from "../helpers/trades";

// Plain `npm start` (no TRANSPORTER), then `npm run repl -- --attach` driven through its standard input.
describe("npm run repl -- --attach", () => {
	let db: TestDb;
	let dataDir: string;
	let pipeline: Child;
	let repl: Child | null = null;
	let port: number;
	const start = Date.parse("2026-03-02T10:00:00Z");
	const trades = makeTrades(200, start, 5 * 60_000, 7);

	beforeAll(async () => {
		db = await freshDatabase("repl_attach");
		dataDir = mkdtempSync(path.join(os.tmpdir(), "mdp-repl-"));
		port = await freePort();
		const closed = await freePort(); // nothing listens there: the Kraken feed just backs off
		pipeline = startService({
			DATABASE_URL: db.url,
			DATA_DIR: dataDir,
			PORT: String(port),
			METRICS_PORT: "0",
			KRAKEN_WS_URL: `ws://127.0.0.1:${closed}`,
			KRAKEN_REST_URL: `http://127.0.0.1:${closed}`,
		});
		await pipeline.waitForOutput(/pipeline up/, 60_000);
		const lines = trades.map((t) => JSON.stringify({ venue: "kraken", symbol: "BTC-USD-SPOT", ...t })).join("\n");
		const res = await fetch(`http://127.0.0.1:${port}/api/ingest`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ lines }) });
		expect(res.status).toBe(200);
		await waitFor(async () => (await db.pool.query("SELECT count(*)::int AS n FROM candles_1m")).rows[0].n > 0 || null, { timeoutMs: 30_000, what: "candles" });
	}, 120_000);

	afterAll(async () => {
		await repl?.kill();
		await pipeline?.kill("SIGTERM");
		await db?.drop();
		rmSync(dataDir, { recursive: true, force: true });
	});

	/** Type one command and wait for what it must print (the REPL answers asynchronously). */
	async function run(command: string, expected: RegExp): Promise<string> {
		const before = repl!.output().length;
		repl!.write(command + "\n");
		await waitFor(() => expected.test(repl!.output().slice(before)) || null, { timeoutMs: 20_000, what: `${command} -> ${expected}` });
		return repl!.output().slice(before);
	}

	it("joins the running process without starting services, and the operator commands answer", async () => {
		repl = startService({ DATA_DIR: dataDir, METRICS_PORT: "0" }, { args: ["--repl", "--attach"], stdin: true });
		await repl.waitForOutput(/attached to 1 node\(s\)/, 30_000);
		// It runs no service of its own: the pipeline's node is the only one with them.
		await run("help", /freshness[\s\S]*leader[\s\S]*feeds[\s\S]*symbols[\s\S]*backfill[\s\S]*gaps[\s\S]*cascade/);
		await run("help cascade", /cascade refresh \[from to\]/);
		const leader = await run("leader", /one leader/);
		expect(leader).toMatch(/true/);
		const fresh = await run("freshness", /BTC-USD-SPOT/);
		expect(fresh).toMatch(/kraken/);
		expect(fresh).toMatch(/1m/);
		await run("gaps", /\(none\)|venue/);
		await run("backfill", /\(none\)/);
		// The Kraken feed backs off against a closed port; the catalog holds the pair KRAKEN_SYMBOLS seeded.
		const feeds = await run("feeds", /kraken/);
		expect(feeds).toMatch(/connecting|backoff/);
		await run("symbols kraken", /BTC-USD-SPOT/);
		await run("add kraken BTC-USD-SPOT", /added kraken BTC-USD-SPOT/);
		// Kraken's pair list is unreachable here, so the catalog cannot know ETH/USD: the answer says so.
		await run("add kraken ETH/USD", /unknown symbol "ETH\/USD" on kraken/);
		const refresh = await run(`cascade refresh ${new Date(start).toISOString()} ${new Date(start + 10 * 60_000).toISOString()}`, /cascade refresh requested: \d+ buckets marked/);
		expect(Number(/requested: (\d+) buckets/.exec(refresh)![1])).toBeGreaterThanOrEqual(5);
		await run("cascade refresh 2026-03-02T11:00:00Z", /give both from and to/);
		// The marked minutes are rebuilt by the leader.
		await waitFor(async () => (await db.pool.query("SELECT count(*)::int AS n FROM dirty_buckets")).rows[0].n === 0 || null, { what: "refresh consumed" });
		repl.end();
		expect(await repl.exited()).toBe(0);
		// The pipeline is untouched by the REPL leaving.
		const res = await fetch(`http://127.0.0.1:${port}/api/health`);
		expect(res.status).toBe(200);
	}, 120_000);

	it("joins a cluster over TRANSPORTER and NAMESPACE", async () => {
		const namespace = `repl-${process.pid}-${Date.now().toString(36)}`;
		const stream = `MDP_REPL_${process.pid}_${Date.now().toString(36)}`.toUpperCase();
		const cluster = { TRANSPORTER: "nats://127.0.0.1:4222", NAMESPACE: namespace, METRICS_PORT: "0" };
		const refresher = startService({
			...cluster,
			SERVICES: "cascade-refresher",
			NODE_ID: "refresher-a",
			DATABASE_URL: db.url,
			MARKET_LOG: "jetstream",
			MARKET_LOG_STREAM: stream,
			MARKET_LOG_SUBJECT_PREFIX: `${stream.toLowerCase()}.`,
			MIGRATE_ON_START: "false",
		});
		try {
			await refresher.waitForOutput(/pipeline up/, 60_000);
			repl = startService({ ...cluster, NODE_ID: "refresher-a" }, { args: ["--repl", "--attach"], stdin: true });
			// its own node id, though the environment names another node's
			await repl.waitForOutput(/attached to 1 node\(s\): refresher-a /, 30_000);
			const leader = await run("leader", /one leader/);
			expect(leader).toMatch(/refresher-a/);
			await run("freshness", /service not available: nothing in this cluster serves api\.freshness/);
			repl.end();
			expect(await repl.exited()).toBe(0);
		} finally {
			await refresher.kill("SIGTERM");
			await deleteStream(stream).catch(() => undefined);
		}
	}, 120_000);

	it("says why when there is nothing to attach to", async () => {
		const empty = mkdtempSync(path.join(os.tmpdir(), "mdp-repl-none-"));
		try {
			const r = startService({ DATA_DIR: empty, METRICS_PORT: "0" }, { args: ["--repl", "--attach"], stdin: true });
			expect(await r.exited()).toBe(2);
			expect(r.output()).toMatch(/no running `npm start` to attach to/);
		} finally {
			rmSync(empty, { recursive: true, force: true });
		}
	});
});
