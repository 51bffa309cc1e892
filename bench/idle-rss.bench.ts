/**
 * `npm start` idle memory (issue 12: below 300 MB RSS). Starts `npm start`'s program (bin/start.ts: every
 * service, embedded PostgreSQL, in-memory log, no Redis) as a child with its own data directory and ports, every
 * venue URL pointing at a closed local port (no internet), waits for /api/ready, then lets it idle IDLE_S
 * seconds while sampling VmRSS of its node processes every 250 ms. Ratio = the peak of the summed node RSS in
 * MB (the child, plus any node process it forks); the embedded PostgreSQL's processes are details
 * (their summed RSS counts the shared buffers once per process; their summed PSS counts them once). Each run
 * starts a fresh child on a fresh cluster; the median of the runs' peaks is reported. The child's process
 * group (node and PostgreSQL) is killed at the end, on error too.
 *   npm run bench:idle [-- --quick] [-- --idle 20] [-- --runs 3]
 */
import type { ChildProcess } from "node:child_process";
import { startService } from "../test/helpers/proc";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "../test/helpers/net";
import { argValue, median, QUICK, report, RUNS } from "./common";

const IDLE_S = Number(argValue("--idle", "")) || (QUICK ? 10 : 20);
const READY_DEADLINE_MS = (Number(argValue("--ready-timeout", "")) || 180) * 1000;
const SAMPLE_MS = 250;
const GOAL_MB = 300;

interface Proc {
	pid: number;
	ppid: number;
	comm: string;
	rssKb: number;
	/** Proportional set size: shared pages (PostgreSQL's shared buffers) divided among the processes sharing them. */
	pssKb: number;
}

function readProc(pid: number): Proc | null {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
		// comm is in parentheses and may contain spaces: the fields after the last ')' are fixed
		const close = stat.lastIndexOf(")");
		const comm = stat.slice(stat.indexOf("(") + 1, close);
		const ppid = Number(stat.slice(close + 2).split(" ")[1]);
		const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
		let pssKb = 0;
		try {
			const pss = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
			pssKb = pss ? Number(pss[1]) : 0;
		} catch {}
		return { pid, ppid, comm, rssKb: m ? Number(m[1]) : 0, pssKb };
	} catch {
		return null; // exited meanwhile
	}
}

/** The process and all its descendants, from /proc. */
function processTree(root: number): Proc[] {
	const all: Proc[] = [];
	for (const e of readdirSync("/proc")) {
		if (!/^\d+$/.test(e)) continue;
		const p = readProc(Number(e));
		if (p) all.push(p);
	}
	const children = new Map<number, Proc[]>();
	for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
	const out: Proc[] = [];
	const rootProc = all.find((p) => p.pid === root);
	if (!rootProc) return out;
	const stack = [rootProc];
	while (stack.length) {
		const p = stack.pop()!;
		out.push(p);
		stack.push(...(children.get(p.pid) ?? []));
	}
	return out;
}

const isNode = (p: Proc) => p.comm === "node" || p.comm.startsWith("node ") || p.comm === "MainThread";

async function waitReady(url: string, child: ChildProcess, output: () => string): Promise<void> {
	const deadline = Date.now() + READY_DEADLINE_MS;
	let last = "";
	while (Date.now() < deadline) {
		if (child.exitCode !== null || child.signalCode !== null) throw new Error(`npm start exited (${child.exitCode ?? child.signalCode}) before ready:\n${output().slice(-3000)}`);
		try {
			const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
			last = `${res.status} ${await res.text()}`;
			if (res.status === 200) return;
		} catch (err) {
			last = (err as Error).message;
		}
		// polling an HTTP endpoint, not synchronising on time: the loop ends on the answer or the deadline
		await new Promise((r) => setTimeout(r, 500));
	}
	throw new Error(`npm start not ready within ${READY_DEADLINE_MS / 1000} s (last answer: ${last}):\n${output().slice(-3000)}`);
}

/** SIGTERM the child's process group, then SIGKILL whatever of it is left (and any PostgreSQL process seen). */
async function killGroup(child: ChildProcess, seen: Set<number>): Promise<void> {
	const pid = child.pid;
	if (!pid) return;
	const alive = () => child.exitCode === null && child.signalCode === null;
	if (alive()) {
		try {
			process.kill(-pid, "SIGTERM");
		} catch {}
		const exited = new Promise<void>((r) => child.once("exit", () => r()));
		await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000).unref())]);
	}
	try {
		process.kill(-pid, "SIGKILL");
	} catch {}
	for (const p of seen) {
		try {
			process.kill(p, "SIGKILL");
		} catch {}
	}
}

async function oneRun(run: number): Promise<{ nodePeakMb: number; nodeHwmMb: number; pgPeakMb: number; pgPssPeakMb: number; nodeProcs: number; pgProcs: number; readyMs: number }> {
	const dir = mkdtempSync(path.join(tmpdir(), "mdp-idle-rss-"));
	chmodSync(dir, 0o755); // the embedded server runs as the postgres user when we are root
	const [port, pgPort, deadPort, metricsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
	const dead = `127.0.0.1:${deadPort}`;
	const env: Record<string, string> = {
		...(process.env as Record<string, string>),
		DATA_DIR: path.join(dir, "data"),
		PORT: String(port),
		EMBEDDED_PG_PORT: String(pgPort),
		METRICS_PORT: String(metricsPort),
		HEALTH_PORT: "0",
		LOG_LEVEL: "warn",
		// what `npm start` on a fresh machine has: no DATABASE_URL, no transporter, no Redis, the in-memory log, all services
		DATABASE_URL: "",
		TRANSPORTER: "",
		REDIS_URL: "",
		MARKET_LOG: "",
		SERVICES: "",
		OANDA_API_KEY: "",
		// every venue at a closed local port: no internet, and nothing arrives to store
		KRAKEN_WS_URL: `ws://${dead}`,
		KRAKEN_REST_URL: `http://${dead}`,
		BINANCE_REST_URL: `http://${dead}`,
		BINANCE_USDM_REST_URL: `http://${dead}`,
		BINANCE_COINM_REST_URL: `http://${dead}`,
		DUKASCOPY_URL: `http://${dead}`,
		DUKASCOPY_JSON_URL: `http://${dead}`,
		DUKASCOPY_META_URL: `http://${dead}/meta.json`,
		OANDA_STREAM_URL: `http://${dead}`,
		OANDA_REST_URL: `http://${dead}`,
	};
	// node --import tsx bin/start.ts (what `npm start` runs), in its own process group so the group can be killed whole
	const started = startService(env, { detached: true });
	const child = started.proc;
	const seen = new Set<number>();
	const onSignal = () =>
		void killGroup(child, seen).finally(() => {
			rmSync(dir, { recursive: true, force: true });
			process.exit(130);
		});
	process.once("SIGINT", onSignal);
	process.once("SIGTERM", onSignal);
	try {
		const t0 = performance.now();
		await waitReady(`http://127.0.0.1:${port}/api/ready`, child, started.output);
		const readyMs = performance.now() - t0;
		console.error(`run ${run + 1}: ready after ${(readyMs / 1000).toFixed(1)} s; idling ${IDLE_S} s`);
		let nodePeakKb = 0;
		let pgPeakKb = 0;
		let pgPssPeakKb = 0;
		let nodeProcs = 0;
		let pgProcs = 0;
		const end = Date.now() + IDLE_S * 1000;
		while (Date.now() < end) {
			const tree = processTree(child.pid!);
			for (const p of tree) if (p.pid !== child.pid) seen.add(p.pid);
			const nodes = tree.filter(isNode);
			const pgs = tree.filter((p) => !isNode(p));
			nodePeakKb = Math.max(nodePeakKb, nodes.reduce((s, p) => s + p.rssKb, 0));
			pgPeakKb = Math.max(pgPeakKb, pgs.reduce((s, p) => s + p.rssKb, 0));
			pgPssPeakKb = Math.max(pgPssPeakKb, pgs.reduce((s, p) => s + p.pssKb, 0));
			nodeProcs = Math.max(nodeProcs, nodes.length);
			pgProcs = Math.max(pgProcs, pgs.length);
			await new Promise((r) => setTimeout(r, SAMPLE_MS));
		}
		if (child.exitCode !== null || child.signalCode !== null) throw new Error(`npm start exited while idle:\n${started.output().slice(-3000)}`);
		const hwm = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
		return { nodePeakMb: nodePeakKb / 1024, nodeHwmMb: hwm ? Number(hwm[1]) / 1024 : NaN, pgPeakMb: pgPeakKb / 1024, pgPssPeakMb: pgPssPeakKb / 1024, nodeProcs, pgProcs, readyMs };
	} finally {
		await killGroup(child, seen);
		process.off("SIGINT", onSignal);
		process.off("SIGTERM", onSignal);
		rmSync(dir, { recursive: true, force: true });
	}
}

async function main() {
	const runs = [];
	for (let run = 0; run < RUNS; run++) {
		const r = await oneRun(run);
		console.error(
			`run ${run + 1}: node RSS peak ${r.nodePeakMb.toFixed(1)} MB over ${r.nodeProcs} process(es) (start-up high-water mark ${r.nodeHwmMb.toFixed(1)} MB); embedded PostgreSQL summed RSS ${r.pgPeakMb.toFixed(1)} MB (PSS ${r.pgPssPeakMb.toFixed(1)} MB) over ${r.pgProcs} processes`,
		);
		runs.push(r);
	}
	const peak = median(runs.map((r) => r.nodePeakMb));
	report({
		bench: "idle-rss-mb",
		ratio: peak,
		goal: GOAL_MB,
		better: "lower",
		figure: `node RSS peak ${peak.toFixed(1)} MB idle ${IDLE_S} s`,
		baseline: `goal ${GOAL_MB} MB`,
		idle_s: IDLE_S,
		node_peak_mb_runs: runs.map((r) => Number(r.nodePeakMb.toFixed(1))),
		node_hwm_mb_runs: runs.map((r) => Number(r.nodeHwmMb.toFixed(1))),
		node_processes: Math.max(...runs.map((r) => r.nodeProcs)),
		pg_rss_mb: Number(median(runs.map((r) => r.pgPeakMb)).toFixed(1)),
		pg_pss_mb: Number(median(runs.map((r) => r.pgPssPeakMb)).toFixed(1)),
		pg_processes: Math.max(...runs.map((r) => r.pgProcs)),
		ready_s: Number((median(runs.map((r) => r.readyMs)) / 1000).toFixed(1)),
		runs: RUNS,
	});
}

main().catch((err) => {
	console.error(err);
	process.exit(1);
});
