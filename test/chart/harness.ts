/**
 * The chart page's browser tests run the real thing: `npm start` (bin/start.ts) as a process on a fresh
 * database of the local PostgreSQL, fed by `npm run replay` (bin/replay.ts), and Debian's chromium driven by
 * playwright-core. Kraken streaming is left out of SERVICES so nothing dials out.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { freshDatabase, waitFor, type TestDb } from "../helpers/db";
import { freePort, getJson } from "../helpers/net";
import { runCli, startService, type Child } from "../helpers/proc";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const SERVICES = "tick-writer,cascade-refresher,api";

export interface Harness {
	db: TestDb;
	port: number;
	base: string;
	env: Record<string, string>;
	server: Child;
	browser: Browser;
	dir: string;
	/** Publish JSON lines through `npm run replay` into the running process. */
	replay(lines: object[]): Promise<void>;
	/** Stop the server and start it again on the same port and database. */
	restart(): Promise<void>;
	close(): Promise<void>;
}

export async function startHarness(prefix: string, extraEnv: Record<string, string> = {}): Promise<Harness> {
	const db = await freshDatabase(prefix);
	const port = await freePort();
	const dir = mkdtempSync(path.join(tmpdir(), `mdp-${prefix}-`));
	const env = { PORT: String(port), METRICS_PORT: "0", DATABASE_URL: db.url, SERVICES, MARKET_LOG: "memory", TRANSPORTER: "", REDIS_URL: "", CASCADE_INTERVAL_MS: "500",
		// The replayed markets are not in a catalog here (symbol-catalog is not among SERVICES): let ingest take them.
		INGEST_ALLOW_UNKNOWN: "true",
		...extraEnv };
	const boot = async () => {
		const s = startService(env);
		await s.waitForOutput(/pipeline up: services=/, 90_000);
		await waitFor(async () => (await getJson(`http://127.0.0.1:${port}/api/health`).catch(() => ({ status: 0 }))).status === 200, { timeoutMs: 30_000, what: "the api answering" });
		return s;
	};
	const h: Harness = {
		db,
		port,
		base: `http://127.0.0.1:${port}`,
		env,
		server: await boot(),
		browser: await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update"] }),
		dir,
		async replay(lines) {
			const file = path.join(dir, `replay-${Date.now()}-${Math.random().toString(36).slice(2)}.jsonl`);
			writeFileSync(file, lines.map((l) => JSON.stringify(l)).join("\n") + "\n");
			const r = await runCli("bin/replay.ts", [file], { MARKET_LOG: "", PORT: String(port) });
			if (r.code !== 0 || !/0 rejected/.test(r.out)) throw new Error(`replay failed (${r.code}): ${r.out}`);
		},
		async restart() {
			// A clean stop must not wait on open live streams; one that hangs fails the test, it is not papered over.
			const stopped = await Promise.race([h.server.kill("SIGTERM").then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 30_000))]);
			if (!stopped) {
				await h.server.kill("SIGKILL");
				throw new Error(`the server did not stop within 30 s of SIGTERM:\n${h.server.output().slice(-3000)}`);
			}
			h.server = await boot();
		},
		async close() {
			await h.browser?.close().catch(() => undefined);
			await h.server?.kill("SIGKILL");
			await db.drop();
			rmSync(dir, { recursive: true, force: true });
		},
	};
	return h;
}

/** Browser problems seen by a page: console errors, uncaught exceptions, and failed HTTP responses. */
export interface PageProblems {
	consoleErrors: { text: string; url: string }[];
	pageErrors: string[];
	failedResponses: { url: string; status: number }[];
}

export function watchProblems(page: Page): PageProblems {
	const p: PageProblems = { consoleErrors: [], pageErrors: [], failedResponses: [] };
	page.on("console", (m) => {
		if (m.type() === "error") p.consoleErrors.push({ text: m.text(), url: m.location().url });
	});
	page.on("pageerror", (e) => p.pageErrors.push(e.message));
	page.on("response", (r) => {
		if (r.status() >= 400) p.failedResponses.push({ url: r.url(), status: r.status() });
	});
	return p;
}
