import { clientAuthorization } from "../lib/api/guard";
import { ParamError } from "../lib/api/params";
import type { JobStatus } from "../lib/backfill/jobs";
import { parseBackfillRequest } from "../lib/backfill/params";
import { progressBar, progressText } from "../lib/backfill/progress";
import { ConfigError, loadConfig } from "../lib/config";

const USAGE = `usage: npm run backfill -- dukascopy <INSTRUMENT> <FROM> <TO> [--fill-gaps] [--api http://localhost:3000]
  INSTRUMENT  a Dukascopy instrument, e.g. EURUSD, USDJPY, XAUUSD, BTCUSD
  FROM, TO    ISO-8601 dates or date-times (UTC), e.g. 2024-01-01 2024-02-01; TO is exclusive
  --fill-gaps fetch only the hours of the range that should have ticks and have none (FX weekends skipped)
  --api       the pipeline's API (default http://localhost:$PORT); the job runs on its dukascopy-backfill workers
This is a client of a running pipeline: start \`npm start\` (or the cluster's api) first.`;

class UsageError extends Error {}

function parseArgs(argv: string[]) {
	const positional: string[] = [];
	let fillGaps = false;
	let api: string | undefined;
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		if (a === "--fill-gaps") fillGaps = true;
		else if (a === "--api") api = argv[++i];
		else if (a === "-h" || a === "--help") throw new UsageError("");
		else if (a.startsWith("--")) throw new UsageError(`unknown option ${a}`);
		else positional.push(a);
	}
	if (positional.length !== 4) throw new UsageError(`expected 4 arguments (source, instrument, from, to), got ${positional.length}`);
	const [source, instrument, from, to] = positional;
	if (source !== "dukascopy") throw new UsageError(`unknown source ${JSON.stringify(source)}: this command backfills "dukascopy"`);
	return { instrument, from, to, fillGaps, api };
}

async function call(method: "GET" | "POST", url: string, body?: unknown): Promise<any> {
	let res: Response;
	try {
		// API_TOKEN / API_READ_TOKEN from the same environment as the pipeline's
		const headers = { ...clientAuthorization(loadConfig(), method), ...(body ? { "content-type": "application/json" } : {}) };
		res = await fetch(url, { method, headers, body: body ? JSON.stringify(body) : undefined });
	} catch (err) {
		const e = err as Error & { cause?: Error };
		throw new Error(`cannot reach the pipeline's API at ${url} (is \`npm start\` running? or pass --api): ${e.cause?.message ?? e.message}`);
	}
	const text = await res.text();
	let json: any;
	try {
		json = JSON.parse(text);
	} catch {
		json = { message: text };
	}
	if (!res.ok) throw new Error(`${method} ${url} -> ${res.status}: ${json?.message ?? text}`);
	return json;
}

/**
 * `npm run backfill -- dukascopy EURUSD 2024-01-01 2024-02-01 [--fill-gaps]`: queues a Dukascopy job on
 * the running pipeline (POST /api/backfill or /api/backfill/gaps) and follows it to the end with a
 * progress bar on stderr when that is a terminal, plain progress lines otherwise. Exit codes: 0 done,
 * 1 job failed or pipeline unreachable, 2 bad arguments (unknown instrument, bad date).
 */
async function main(): Promise<number> {
	let args: ReturnType<typeof parseArgs>;
	let config;
	try {
		args = parseArgs(process.argv.slice(2));
		config = loadConfig();
		// Check here, before asking anyone: a typo fails fast with the same messages the API gives.
		parseBackfillRequest({ source: "dukascopy", instrument: args.instrument, from: args.from, to: args.to });
	} catch (err) {
		if (err instanceof UsageError) {
			if (err.message) console.error(`backfill: ${err.message}`);
			console.error(USAGE);
			return 2;
		}
		if (err instanceof ParamError || err instanceof ConfigError) {
			console.error(`backfill: ${err.message}`);
			return 2;
		}
		throw err;
	}
	const api = `${(args.api ?? `http://localhost:${config.port}`).replace(/\/+$/, "")}/api`;
	const params = { source: "dukascopy", instrument: args.instrument, from: args.from, to: args.to };
	let job: JobStatus | null;
	if (args.fillGaps) {
		const r = await call("POST", `${api}/backfill/gaps`, params);
		console.log(`${r.instrument}: ${r.gaps.length} missing hour(s) in the range${r.gaps.length ? `, first ${r.gaps[0]}` : ""}`);
		job = r.job;
		if (!job) return 0;
	} else {
		job = (await call("POST", `${api}/backfill`, params)) as JobStatus;
	}
	console.log(`job ${job.id}: ${job.instrument} ${job.from} .. ${job.to}, ${job.progress.hoursTotal} hours`);
	const tty = process.stderr.isTTY === true;
	let lastLine = "";
	let lastPrint = 0;
	for (;;) {
		job = (await call("GET", `${api}/backfill/${job.id}`)) as JobStatus;
		const finished = job.state === "done" || job.state === "failed" || job.state === "cancelled";
		if (tty) process.stderr.write(`\r${progressBar(job, process.stderr.columns ?? 80)}\x1b[K`);
		else {
			const line = progressText(job);
			if (line !== lastLine && (finished || Date.now() - lastPrint >= 2000)) {
				process.stderr.write(`job ${job.id}: ${line}\n`);
				lastLine = line;
				lastPrint = Date.now();
			}
		}
		if (finished) break;
		await new Promise((r) => setTimeout(r, 500));
	}
	if (tty) process.stderr.write("\n");
	console.log(`job ${job.id} ${job.state}: ${progressText(job)}`);
	for (const e of job.errors.filter((x) => x.state === "failed").slice(0, 20)) console.log(`  ${e.hour}: ${e.error}`);
	return job.state === "done" ? 0 : 1;
}

main().then(
	(code) => process.exit(code),
	(err) => {
		console.error(`backfill: ${err?.message ?? err}`);
		process.exit(1);
	},
);
