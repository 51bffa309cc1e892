import { runCli } from "../helpers/proc";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { lzma } from "@napi-rs/lzma";
import { startPipeline, type Pipeline } from "../../bin/pipeline";
import { loadConfig } from "../../lib/config";
import { freshDatabase, waitFor, type TestDb } from "../helpers/db";
import { DUKASCOPY_FIXTURES, EURUSD_HOUR_FILES, FakeDukascopy } from "../helpers/fake-dukascopy";
import { freePort } from "../helpers/net";

const ROOT = path.resolve(__dirname, "../..");


/** `npm run backfill -- ...` as a real process (non-TTY: plain progress lines on stderr). */
const cli = (args: string[], env: Record<string, string> = {}) => runCli("bin/backfill.ts", args, env);

describe("backfill CLI", () => {
	let db: TestDb;
	let fake: FakeDukascopy;
	let p: Pipeline;
	let api: string;

	beforeAll(async () => {
		db = await freshDatabase("dukacli");
		fake = await FakeDukascopy.start();
		const port = await freePort();
		p = await startPipeline(
			loadConfig({
				DATABASE_URL: db.url,
				MARKET_LOG: "memory",
				SERVICES: "tick-writer,api,dukascopy-backfill",
				PORT: String(port),
				METRICS_PORT: "0",
				DUKASCOPY_URL: fake.datafeedUrl,
				BACKFILL_RATE_PER_SEC: "500",
				LOG_LEVEL: "fatal",
			}),
		);
		api = `http://127.0.0.1:${port}`;
	});
	afterAll(async () => {
		await p?.stop();
		await fake?.close();
		await db?.drop();
	});

	it("exits 2 with a clear message on a bad instrument, date or source, without asking the pipeline", async () => {
		const bad = [
			[["dukascopy", "FOOBAR", "2024-01-01", "2024-02-01"], /backfill: unknown Dukascopy instrument "FOOBAR" \(known: EURUSD, /],
			[["dukascopy", "EURUSD", "2024-13-01", "2024-02-01"], /backfill: from="2024-13-01" is not a date/],
			[["dukascopy", "EURUSD", "2024-02-01", "2024-01-01"], /backfill: from \(2024-02-01T00:00:00.000Z\) must be before to/],
			[["dukascopy", "EURUSD", "2024-01-01"], /expected 4 arguments/],
			[["oanda", "EURUSD", "2024-01-01", "2024-02-01"], /unknown source "oanda"/],
		] as const;
		const before = fake.requests.length;
		for (const [args, msg] of bad) {
			const r = await cli([...args, "--api", api]);
			expect(r.code).toBe(2);
			expect(r.stderr).toMatch(msg);
		}
		expect(fake.requests.length).toBe(before);
	}, 60_000);

	it("runs a job to the end with progress lines, then fills only the gaps", async () => {
		const r = await cli(["dukascopy", "EURUSD", "2019-02-04T00:00:00Z", "2019-02-04T02:00:00Z", "--api", api]);
		const ticks = EURUSD_HOUR_FILES.slice(0, 2).map((f) => lzma.decompressSync(fs.readFileSync(path.join(DUKASCOPY_FIXTURES, f))).length / 20);
		const total = ticks[0] + ticks[1];
		expect(r.code).toBe(0);
		expect(r.stdout).toMatch(/^job (\d+): EURUSD 2019-02-04T00:00:00.000Z \.\. 2019-02-04T02:00:00.000Z, 2 hours$/m);
		expect(r.stderr).toMatch(new RegExp(`^job \\d+: 2/2 hours, ${total.toLocaleString("en-US")} ticks, [\\d,]+ ticks/s$`, "m"));
		expect(r.stdout).toMatch(/^job \d+ done: 2\/2 hours/m);
		expect(r.stderr).not.toContain("\r"); // no bar drawn when stderr is not a terminal
		await waitFor(async () => (await db.pool.query("SELECT count(*)::int AS n FROM quotes")).rows[0].n === total, { what: "the CLI job's ticks stored" });

		const g = await cli(["dukascopy", "EURUSD", "2019-02-04T00:00:00Z", "2019-02-04T03:00:00Z", "--fill-gaps", "--api", api]);
		expect(g.code).toBe(0);
		expect(g.stdout).toMatch(/EURUSD: 1 missing hour\(s\) in the range, first 2019-02-04T02:00:00.000Z/);
		expect(g.stdout).toMatch(/^job \d+ done: 1\/1 hours/m);
	}, 60_000);

	it("draws a progress bar with hours, ticks and ETA when stderr is a terminal", async () => {
		// util-linux `script` gives the CLI a pseudo-terminal
		const cmd = `${process.execPath} --import tsx bin/backfill.ts dukascopy EURUSD 2019-02-04T00:00:00Z 2019-02-04T03:00:00Z --api ${api}`;
		const r = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
			const proc = spawn("script", ["-qec", cmd, "/dev/null"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
			let out = "";
			proc.stdout.on("data", (b) => (out += b));
			proc.stderr.on("data", (b) => (out += b));
			proc.on("error", reject);
			proc.on("exit", (code) => resolve({ code, out }));
		});
		expect(r.code).toBe(0);
		expect(r.out).toMatch(/\r\[#+\] 100% 3\/3 hours, [\d,]+ ticks, [\d,]+ ticks\/s\x1b\[K/);
		expect(r.out).not.toMatch(/^job \d+: 3\/3 hours/m); // the bar replaces the plain lines
	}, 60_000);

	it("exits 1 when the pipeline cannot be reached", async () => {
		const r = await cli(["dukascopy", "EURUSD", "2019-02-04", "2019-02-05", "--api", "http://127.0.0.1:1"]);
		expect(r.code).toBe(1);
		expect(r.stderr).toMatch(/cannot reach the pipeline's API at http:\/\/127.0.0.1:1\/api\/backfill/);
	}, 30_000);
});
