/**
 * tick-writer memory while draining a backlog: N trades (full 5,000,000, quick 1,000,000) are published
 * to a JetStream stream of this bench's own, then the tick-writer is started as its own process
 * (`bin/start.ts`, SERVICES=tick-writer, its own database and stream) and its VmRSS is sampled from
 * /proc/PID/status every ~100 ms until all N rows are stored. The ratio is the peak RSS in MB (goal:
 * below 256), the median over RUNS drains of the same backlog (table truncated and subscription
 * deleted in between); the baseline is the RSS of the same process started idle on the empty stream.
 *   npm run bench -- --only writer-rss [--quick] [--runs N]
 *   node --import tsx bench/writer-rss.bench.ts [--quick] [--trades 5000000] [--runs 1]
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Pool } from "pg";
import { encodeEnvelope, tradeEnvelope } from "../lib/domain/codec";
import { TICK_TOPIC_PATTERNS } from "../lib/domain/topics";
import { JetStreamLog } from "../lib/log/jetstream";
import { deleteStream } from "../test/helpers/nats";
import { makeTrades } from "../test/helpers/trades";
import { benchDatabase, fmt, median, report, RUNS, seconds, sizeArg } from "./common";

const N = sizeArg("--trades", 5_000_000, 1_000_000);
const PER_MESSAGE = 100;
const GOAL_MB = 256;
const SAMPLE_MS = 100;
const TOPIC = "market-data/crypto/raw/kraken/btcusd/trades";
/** The subscription bin/start's tick-writer opens (lib/writer/tick-writer's default). */
const SUBSCRIPTION = "tick-writer";
const ROOT = path.join(__dirname, "..");

function rssMb(pid: number): number | null {
	try {
		const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
		return m ? Number(m[1]) / 1024 : null;
	} catch {
		return null; // the process is gone
	}
}

interface Child {
	proc: ChildProcess;
	up: Promise<void>;
	exited: Promise<number | null>;
}

/** bin/start.ts with only the tick-writer, on this bench's database and stream. */
function startWriter(dbUrl: string, stream: string, prefix: string, dataDir: string): Child {
	const proc = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "bin/start.ts")], {
		cwd: ROOT,
		stdio: ["ignore", "pipe", "pipe"],
		env: {
			...process.env,
			SERVICES: "tick-writer",
			DATABASE_URL: dbUrl,
			MARKET_LOG: "jetstream",
			MARKET_LOG_STREAM: stream,
			MARKET_LOG_SUBJECT_PREFIX: prefix,
			DATA_DIR: dataDir,
			METRICS_PORT: "0",
			HEALTH_PORT: "0",
			TRANSPORTER: "",
		},
	});
	let tail = "";
	let markUp: () => void = () => undefined;
	const up = new Promise<void>((resolve) => (markUp = resolve));
	const watch = (chunk: Buffer) => {
		tail = (tail + chunk.toString("utf8")).slice(-4000);
		if (tail.includes("pipeline up")) markUp();
	};
	proc.stdout!.on("data", watch);
	proc.stderr!.on("data", (c: Buffer) => {
		watch(c);
		if (/error|fatal/i.test(c.toString("utf8"))) process.stderr.write(`[tick-writer] ${c}`);
	});
	const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
	return {
		proc,
		up: Promise.race([up, exited.then((code) => Promise.reject(new Error(`the tick-writer exited with ${code} before it was up: ${tail}`)))]),
		exited,
	};
}

async function stop(c: Child): Promise<void> {
	if (c.proc.exitCode === null) c.proc.kill("SIGTERM");
	const t = setTimeout(() => c.proc.kill("SIGKILL"), 20_000);
	await c.exited;
	clearTimeout(t);
}

/** Samples the process's RSS every SAMPLE_MS until stopped; `peak` and `samples` so far. */
function sampler(pid: number) {
	const s = { peak: 0, last: 0, samples: 0, stop: () => clearInterval(iv) };
	const take = () => {
		const mb = rssMb(pid);
		if (mb === null) return;
		s.last = mb;
		s.samples++;
		if (mb > s.peak) s.peak = mb;
	};
	take();
	const iv = setInterval(take, SAMPLE_MS);
	return s;
}

async function storedRows(pool: Pool): Promise<number> {
	return Number((await pool.query("SELECT count(*) AS n FROM trades")).rows[0].n);
}

/** Rows inserted into trades so far by the statistics (cheap, may lag by a second); exact counts only once it says N. */
async function insertedByStats(pool: Pool): Promise<number> {
	const r = await pool.query("SELECT coalesce(n_tup_ins, 0) AS n FROM pg_stat_user_tables WHERE relname = 'trades'");
	return Number(r.rows[0]?.n ?? 0);
}

async function waitStored(pool: Pool, child: Child, deadlineMs: number): Promise<void> {
	const base = await insertedByStats(pool);
	const end = Date.now() + deadlineMs;
	let lastExact = 0;
	for (;;) {
		if (child.proc.exitCode !== null) throw new Error(`the tick-writer exited with ${child.proc.exitCode} while draining`);
		const byStats = (await insertedByStats(pool)) - base;
		if (byStats >= N || Date.now() - lastExact > 10_000) {
			lastExact = Date.now();
			const n = await storedRows(pool);
			if (n >= N) return;
		}
		if (Date.now() > end) throw new Error(`not all ${N} rows stored within ${seconds(deadlineMs)}: ${await storedRows(pool)}`);
		await new Promise((r) => setTimeout(r, 250));
	}
}

async function main() {
	const db = await benchDatabase("writer_rss");
	const stream = `MDP_BENCH_RSS_${process.pid}`;
	const prefix = stream.toLowerCase() + ".";
	const log = await JetStreamLog.connect({ stream, subjectPrefix: prefix });
	const dataDir = mkdtempSync(path.join(os.tmpdir(), "mdp-writer-rss-"));
	let child: Child | null = null;
	try {
		// Idle: the process up on the empty stream (its durable consumer created), before any backlog.
		child = startWriter(db.url, stream, prefix, dataDir);
		await child.up;
		const idle = sampler(child.proc.pid!);
		await new Promise((r) => setTimeout(r, 1_000)); // a second of samples of the idle process
		idle.stop();
		const idleMb = idle.last;
		await stop(child);
		child = null;
		console.error(`idle tick-writer process: ${idleMb.toFixed(0)} MB RSS`);

		// The backlog, published in slices so this process never holds all N trades as objects.
		const tp = performance.now();
		const SLICE = 100_000;
		for (let done = 0; done < N; done += SLICE) {
			const n = Math.min(SLICE, N - done);
			const items = makeTrades(n, Date.parse("2024-01-01T00:00:00Z") + done * 500, n * 500, 11 + done, 1 + done);
			const payloads: Uint8Array[] = [];
			for (let i = 0; i < items.length; i += PER_MESSAGE) payloads.push(encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", items.slice(i, i + PER_MESSAGE))));
			await log.publish(TOPIC, "BTC-USD-SPOT", payloads);
		}
		console.error(`published ${fmt(N / PER_MESSAGE)} messages (${fmt(N)} trades) in ${seconds(performance.now() - tp)}`);

		const peaks: number[] = [];
		const rates: number[] = [];
		for (let run = 0; run < RUNS; run++) {
			if (run > 0) {
				await db.pool.query("TRUNCATE trades, dirty_buckets");
				await log.deleteSubscription(SUBSCRIPTION, TICK_TOPIC_PATTERNS);
			}
			const t0 = performance.now();
			child = startWriter(db.url, stream, prefix, dataDir);
			const s = sampler(child.proc.pid!);
			try {
				await child.up;
				await waitStored(db.pool, child, Math.max(120_000, (N / 10_000) * 1000));
			} finally {
				s.stop();
			}
			const ms = performance.now() - t0;
			await stop(child);
			child = null;
			peaks.push(s.peak);
			rates.push(N / (ms / 1000));
			console.error(`run ${run + 1}/${RUNS}: drained ${fmt(N)} trades in ${seconds(ms)} (${fmt(N / (ms / 1000))} rows/s incl. start), peak RSS ${s.peak.toFixed(0)} MB over ${s.samples} samples`);
		}

		const peak = median(peaks);
		report({
			bench: "writer-rss-mb",
			ratio: peak,
			goal: GOAL_MB,
			better: "lower",
			figure: `peak ${peak.toFixed(0)} MB RSS draining ${fmt(N)} trades`,
			baseline: `idle ${idleMb.toFixed(0)} MB RSS`,
			trades: N,
			runs: RUNS,
			peaks_mb: peaks.map((p) => Number(p.toFixed(1))),
			idle_mb: Number(idleMb.toFixed(1)),
			drain_rows_per_s: rates.map(Math.round),
			sample_ms: SAMPLE_MS,
		});
	} finally {
		if (child) await stop(child);
		await log.deleteSubscription(SUBSCRIPTION, TICK_TOPIC_PATTERNS).catch(() => undefined);
		await log.close();
		await deleteStream(stream);
		await db.drop();
		rmSync(dataDir, { recursive: true, force: true });
	}
}

main().catch((err) => {
	console.error(err);
	process.exit(1);
});
