/**
 * Publish throughput of the Pulsar WebSocket driver (lib/log/pulsar/websocket.ts: batching on, LZ4 asked
 * for, many messages in flight) as a ratio to the JetStream driver (lib/log/jetstream.ts) publishing the
 * same payloads with the same in-flight window to the machine's nats-server, both measured in this run:
 *   npm run bench -- --only pulsar-publish [--quick] [--runs N]
 *   node --import tsx bench/pulsar-publish.bench.ts [--quick] [--runs N] [--window 1000] [--messages N] [--slices 10]
 *     [--case 100trade_msgs_batches_of_100] [--fake-prof DIR]
 *
 * Fairness: nats-server is a process of its own, so the fake Pulsar broker (test/helpers/pulsar-ws-server.ts,
 * speaking Pulsar's WebSocket producer protocol: JSON frames with a base64 payload, one answer per
 * message) runs in a child process too; the figure is the driver's, not the fake's, as long as the fake
 * keeps up. The fake keeps nothing (`retain: false`: per key a count and a CRC-32 of what arrived, in order),
 * does no compression or replication, while JetStream here stores to disk; a real broker runs on other
 * machines. Kept in its heap, the fake's collector used more CPU than the driver it was measuring. The CPU µs
 * per message of each driver, of the fake and of nats-server are printed so a reader can see which side was
 * the limit.
 * Each topic gets a fresh name per run, so JetStream's duplicate window never drops a message of a later
 * run. Within a run the messages go in --slices slices, each published by both drivers back to back (which one
 * goes first alternates), so a noisy neighbour lands on both sides of the ratio; a first rehearsal run at full
 * size is measured, verified and not counted (the first pass ran at a third to a half of the later passes' rate
 * on both sides). The ratio is the median of the runs' ratios of the headline case, messages of 100 generated
 * trades (~7.9 kB each), which is what the venue feeds publish, one symbol awaiting each batch of 100. The
 * other cases are details: the same messages from ten symbols at once (1,000 in flight, the window), and 64-byte
 * messages.
 *
 * Correctness: a publish resolves only when every message of it is acknowledged; after each run the fake's
 * per-key counts and CRC-32s are compared with what was sent, and JetStream's stream must have grown by exactly
 * the messages sent, so a broken path cannot be measured.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { crc32 } from "node:zlib";
import { JetStreamLog } from "../lib/log/jetstream";
import { PulsarWsLog } from "../lib/log/pulsar/websocket";
import { DEFAULT_LAYOUT, pulsarTopic } from "../lib/log/pulsar/topics";
import type { MarketLog } from "../lib/log/types";
import { deleteStream } from "../test/helpers/nats";
import { FakePulsar } from "../test/helpers/pulsar-ws-server";
import fs from "node:fs";
import { argValue, cpuMs, fmt, logBenchPayloads, median, QUICK, report, RUNS, sizeArg } from "./common";

const BIG = sizeArg("--messages", 20_000, 8_000);
const SMALL = sizeArg("--small", 100_000, 30_000);
const WINDOW = sizeArg("--window", 1_000, 1_000);
const SLICES = sizeArg("--slices", 10, 10);
/** run only this case (the headline's name: quicker profiling) */
const ONLY_CASE = argValue("--case", "");
/** a CPU profile of the fake broker's process into this directory */
const FAKE_PROF = argValue("--fake-prof", "");
const PER_MESSAGE = 100;
const SERVERS = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const quiet = { info: () => undefined, warn: (m: string) => console.error(m), error: (m: string) => console.error(m) };

// ---- the fake broker's process

interface Verify {
	op: "verify" | "forget";
	full: string;
}
interface Verified {
	count: number;
	/** CPU time of the fake's process since the last answer, µs (user + system) */
	cpuMicros: number;
	duplicates: number;
	/** key -> count and CRC-32 of the payloads' base64 text that key published, in arrival order */
	digests: Record<string, { count: number; crc: number }>;
}

/** The fake broker in its own process, answering verification questions over the IPC channel. */
async function serveFake(): Promise<void> {
	// no base64 check per message and nothing kept: per key a count and a CRC-32 of the base64 text in arrival
	// order, compared after each run with what was sent (a broker keeps what it stores on other machines' disks;
	// a fake holding gigabytes in its heap would measure its own collector)
	const f = await FakePulsar.start({ deduplication: true, validatePayloads: false, retain: false });
	let cpu = process.cpuUsage();
	const cpuSince = () => {
		const d = process.cpuUsage(cpu);
		cpu = process.cpuUsage();
		return d.user + d.system;
	};
	process.on("message", (m: Verify) => {
		if (m.op === "forget") {
			f.forget(m.full);
			cpuSince();
			process.send!({ forgotten: m.full });
			return;
		}
		if (m.op !== "verify") return;
		const cpuMicros = cpuSince();
		const digests = f.digest(m.full);
		const count = Object.values(digests).reduce((n, d) => n + d.count, 0);
		// the run is checked: forget it so the next run's digests start afresh
		f.forget(m.full);
		const out: Verified = { cpuMicros, count, duplicates: f.stats.duplicates, digests };
		process.send!(out);
	});
	process.on("disconnect", () => void f.close().then(() => process.exit(0)));
	process.send!({ port: f.port });
}

interface FakeProcess {
	proc: ChildProcess;
	url: string;
	verify(full: string): Promise<Verified>;
	forget(full: string): Promise<void>;
}

function startFake(): Promise<FakeProcess> {
	const proc = spawn(process.execPath, [...(FAKE_PROF ? ["--cpu-prof", `--cpu-prof-dir=${FAKE_PROF}`] : []), "--import", "tsx", __filename, "--serve-fake"], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
	return new Promise((resolve, reject) => {
		proc.once("exit", (code) => reject(new Error(`fake broker exited (${code})`)));
		proc.once("message", (m: { port: number }) =>
			resolve({
				proc,
				url: `ws://127.0.0.1:${m.port}`,
				verify: (full) =>
					new Promise((res) => {
						proc.once("message", (v: Verified) => res(v));
						proc.send({ op: "verify", full } satisfies Verify);
					}),
				forget: (full) =>
					new Promise((res) => {
						proc.once("message", () => res());
						proc.send({ op: "forget", full } satisfies Verify);
					}),
			}),
		);
	});
}

// ---- the publishing side

interface Case {
	name: string;
	payloads: Uint8Array[];
	/** messages per publish() call */
	batch: number;
	/** keys publishing concurrently, each in order (as several venue streams would) */
	keys: number;
	headline?: boolean;
}

/** Which payloads key k publishes, in order. */
function keyPayloads(c: Case, k: number): Uint8Array[] {
	const out: Uint8Array[] = [];
	for (let i = k * c.batch; i < c.payloads.length; i += c.batch * c.keys) out.push(...c.payloads.slice(i, i + c.batch));
	return out;
}

async function publishAll(log: MarketLog, topic: string, c: Case): Promise<number> {
	const t0 = performance.now();
	await Promise.all(
		Array.from({ length: c.keys }, async (_, k) => {
			for (let i = k * c.batch; i < c.payloads.length; i += c.batch * c.keys) await log.publish(topic, `K${k}`, c.payloads.slice(i, i + c.batch));
		}),
	);
	return performance.now() - t0;
}

/** The machine's nats-server processes (the JetStream side's broker), so its CPU per message can be set beside the fake's. */
function natsServerPids(): number[] {
	return fs
		.readdirSync("/proc")
		.filter((d) => /^\d+$/.test(d))
		.filter((d) => {
			try {
				return fs.readFileSync(`/proc/${d}/comm`, "utf8").trim() === "nats-server";
			} catch {
				return false;
			}
		})
		.map(Number);
}
const natsCpuMs = (pids: number[]) => pids.reduce((s, p) => s + cpuMs(p), 0);

const rate = (n: number, ms: number) => (n / ms) * 1000;
const us = (xs: number[]) => Number(median(xs).toFixed(1));

async function main(): Promise<void> {
	const t0 = performance.now();
	const { small, big, bigBytes } = logBenchPayloads(SMALL, BIG * PER_MESSAGE, PER_MESSAGE);
	console.error(`window ${WINDOW} in flight; ${RUNS} runs${QUICK ? " (quick)" : ""}`);
	const cases: Case[] = [
		{ name: `${PER_MESSAGE}trade_msgs_batches_of_100`, payloads: big, batch: 100, keys: 1, headline: true },
		// ten symbols at once: the in-flight window, not one batch's round trip, is the limit
		{ name: `${PER_MESSAGE}trade_msgs_batches_of_100_x10_keys`, payloads: big, batch: 100, keys: 10 },
		{ name: "64B_batches_of_1000", payloads: small, batch: 1_000, keys: 1 },
		{ name: "64B_batches_of_10_x4_keys", payloads: small.slice(0, Math.min(small.length, 40_000)), batch: 10, keys: 4 },
	];
	if (ONLY_CASE) cases.splice(0, cases.length, ...cases.filter((c) => c.name === ONLY_CASE));
	if (!cases.some((c) => c.headline)) throw new Error(`--case ${ONLY_CASE}: the headline case must be among those run`);

	const stream = `MDP_BENCH_PULSAR_${process.pid}`;
	const js = await JetStreamLog.connect({ servers: SERVERS, stream, subjectPrefix: `benchp${process.pid}.`, maxPublishInFlight: WINDOW });
	const jsm = await js.nc.jetstreamManager();
	const streamCount = async () => (await jsm.streams.info(stream)).state.messages;
	const fake = await startFake();
	const natsPids = natsServerPids();
	const pulsar = await PulsarWsLog.connect({ url: fake.url, logger: quiet, maxPendingPerTopic: WINDOW });
	const perCase = new Map<string, { js: number[]; pulsar: number[]; ratio: number[]; jsCpu: number[]; pulsarCpu: number[]; fakeCpu: number[]; natsCpu: number[] }>(
		cases.map((c) => [c.name, { js: [], pulsar: [], ratio: [], jsCpu: [], pulsarCpu: [], fakeCpu: [], natsCpu: [] }]),
	);
	try {
		// run -1 is a rehearsal at full size, measured and verified like the others but not counted: the first pass
		// over each case ran at a third to a half of the later passes' rate on both sides (JIT, both heaps growing to
		// the working size), which says nothing about the steady state a feed publishes in
		for (let run = -1; run < RUNS; run++) {
			for (const c of cases) {
				const topic = `market-data/bench/r${run}/${c.name.toLowerCase()}/trades`;
				// open the topic on both sides first (Pulsar: admin call + producer connection), outside the timing
				const warm = [new TextEncoder().encode("warm")];
				await js.publish(topic, "warm", warm);
				await pulsar.publish(topic, "warm", warm);
				await fake.forget(pulsarTopic(topic, DEFAULT_LAYOUT).full);
				const r = run < 0 ? { js: [] as number[], pulsar: [] as number[], ratio: [] as number[], jsCpu: [] as number[], pulsarCpu: [] as number[], fakeCpu: [] as number[], natsCpu: [] as number[] } : perCase.get(c.name)!;
				// the run's messages go in SLICES slices, each published by both drivers back to back (which one
				// goes first alternates), so a few seconds of a noisy neighbour land on both sides of the ratio
				const jsBefore = await streamCount();
				const natsBefore = natsCpuMs(natsPids); // nats-server does nothing else meanwhile
				const step = Math.max(c.batch * c.keys, Math.ceil(c.payloads.length / SLICES / (c.batch * c.keys)) * c.batch * c.keys);
				let jsMs = 0;
				let plMs = 0;
				let jsCpuUs = 0;
				let plCpuUs = 0;
				for (let from = 0, n = 0; from < c.payloads.length; from += step, n++) {
					const slice = { ...c, payloads: c.payloads.slice(from, from + step) };
					const one = async (log: MarketLog) => {
						const cpu = process.cpuUsage();
						const ms = await publishAll(log, topic, slice);
						const used = process.cpuUsage(cpu);
						return { ms, cpuUs: used.user + used.system };
					};
					const order = (n + run) % 2 === 0 ? [js, pulsar] : [pulsar, js];
					for (const log of order) {
						const t = await one(log);
						if (log === js) (jsMs += t.ms), (jsCpuUs += t.cpuUs);
						else (plMs += t.ms), (plCpuUs += t.cpuUs);
					}
				}
				r.natsCpu.push(((natsCpuMs(natsPids) - natsBefore) * 1000) / c.payloads.length);
				const stored = (await streamCount()) - jsBefore;
				if (stored !== c.payloads.length) throw new Error(`JetStream stored ${stored} of ${c.payloads.length} messages: the baseline is broken`);
				const v = await verifyPulsar(fake, topic, c);
				r.jsCpu.push(jsCpuUs / c.payloads.length);
				r.pulsarCpu.push(plCpuUs / c.payloads.length);
				r.fakeCpu.push(v.cpuMicros / c.payloads.length);
				const jsRate = rate(c.payloads.length, jsMs);
				const plRate = rate(c.payloads.length, plMs);
				r.js.push(jsRate);
				r.pulsar.push(plRate);
				r.ratio.push(plRate / jsRate);
				console.error(
					`${run < 0 ? "rehearsal" : `run ${run + 1}/${RUNS}`} ${c.name.padEnd(26)} JetStream ${fmt(jsRate).padStart(7)} msg/s   Pulsar WS ${fmt(plRate).padStart(7)} msg/s   ratio ${(plRate / jsRate).toFixed(2)}   CPU µs/msg: JetStream driver ${r.jsCpu.at(-1)!.toFixed(1)}, Pulsar driver ${r.pulsarCpu.at(-1)!.toFixed(1)}, fake broker ${r.fakeCpu.at(-1)!.toFixed(1)}, nats-server ${r.natsCpu.at(-1)!.toFixed(1)}`,
				);
			}
		}
	} finally {
		await pulsar.close();
		await js.close();
		await deleteStream(stream, SERVERS);
		fake.proc.disconnect();
	}
	const details = Object.fromEntries(
		[...perCase].map(([name, r]) => [
			name,
			{
				jetstream_msgs_per_s: Math.round(median(r.js)), pulsar_msgs_per_s: Math.round(median(r.pulsar)), ratio: Number(median(r.ratio).toFixed(3)),
				ratios: r.ratio.map((x) => Number(x.toFixed(3))),
				cpu_us_per_msg: { jetstream_driver: us(r.jsCpu), pulsar_driver: us(r.pulsarCpu), fake_broker: us(r.fakeCpu), nats_server: us(r.natsCpu) },
			},
		]),
	);
	const head = cases.find((c) => c.headline)!;
	const h = perCase.get(head.name)!;
	report({
		bench: "pulsar-publish",
		ratio: median(h.ratio),
		goal: 1.0,
		better: "higher",
		figure: `Pulsar WS ${fmt(median(h.pulsar))} msgs/s (${PER_MESSAGE}-trade messages)`,
		baseline: `JetStream ${fmt(median(h.js))} msgs/s`,
		ratios: h.ratio.map((x) => Number(x.toFixed(3))),
		runs: RUNS,
		window: WINDOW,
		messages: head.payloads.length,
		message_bytes: Math.round(bigBytes / big.length),
		cpu_us_per_msg: details[head.name].cpu_us_per_msg,
		cases: details,
		seconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
	});
}

/** Everything sent is stored once, in order per key, with the same bytes. */
async function verifyPulsar(fake: FakeProcess, topic: string, c: Case): Promise<Verified> {
	const v = await fake.verify(pulsarTopic(topic, DEFAULT_LAYOUT).full);
	const why: string[] = [];
	if (v.count !== c.payloads.length) why.push(`stored ${v.count} of ${c.payloads.length} messages`);
	if (v.duplicates) why.push(`${v.duplicates} duplicates`);
	for (let k = 0; k < c.keys; k++) {
		const sent = keyPayloads(c, k);
		let crc = 0;
		for (const p of sent) crc = crc32(Buffer.from(Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString("base64")), crc);
		const got = v.digests[`K${k}`];
		if ((got?.count ?? 0) !== sent.length || (sent.length && got.crc !== crc)) why.push(`key K${k}: stored payloads differ from those sent`);
	}
	if (why.length) throw new Error(`Pulsar ${c.name}: ${why.join("; ")}: the bench would measure a broken path`);
	return v;
}

if (process.argv.includes("--serve-fake")) void serveFake();
else
	main().catch((e) => {
		console.error(e);
		process.exit(1);
	});
