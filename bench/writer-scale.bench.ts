/**
 * Scale curve of the tick-writer (issue 12, item 3): N trades in the JetStream log, drained into one PostgreSQL
 * by 1, 2 and 4 writer replicas (child processes running the real lib/writer code, sharing one durable
 * subscription, as replicas of services/tick-writer.service.ts do), rows/s for each. The PostgreSQL limit is
 * measured in the same run: raw keyed COPY of the same rows into the same empty table with 1, 2 and 4
 * parallel connections. Every measurement starts from an empty (truncated, checkpointed) trades table.
 *   ratio = writer rows/s with 4 replicas / best raw COPY rows/s (any connection count); goal >= 0.8
 *   npm run bench:scale [-- --quick] [-- --trades 2000000] [-- --runs 3]
 * Progress and the curve go to stderr; the one result line to stdout.
 */
import { fork, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { decodeWire, encodeEnvelope, tradeEnvelope } from "../lib/domain/codec";
import { marketTopic, TICK_TOPIC_PATTERNS } from "../lib/domain/topics";
import { Client } from "pg";
import { JetStreamLog } from "../lib/log/jetstream";
import { copyInto, TRADE_COLUMNS } from "../lib/writer/copy";
import { makeTrades } from "../test/helpers/trades";
import { deleteStream } from "../test/helpers/nats";
import { benchDatabase, fmt, median, report, RUNS, seconds, sizeArg } from "./common";
import type { ChildCommand, ChildEvent } from "./writer-scale.child";

const N = sizeArg("--trades", 2_000_000, 160_000);
const REPLICAS = [1, 2, 4] as const;
const CONNECTIONS = [1, 2, 4] as const;
const SYMBOLS = 8;
const PER_MESSAGE = 100;
/** Trade rate per symbol: a busy market, about what bench/tick-writer.bench.ts has (1M trades in 30 days). */
const TRADES_PER_MINUTE = 25;
/** Rows per raw COPY statement: about what the writer commits per batch (lib/writer maxBatchRows). */
const COPY_CHUNK_ROWS = 20_000;
/** A drain that has not stored every row by then has failed (the writer is far slower than that). */
const DRAIN_DEADLINE_MS = Math.max(120_000, N / 5);

const log = (...a: unknown[]) => console.error(...a);

interface Replica {
	proc: ChildProcess;
	inserted: number;
	waiters: { ev: ChildEvent["ev"]; resolve: (e: ChildEvent) => void }[];
}

function spawnReplica(args: string[], onFail: (err: Error) => void): Replica {
	const proc = fork(path.join(__dirname, "writer-scale.child.ts"), args, { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
	const r: Replica = { proc, inserted: 0, waiters: [] };
	proc.on("message", (e: ChildEvent) => {
		if (e.ev === "committed") r.inserted += e.inserted;
		else if (e.ev === "error") onFail(new Error(`writer replica ${proc.pid}: ${e.message}`));
		const i = r.waiters.findIndex((w) => w.ev === e.ev);
		if (i >= 0) r.waiters.splice(i, 1)[0].resolve(e);
	});
	proc.on("exit", (code, signal) => {
		if (code !== 0 && code !== null) onFail(new Error(`writer replica ${proc.pid} exited with ${signal ?? code}`));
	});
	return r;
}

function awaitEvent(r: Replica, ev: ChildEvent["ev"], timeoutMs = 60_000): Promise<ChildEvent> {
	return new Promise((resolve, reject) => {
		const t = setTimeout(() => reject(new Error(`writer replica ${r.proc.pid}: no "${ev}" within ${timeoutMs} ms`)), timeoutMs);
		r.waiters.push({ ev, resolve: (e) => (clearTimeout(t), resolve(e)) });
	});
}

/** Busy and total CPU time of the whole machine so far (Linux /proc/stat, in clock ticks); null elsewhere. */
function machineCpu(): { busy: number; total: number } | null {
	try {
		const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
		const idle = f[3] + (f[4] ?? 0); // idle + iowait
		const total = f.reduce((a, b) => a + b, 0);
		return { busy: total - idle, total };
	} catch {
		return null;
	}
}

/** Share of the machine's CPU that was busy between two readings (0..1), NaN when unknown. */
function busyShare(a: ReturnType<typeof machineCpu>, b: ReturnType<typeof machineCpu>): number {
	return a && b && b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : NaN;
}

/**
 * What the bench database's busy backends are doing, sampled every 100 ms on a connection of its own while a
 * measurement runs: "CPU" (no wait event) or the wait event ("Lock:extend", "LWLock:WALWrite", ...).
 */
function sampleWaits(url: string): { stop(): Promise<Map<string, number>> } {
	const counts = new Map<string, number>();
	const client = new Client({ connectionString: url });
	let running = true;
	const loop = (async () => {
		await client.connect();
		while (running) {
			const r = await client.query<{ w: string }>(
				`SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS w FROM pg_stat_activity
				 WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
			);
			for (const { w } of r.rows) counts.set(w, (counts.get(w) ?? 0) + 1);
			await new Promise((res) => setTimeout(res, 100));
		}
		await client.end();
	})();
	return {
		async stop() {
			running = false;
			await loop;
			return counts;
		},
	};
}

/** "CPU 55%, Lock:extend 30%, LWLock:WALWrite 8%": the top wait states of the samples. */
function topWaits(counts: Map<string, number>, n = 3): string {
	const total = [...counts.values()].reduce((a, b) => a + b, 0);
	if (!total) return "no samples";
	return [...counts]
		.sort((a, b) => b[1] - a[1])
		.slice(0, n)
		.map(([w, c]) => `${w} ${Math.round((100 * c) / total)}%`)
		.join(", ");
}

/** What a PostgreSQL wait event means for this bench, for the `limit` sentence. */
const WAIT_MEANING: Record<string, string> = {
	"Lock:extend": "the relation extension lock: concurrent COPYs extend the one trades table and its index a page at a time",
	"LWLock:WALWrite": "WAL writes: every transaction's rows and commit go through the one WAL",
	"IO:WALSync": "WAL flushes at commit",
	"LWLock:BufferContent": "index pages shared by concurrent inserts",
	"Lock:transactionid": "row locks: concurrent writers marking the same dirty minutes",
};

/** The most frequent wait of the samples other than running on CPU, with its share; null when there are none. */
function topBlockingWait(counts: Map<string, number>): { wait: string; share: number } | null {
	const total = [...counts.values()].reduce((a, b) => a + b, 0);
	const top = [...counts].filter(([w]) => w !== "CPU").sort((a, b) => b[1] - a[1])[0];
	return total && top ? { wait: top[0], share: top[1] / total } : null;
}

function mergeCounts(into: Map<string, number>, from: Map<string, number>): void {
	for (const [k, v] of from) into.set(k, (into.get(k) ?? 0) + v);
}

function command(r: Replica, c: ChildCommand): void {
	r.proc.send(c);
}

async function main() {
	const db = await benchDatabase("scale");
	const stream = `MDP_BENCH_SCALE_${process.pid}`;
	const prefix = stream.toLowerCase() + ".";
	const market = await JetStreamLog.connect({ stream, subjectPrefix: prefix });
	let failure: Error | null = null;
	const replicas: Replica[] = [];
	try {
		// N trades spread over SYMBOLS symbols (one topic each), TRADES_PER_MINUTE per symbol and minute, 100 trades
		// per message. (Sparser data would make every trade a dirty minute of its own: the writer would mark as many
		// buckets as it writes rows, which no live feed does.)
		const t0 = performance.now();
		const perSymbol = Math.ceil(N / SYMBOLS);
		const spanMs = Math.ceil(perSymbol / TRADES_PER_MINUTE) * 60_000;
		const messages: { topic: string; key: string; payloads: Buffer[] }[] = [];
		const copyRows: string[] = [];
		for (let s = 0; s < SYMBOLS; s++) {
			const symbol = `SYM${s}-USD-SPOT`;
			const items = makeTrades(Math.min(perSymbol, N - s * perSymbol), Date.parse("2024-01-01T00:00:00Z"), spanMs, 11 + s);
			const payloads: Buffer[] = [];
			for (let i = 0; i < items.length; i += PER_MESSAGE) payloads.push(encodeEnvelope(tradeEnvelope("kraken", symbol, items.slice(i, i + PER_MESSAGE))));
			messages.push({ topic: marketTopic("crypto", "kraken", symbol, "trades"), key: symbol, payloads });
		}
		// The COPY baseline's rows in the order the log delivers them (symbols interleaved message by message).
		const longest = Math.max(...messages.map((m) => m.payloads.length));
		for (let i = 0; i < longest; i++) for (const m of messages) if (i < m.payloads.length) copyRows.push(decodeWire(m.payloads[i]).copy);
		for (const m of messages) for (let i = 0; i < m.payloads.length; i += 1000) await market.publish(m.topic, m.key, m.payloads.slice(i, i + 1000));
		const msgCount = messages.reduce((s, m) => s + m.payloads.length, 0);
		log(`writer-scale: ${fmt(N)} trades (${SYMBOLS} symbols, ${TRADES_PER_MINUTE}/min each, ${fmt(msgCount)} messages) in JetStream stream ${stream} in ${seconds(performance.now() - t0)}; ${os.cpus().length} cores`);

		const childArgs = ["--db", db.url, "--stream", stream, "--prefix", prefix];
		for (let i = 0; i < Math.max(...REPLICAS); i++) {
			replicas.push(
				spawnReplica(childArgs, (err) => {
					failure ??= err;
				}),
			);
		}
		await Promise.all(replicas.map((r) => awaitEvent(r, "ready")));

		const emptyTable = async () => {
			await db.pool.query("TRUNCATE trades, dirty_buckets");
			await db.pool.query("CHECKPOINT");
		};
		const countRows = async () => Number((await db.pool.query("SELECT count(*) AS n FROM trades")).rows[0].n);

		/** Raw keyed COPY of the same rows with `conns` parallel connections, chunks dealt round robin, one transaction each. */
		const rawCopy = async (conns: number): Promise<{ rps: number; busy: number; waits: Map<string, number> }> => {
			await emptyTable();
			const chunks: string[][] = Array.from({ length: conns }, () => []);
			const msgsPerChunk = Math.max(1, Math.round(COPY_CHUNK_ROWS / PER_MESSAGE));
			for (let i = 0, c = 0; i < copyRows.length; i += msgsPerChunk, c = (c + 1) % conns) chunks[c].push(copyRows.slice(i, i + msgsPerChunk).join(""));
			const clients = await Promise.all(chunks.map(() => db.pool.connect()));
			try {
				const sampler = sampleWaits(db.url);
				const cpu0 = machineCpu();
				const s = performance.now();
				await Promise.all(
					clients.map(async (cl, i) => {
						for (const chunk of chunks[i]) {
							await cl.query("BEGIN");
							await copyInto(cl, "trades", TRADE_COLUMNS, [chunk]);
							await cl.query("COMMIT");
						}
					}),
				);
				const ms = performance.now() - s;
				const busy = busyShare(cpu0, machineCpu());
				const waits = await sampler.stop();
				const n = await countRows();
				if (n !== N) throw new Error(`raw COPY with ${conns} connections stored ${n} rows, expected ${N}`);
				return { rps: N / (ms / 1000), busy, waits };
			} finally {
				for (const cl of clients) cl.release();
			}
		};

		let subscriptionSeq = 0;
		/** The real writer with `k` replicas on one fresh shared subscription, from the start of the log to the last row stored. */
		const writers = async (k: number): Promise<{ rps: number; busy: number; writerCores: number; waits: Map<string, number> }> => {
			await emptyTable();
			const subscription = `bench-scale-${k}-${++subscriptionSeq}`;
			const team = replicas.slice(0, k);
			for (const r of team) r.inserted = 0;
			const sampler = sampleWaits(db.url);
			const cpu0 = machineCpu();
			const s = performance.now();
			const started = team.map((r) => awaitEvent(r, "started"));
			for (const r of team) command(r, { cmd: "start", subscription });
			await Promise.all(started);
			// The replicas report each commit; wait until every row is stored (or fail at the deadline).
			await new Promise<void>((resolve, reject) => {
				const iv = setInterval(() => {
					const inserted = team.reduce((a, r) => a + r.inserted, 0);
					if (failure) reject(failure);
					else if (inserted >= N) resolve();
					else if (performance.now() - s > DRAIN_DEADLINE_MS) reject(new Error(`${k} writer replicas stored ${inserted} of ${N} rows within ${DRAIN_DEADLINE_MS} ms`));
					else return;
					clearInterval(iv);
				}, 5);
			});
			const ms = performance.now() - s;
			const busy = busyShare(cpu0, machineCpu());
			const waits = await sampler.stop();
			const stopped = team.map((r) => awaitEvent(r, "stopped"));
			for (const r of team) command(r, { cmd: "stop" });
			const stoppedEvents = (await Promise.all(stopped)).flatMap((e) => (e.ev === "stopped" ? [e] : []));
			const stats = stoppedEvents.map((e) => e.stats);
			// The replicas' CPU from start to stop (a little past the last row), over the drain's wall time.
			const writerCores = stoppedEvents.reduce((a, e) => a + e.cpuMs, 0) / ms;
			await market.deleteSubscription(subscription, TICK_TOPIC_PATTERNS);
			const n = await countRows();
			if (n !== N) throw new Error(`${k} writer replicas: table has ${n} rows, expected ${N}`);
			log(
				`  writer x${k}: ${fmt(N / (ms / 1000))} rows/s (${seconds(ms)}; rows per replica ${stats.map((x) => fmt(x.insertedTrades)).join(" / ")}, ` +
					`duplicates ${stats.reduce((a, x) => a + x.duplicates, 0)}; machine CPU ${pct(busy)} busy, writers ${writerCores.toFixed(2)} cores; PostgreSQL backends ${topWaits(waits)})`,
			);
			return { rps: N / (ms / 1000), busy, writerCores, waits };
		};

		const writerRps: Record<number, number[]> = Object.fromEntries(REPLICAS.map((k) => [k, []]));
		const copyRps: Record<number, number[]> = Object.fromEntries(CONNECTIONS.map((k) => [k, []]));
		const writerBusy: Record<number, number[]> = Object.fromEntries(REPLICAS.map((k) => [k, []]));
		const writerCores: Record<number, number[]> = Object.fromEntries(REPLICAS.map((k) => [k, []]));
		const copyBusy: Record<number, number[]> = Object.fromEntries(CONNECTIONS.map((k) => [k, []]));
		const writerWaits: Record<number, Map<string, number>> = Object.fromEntries(REPLICAS.map((k) => [k, new Map()]));
		const copyWaits: Record<number, Map<string, number>> = Object.fromEntries(CONNECTIONS.map((k) => [k, new Map()]));
		for (let run = 1; run <= RUNS; run++) {
			log(`run ${run}/${RUNS}`);
			// Interleaved, so drift on a shared machine hits writer and baseline alike.
			for (let i = 0; i < REPLICAS.length; i++) {
				const c = CONNECTIONS[i];
				const cp = await rawCopy(c);
				copyRps[c].push(cp.rps);
				copyBusy[c].push(cp.busy);
				mergeCounts(copyWaits[c], cp.waits);
				log(`  raw COPY x${c}: ${fmt(cp.rps)} rows/s (machine CPU ${pct(cp.busy)} busy; PostgreSQL backends ${topWaits(cp.waits)})`);
				const k = REPLICAS[i];
				const w = await writers(k);
				writerRps[k].push(w.rps);
				writerBusy[k].push(w.busy);
				writerCores[k].push(w.writerCores);
				mergeCounts(writerWaits[k], w.waits);
			}
		}

		const writerMed = Object.fromEntries(REPLICAS.map((k) => [k, median(writerRps[k])])) as Record<number, number>;
		const copyMed = Object.fromEntries(CONNECTIONS.map((c) => [c, median(copyRps[c])])) as Record<number, number>;
		const bestConns = CONNECTIONS.reduce((b, c) => (copyMed[c] > copyMed[b] ? c : b), CONNECTIONS[0] as number);
		const bestCopy = copyMed[bestConns];
		// Per run: writer x4 over that run's best COPY; the median of those is the ratio.
		const perRun = Array.from({ length: RUNS }, (_, i) => writerRps[4][i] / Math.max(...CONNECTIONS.map((c) => copyRps[c][i])));
		const ratio = median(perRun);
		const cpu = {
			copyBusy: Object.fromEntries(CONNECTIONS.map((c) => [c, median(copyBusy[c])])) as Record<number, number>,
			writerBusy: Object.fromEntries(REPLICAS.map((k) => [k, median(writerBusy[k])])) as Record<number, number>,
			writerCores: Object.fromEntries(REPLICAS.map((k) => [k, median(writerCores[k])])) as Record<number, number>,
			writerWaits: Object.fromEntries(REPLICAS.map((k) => [k, topWaits(writerWaits[k])])) as Record<number, string>,
			copyWaits: Object.fromEntries(CONNECTIONS.map((c) => [c, topWaits(copyWaits[c])])) as Record<number, string>,
			writerBlock: topBlockingWait(writerWaits[4]),
		};
		const limit = describeLimit(copyMed, writerMed, cpu, os.cpus().length);

		log("");
		log(`writer-scale curve (${fmt(N)} trades, median of ${RUNS} runs, rows/s):`);
		log(`  replicas / connections   tick-writer     raw COPY      writer/COPY   machine CPU busy (writer / COPY)   writer processes' CPU`);
		for (let i = 0; i < REPLICAS.length; i++) {
			const k = REPLICAS[i];
			log(
				`  ${String(k).padStart(8)}                ${fmt(writerMed[k]).padStart(9)}    ${fmt(copyMed[k]).padStart(9)}      ${(writerMed[k] / copyMed[k]).toFixed(2)}` +
					`          ${pct(cpu.writerBusy[k]).padStart(4)} / ${pct(cpu.copyBusy[k]).padStart(4)}                      ${cpu.writerCores[k].toFixed(2)} cores`,
			);
		}
		for (const k of REPLICAS) log(`  PostgreSQL backends, writer x${k}: ${cpu.writerWaits[k]}; raw COPY x${k}: ${cpu.copyWaits[k]}`);
		log(`  limit: ${limit}`);

		report({
			bench: "writer-scale",
			ratio,
			goal: 0.8,
			better: "higher",
			figure: `writer x4 ${fmt(writerMed[4])} rows/s (x1 ${fmt(writerMed[1])}, x2 ${fmt(writerMed[2])})`,
			baseline: `raw COPY best ${fmt(bestCopy)} rows/s (${bestConns} conn)`,
			trades: N,
			runs: RUNS,
			cores: os.cpus().length,
			writer_rows_per_s: Object.fromEntries(REPLICAS.map((k) => [`x${k}`, Math.round(writerMed[k])])),
			copy_rows_per_s: Object.fromEntries(CONNECTIONS.map((c) => [`x${c}`, Math.round(copyMed[c])])),
			writer_runs: Object.fromEntries(REPLICAS.map((k) => [`x${k}`, writerRps[k].map(Math.round)])),
			copy_runs: Object.fromEntries(CONNECTIONS.map((c) => [`x${c}`, copyRps[c].map(Math.round)])),
			ratio_runs: perRun.map((r) => Number(r.toFixed(3))),
			machine_cpu_busy_writer: Object.fromEntries(REPLICAS.map((k) => [`x${k}`, Number(cpu.writerBusy[k].toFixed(2))])),
			machine_cpu_busy_copy: Object.fromEntries(CONNECTIONS.map((c) => [`x${c}`, Number(cpu.copyBusy[c].toFixed(2))])),
			pg_waits_writer: Object.fromEntries(REPLICAS.map((k) => [`x${k}`, cpu.writerWaits[k]])),
			pg_waits_copy: Object.fromEntries(CONNECTIONS.map((c) => [`x${c}`, cpu.copyWaits[c]])),
			writer_process_cores: Object.fromEntries(REPLICAS.map((k) => [`x${k}`, Number(cpu.writerCores[k].toFixed(2))])),
			limit,
		});
	} finally {
		for (const r of replicas) if (r.proc.connected) command(r, { cmd: "exit" });
		await Promise.all(replicas.map((r) => (r.proc.exitCode !== null ? null : new Promise((res) => r.proc.once("exit", res)))));
		await market.close();
		await deleteStream(stream);
		await db.drop();
	}
}

function pct(x: number): string {
	return Number.isFinite(x) ? `${Math.round(x * 100)}%` : "?";
}

/**
 * Where the curve flattens, in words: raw COPY scaling across connections says whether PostgreSQL itself takes
 * more parallel load; the machine's CPU during the runs says whether the cores are the wall; the writer's
 * scaling across replicas and its distance to the best COPY say whether the writer reaches that limit.
 */
function describeLimit(
	copy: Record<number, number>,
	writer: Record<number, number>,
	cpu: {
		copyBusy: Record<number, number>;
		writerBusy: Record<number, number>;
		writerCores: Record<number, number>;
		writerWaits: Record<number, string>;
		copyWaits: Record<number, string>;
		writerBlock: { wait: string; share: number } | null;
	},
	cores: number,
): string {
	const gain = (m: Record<number, number>, a: number, b: number) => m[b] / m[a];
	const copyScales = (a: number, b: number) => gain(copy, a, b) >= 1.15;
	let pg: string;
	if (!copyScales(1, 2) && !copyScales(1, 4)) pg = `PostgreSQL: raw COPY does not scale past 1 connection on this ${cores}-core machine (x2 ${gain(copy, 1, 2).toFixed(2)}, x4 ${gain(copy, 1, 4).toFixed(2)} of x1)`;
	else if (!copyScales(2, 4)) pg = `PostgreSQL: raw COPY scales to 2 connections (x${gain(copy, 1, 2).toFixed(2)}) but not to 4 (x${gain(copy, 1, 4).toFixed(2)} of x1) on this ${cores}-core machine`;
	else pg = `PostgreSQL: raw COPY still scales at 4 connections on this ${cores}-core machine (x${gain(copy, 1, 4).toFixed(2)} of x1)`;
	pg += `, machine CPU ${pct(cpu.copyBusy[4])} busy at 4 connections`;
	const best = Math.max(...Object.values(copy));
	let w = `writer: x2 ${gain(writer, 1, 2).toFixed(2)}, x4 ${gain(writer, 1, 4).toFixed(2)} of x1, x4 at ${(writer[4] / best).toFixed(2)} of the best raw COPY`;
	// The writer processes' own CPU tells whether they are the bottleneck; the machine's busy share includes
	// PostgreSQL, NATS and whatever else runs on the machine.
	const writerBound = cpu.writerCores[4] >= 0.8 * Math.min(4, cores);
	w += `; with 4 replicas the writer processes used ${cpu.writerCores[4].toFixed(2)} of ${cores} cores (${writerBound ? "they are CPU-bound" : "they mostly wait for PostgreSQL"}), the machine was ${pct(cpu.writerBusy[4])} busy`;
	if (cpu.writerBusy[4] >= 0.9 && !writerBound) w += " (PostgreSQL, NATS and other load): the cores PostgreSQL gets are the limit";
	w += `; PostgreSQL backends at 4 replicas: ${cpu.writerWaits[4]} (raw COPY x4: ${cpu.copyWaits[4]})`;
	const b = cpu.writerBlock;
	if (b && b.share >= 0.25) {
		return `PostgreSQL: at 4 replicas its backends wait ${pct(b.share)} of the time on ${b.wait}${WAIT_MEANING[b.wait] ? ` (${WAIT_MEANING[b.wait]})` : ""}; ${pg.replace(/^PostgreSQL: /, "")}; ${w}`;
	}
	return `${pg}; ${w}`;
}

main().catch((err) => {
	console.error(err);
	process.exit(1);
});
