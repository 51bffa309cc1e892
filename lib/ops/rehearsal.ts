import { freePort } from "../net/free-port";
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { ServiceBroker } from "moleculer";
import type { Pool } from "pg";
import { ALL_SERVICES } from "../config";
import { byKind, containerEnv, renderOverlay, type K8sObject } from "./manifests";

/**
 * A cluster rehearsal without a cluster (`npm run k8s:rehearse`): the dev overlay's Deployments run as local
 * processes with the environment the manifests give them (in-cluster hosts mapped to 127.0.0.1, one process
 * per replica with its own NODE_ID), over the real NATS, Redis and PostgreSQL. Trades go in through the api;
 * the leading cascade-refresher and one tick-writer are killed with SIGKILL; candles must keep coming, one
 * refresher must lead at any time, and every trade must be stored exactly once.
 */
export interface RehearsalOptions {
	/** The database the processes use (the manifests' user and database name are the cluster's). */
	databaseUrl: string;
	pool: Pool;
	/** Isolates this run on shared NATS / Redis: Moleculer namespace, JetStream stream and subjects, lease key. */
	runId: string;
	tradesPerRound?: number;
	log?: (line: string) => void;
}

export interface RehearsalResult {
	ok: boolean;
	summary: string;
	processes: string[];
	sent: number;
	stored: number;
	distinct: number;
	candleTrades: number;
	maxLeadersSeen: number;
	leaderBefore: string;
	leaderAfter: string;
	killed: string[];
}

interface Proc {
	name: string;
	child: ChildProcess;
	out: string;
	exited: Promise<void>;
	env: Record<string, string>;
}

const ROOT = path.resolve(__dirname, "../..");
const DEADLINE_MS = 90_000;

const freshPorts = async () => ({ METRICS_PORT: String(await freePort()), HEALTH_PORT: String(await freePort()), PORT: String(await freePort()) });

async function until<T>(what: string, fn: () => Promise<T | null | false> | T | null | false, timeoutMs = DEADLINE_MS): Promise<T> {
	const end = Date.now() + timeoutMs;
	for (;;) {
		const v = await fn();
		if (v) return v;
		if (Date.now() > end) throw new Error(`rehearsal: timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 200));
	}
}

/** In-cluster Service hosts (nats, redis, …) in a URL become 127.0.0.1. */
function mapHosts(value: string, hosts: Set<string>): string {
	return value.replace(/(\/\/(?:[^@/]*@)?)([a-z0-9-]+)(?=[:/]|$)/g, (m, pre: string, host: string) => (hosts.has(host) ? `${pre}127.0.0.1` : m));
}

function startProcess(name: string, script: string, args: string[], env: Record<string, string>): Proc {
	// node --import tsx bin/start.ts is what the image runs as `node bin/start.js`.
	const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env }, stdio: ["ignore", "pipe", "pipe"] });
	const p: Proc = { name, child, out: "", env, exited: new Promise((r) => child.once("exit", () => r())) };
	const take = (b: Buffer) => {
		p.out += b.toString();
		if (p.out.length > 100_000) p.out = p.out.slice(-50_000);
	};
	child.stdout!.on("data", take);
	child.stderr!.on("data", take);
	return p;
}

export async function rehearse(opts: RehearsalOptions): Promise<RehearsalResult> {
	const say = opts.log ?? (() => undefined);
	const objects = renderOverlay("dev");
	const hosts = new Set(byKind(objects, "Service").map((s) => s.metadata.name));
	const deployments = byKind(objects, "Deployment").filter((d) => d.metadata.labels?.["app.kubernetes.io/part-of"] === "market-data-pipeline");
	const namespace = `rehearse-${opts.runId}`;
	const stream = `MDP_REHEARSE_${opts.runId}`.toUpperCase().replace(/[^A-Z0-9_]/g, "_");
	const procs: Proc[] = [];
	const broker = new ServiceBroker({ namespace, nodeID: `rehearsal-${process.pid}`, transporter: { type: "NATS", options: { url: "nats://127.0.0.1:4222" } }, logger: false });

	const envFor = (d: K8sObject, container: any, replica: number): Record<string, string> => {
		const pod = `${d.metadata.name}-${replica}`;
		const env = containerEnv(objects, container, pod);
		for (const [k, v] of Object.entries(env)) env[k] = mapHosts(v, hosts);
		return {
			...env,
			DATABASE_URL: opts.databaseUrl,
			NAMESPACE: namespace,
			MARKET_LOG_STREAM: stream,
			MARKET_LOG_SUBJECT_PREFIX: `${stream.toLowerCase()}.`,
			// a venue's host is the internet: nothing answers locally, the feed backs off
			KRAKEN_WS_URL: "ws://127.0.0.1:9",
			KRAKEN_REST_URL: "http://127.0.0.1:9",
		};
	};

	let sent = 0;
	const killed: string[] = [];
	let maxLeadersSeen = 0;
	let sampling = true;
	try {
		// The init container's job, once.
		const first = deployments[0];
		const migrateEnv = envFor(first, first.spec.template.spec.initContainers[0], 0);
		Object.assign(migrateEnv, { METRICS_PORT: "0", HEALTH_PORT: "0", PORT: "0" });
		const mig = startProcess("migrate", "bin/migrate.ts", [], migrateEnv);
		await mig.exited;
		if (mig.child.exitCode !== 0) throw new Error(`rehearsal: migrate failed:\n${mig.out}`);

		for (const d of deployments) {
			const c = d.spec.template.spec.containers[0];
			const services = String(c.env.find((e: { name: string }) => e.name === "SERVICES").value).split(",");
			const unknown = services.filter((s) => !(ALL_SERVICES as readonly string[]).includes(s));
			if (unknown.length) throw new Error(`rehearsal: Deployment ${d.metadata.name} runs SERVICES ${unknown.join(", ")}, which this code does not have`);
			for (let i = 0; i < (d.spec.replicas ?? 1); i++) {
				procs.push(startProcess(`${d.metadata.name}-${i}`, "bin/start.ts", [], { ...envFor(d, c, i), ...(await freshPorts()) }));
			}
		}
		say(`started ${procs.map((p) => p.name).join(", ")}`);
		// Ready as Kubernetes would see it: every readiness probe answers 200. A pod has its own network; here
		// all share one host, where another process may take a port between its probe and the service's listen:
		// such a process is started again on fresh ports (a few times), anything else that exits is a failure.
		for (let i = 0; i < procs.length; i++) {
			let restarts = 0;
			const url = () => (procs[i].env.SERVICES === "api" ? `http://127.0.0.1:${procs[i].env.PORT}/api/ready` : `http://127.0.0.1:${procs[i].env.HEALTH_PORT}/readyz`);
			await until(`${procs[i].name} ready (${url()})\n${procs[i].out.slice(-2000)}`, async () => {
				const p = procs[i];
				if (p.child.exitCode !== null) {
					if (/EADDRINUSE/.test(p.out) && restarts++ < 3) {
						say(`${p.name}: a port was taken before it listened; starting it again on fresh ports`);
						procs[i] = startProcess(p.name, "bin/start.ts", [], { ...p.env, ...(await freshPorts()) });
						return null;
					}
					throw new Error(`rehearsal: ${p.name} exited ${p.child.exitCode}:\n${p.out.slice(-3000)}`);
				}
				return (await fetch(url()).then((r) => r.ok, () => false)) || null;
			});
		}
		await broker.start();
		const refreshers = procs.filter((p) => p.env.SERVICES === "cascade-refresher");
		const leaders = async () => {
			const out: string[] = [];
			for (const p of refreshers) {
				if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
				const s = await broker.call<{ leader: boolean }, object>("cascade-refresher.status", {}, { nodeID: p.name }).catch(() => null);
				if (s?.leader) out.push(p.name);
			}
			return out;
		};
		const sampler = (async () => {
			while (sampling) {
				maxLeadersSeen = Math.max(maxLeadersSeen, (await leaders()).length);
				await new Promise((r) => setTimeout(r, 250));
			}
		})();

		const apis = procs.filter((p) => p.env.SERVICES === "api");
		const perRound = opts.tradesPerRound ?? 300;
		const round = async (n: number) => {
			const start = Date.UTC(2026, 0, 5, 10, 0) + n * 10 * 60_000;
			const lines: string[] = [];
			for (let i = 0; i < perRound; i++) {
				const id = n * perRound + i + 1;
				const t = new Date(start + Math.floor((i * 10 * 60_000) / perRound)).toISOString();
				lines.push(JSON.stringify({ venue: "kraken", symbol: "BTC-USD-SPOT", tradeId: String(id), side: i % 2 ? "buy" : "sell", price: `${40000 + (i % 97)}.${String(i % 100).padStart(2, "0")}`, qty: `0.${String(i + 1).padStart(8, "0")}`, time: t }));
			}
			// half through each api replica
			const half = Math.ceil(lines.length / 2);
			for (const [k, part] of [lines.slice(0, half), lines.slice(half)].entries()) {
				const api = apis[k % apis.length];
				// the manifests give the api API_TOKEN from the Secret: writes need it
				const auth: Record<string, string> = api.env.API_TOKEN ? { authorization: `Bearer ${api.env.API_TOKEN}` } : {};
				const r = await fetch(`http://127.0.0.1:${api.env.PORT}/api/ingest`, { method: "POST", headers: { "content-type": "application/json", ...auth }, body: JSON.stringify({ lines: part.join("\n") }) });
				if (!r.ok) throw new Error(`rehearsal: ingest via ${api.name}: ${r.status} ${await r.text()}`);
			}
			sent += lines.length;
			return { from: new Date(start), to: new Date(start + 10 * 60_000) };
		};
		const candleTradesIn = async (r: { from: Date; to: Date }) =>
			Number((await opts.pool.query("SELECT coalesce(sum(trades), 0)::int AS n FROM candles_1m WHERE venue = 'kraken' AND symbol = 'BTC-USD-SPOT' AND price_type = 'trade' AND bucket >= $1 AND bucket < $2", [r.from, r.to])).rows[0].n);

		const r0 = await round(0);
		await until("candles of round 0", async () => (await candleTradesIn(r0)) === perRound);
		const leaderBefore = await until("one cascade leader", async () => {
			const l = await leaders();
			return l.length === 1 ? l[0] : null;
		});
		const writer = procs.find((p) => p.env.SERVICES === "tick-writer")!;
		const leader = refreshers.find((p) => p.name === leaderBefore)!;
		const r1 = round(1);
		leader.child.kill("SIGKILL");
		writer.child.kill("SIGKILL");
		killed.push(leader.name, writer.name);
		say(`SIGKILL ${killed.join(", ")}`);
		await Promise.all([leader.exited, writer.exited]);
		const range1 = await r1;
		const r2 = await round(2);
		await until("candles of rounds 1 and 2 after the kills", async () => (await candleTradesIn(range1)) === perRound && (await candleTradesIn(r2)) === perRound);
		const leaderAfter = await until("a new cascade leader", async () => {
			const l = await leaders();
			return l.length === 1 ? l[0] : null;
		});
		sampling = false;
		await sampler;
		const { n: stored, d: distinct } = (await opts.pool.query("SELECT count(*)::int AS n, count(DISTINCT trade_id)::int AS d FROM trades WHERE venue = 'kraken' AND symbol = 'BTC-USD-SPOT'")).rows[0];
		const candleTrades = Number((await opts.pool.query("SELECT coalesce(sum(trades), 0)::int AS n FROM candles_1m WHERE venue = 'kraken' AND symbol = 'BTC-USD-SPOT' AND price_type = 'trade'")).rows[0].n);
		const ok = stored === sent && distinct === sent && candleTrades === sent && maxLeadersSeen === 1 && leaderAfter !== leaderBefore;
		const summary =
			`k8s rehearsal ${ok ? "OK" : "FAILED"}: ${procs.length} processes from ${deployments.length} Deployments` +
			`; SIGKILL ${killed.join(" and ")}; trades sent ${sent}, stored ${stored} (${sent - distinct} lost, ${stored - distinct} doubled), in 1m candles ${candleTrades}; ` +
			`leaders at once at most ${maxLeadersSeen}, ${leaderBefore} -> ${leaderAfter}`;
		return { ok, summary, processes: procs.map((p) => p.name), sent, stored, distinct, candleTrades, maxLeadersSeen, leaderBefore, leaderAfter, killed };
	} finally {
		sampling = false;
		await broker.stop().catch(() => undefined);
		for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGTERM");
		let grace: NodeJS.Timeout | undefined;
		await Promise.race([Promise.all(procs.map((p) => p.exited)), new Promise((r) => (grace = setTimeout(r, 15_000)))]);
		clearTimeout(grace);
		for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
		await deleteStream(stream).catch(() => undefined);
	}
}

/** The run's JetStream stream goes with it. */
async function deleteStream(stream: string): Promise<void> {
	const { connect } = await import("nats");
	const nc = await connect({ servers: "nats://127.0.0.1:4222" });
	try {
		await (await nc.jetstreamManager()).streams.delete(stream);
	} finally {
		await nc.close();
	}
}
