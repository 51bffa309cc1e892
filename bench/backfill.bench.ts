/**
 * `backfill`: Dukascopy backfill end to end. A job of N hours (the three recorded EURUSD hours, served in turn
 * as real .bi5 files by the fake datafeed over HTTP) -> dukascopy-backfill (fetch, LZMA decode, publish) ->
 * market-data log -> tick-writer -> committed quotes in PostgreSQL, in ticks/s; divided by raw COPY of the same
 * rows into the same (empty, primary-keyed) quotes table, measured in the same invocation. After one rehearsal job
 * (not counted), each of RUNS runs does the baseline COPY and then the backfill, truncating between them; the ratio
 * is the median of the runs.
 * Beside it, not the goal: the ratio to raw binary COPY of the same rows (the tick-writer sends verbatim wire
 * lines as binary COPY).
 * By default the tick-writer runs in a process of its own, as deployed, fed through JetStream; with
 * `--log memory` everything (fake datafeed, backfill, tick-writer) shares one process and one log.
 *   npm run bench:backfill [-- --quick] [-- --runs 3] [-- --hours 240] [-- --log memory] [-- --concurrency 8]
 *                          [-- --writer-batch 20000] [-- --writer-prof DIR (a CPU profile of the tick-writer process)]
 *                          [-- --wire v3|v2 (BACKFILL_WIRE: the backfill's messages as v3 columns, the default, or v2 lines)]
 */
import { startPipeline } from "../bin/pipeline";
import { decodeBi5Ticks } from "../lib/backfill/dukascopy/bi5";
import { getInstrument } from "../lib/backfill/dukascopy/instruments";
import { quoteItems } from "../lib/backfill/dukascopy/ticks";
import { createJob, getJob } from "../lib/backfill/jobs";
import { loadConfig } from "../lib/config";
import { decodeWire, decodeWireBytes, encodeEnvelope, quoteEnvelope, type CopyLines } from "../lib/domain/codec";
import { wireBinaryCopy } from "../test/helpers/binary-copy";
import { QUOTE_COLUMNS } from "../lib/writer/copy";
import { FakeDukascopy, EURUSD_HOUR_FILES, DUKASCOPY_FIXTURES } from "../test/helpers/fake-dukascopy";
import { deleteStream } from "../test/helpers/nats";
import { startService, type Child } from "../test/helpers/proc";
import { freePort } from "../test/helpers/net";
import fs from "node:fs";
import { connect } from "nats";
import path from "node:path";
import { argValue, benchDatabase, cpuDuring, cpuMs, type CpuSplit, fmt, median, pidsNamed, report, RUNS, seconds, sizeArg, timedBinaryCopy, timedCopy } from "./common";

const HOURS = sizeArg("--hours", 240, 48);
const LOG = argValue("--log", "jetstream");
const SPLIT = LOG !== "memory"; // the tick-writer in its own process
const WRITER_PROF = argValue("--writer-prof", "");
const WIRE = argValue("--wire", ""); // BACKFILL_WIRE for the pipeline's backfill; unset, the config's default
const HOUR = 3_600_000;
const FROM = Date.parse("2019-03-04T00:00:00Z");
const EURUSD = getInstrument("EURUSD");
const fileFor = (hour: number) => EURUSD_HOUR_FILES[(hour / HOUR) % 3];
const progress = (s: string) => console.error(s);



async function main() {
	const db = await benchDatabase("backfill");
	const fake = await FakeDukascopy.start();
	const files = new Map(EURUSD_HOUR_FILES.map((f) => [f, fs.readFileSync(path.join(DUKASCOPY_FIXTURES, f))]));
	// The venue answers from memory: reading files is the fake's work, not the pipeline's.
	fake.fallback = (inst, hour) => (inst === "EURUSD" ? files.get(fileFor(hour))! : null);
	const stream = `MDP_BENCH_BACKFILL_${process.pid}`;
	try {
		// Baseline rows: the same ticks as COPY text, prepared before any clock starts.
		const rows: string[] = [];
		const lines: CopyLines[] = [];
		let total = 0;
		for (let i = 0; i < HOURS; i++) {
			const h = FROM + i * HOUR;
			const items = quoteItems(decodeBi5Ticks(files.get(fileFor(h))!, "EURUSD", h), EURUSD, new Date().toISOString());
			total += items.length;
			for (let j = 0; j < items.length; j += 5000) {
				const payload = encodeEnvelope(quoteEnvelope("dukascopy", EURUSD.symbol, items.slice(j, j + 5000)));
				rows.push(decodeWire(payload).copy);
				lines.push(decodeWireBytes(payload).lines!);
			}
		}
		const empty = async () => {
			await db.pool.query("TRUNCATE quotes, dirty_buckets");
			await db.pool.query("VACUUM ANALYZE quotes");
		};
		const rawCopy = () => timedCopy(db.pool, "quotes", QUOTE_COLUMNS, rows);
		const binaryChunks = wireBinaryCopy(lines, "quote").chunks;

		const common = {
			DATABASE_URL: db.url,
			MARKET_LOG: LOG,
			MARKET_LOG_STREAM: stream,
			MARKET_LOG_SUBJECT_PREFIX: stream.toLowerCase() + ".",
			METRICS_PORT: "0",
			MIGRATE_ON_START: "false",
			WRITER_BATCH_ROWS: argValue("--writer-batch", "20000"),
			LOG_LEVEL: "warn",
		};
		let writer: Child | null = null;
		if (SPLIT) {
			const prof: Record<string, string> = WRITER_PROF ? { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --cpu-prof --cpu-prof-dir=${path.resolve(WRITER_PROF)}`.trim() } : {};
			writer = startService({ ...common, ...prof, SERVICES: "tick-writer", LOG_LEVEL: "info" });
			await writer.waitForOutput(/pipeline up/);
		}
		const config = loadConfig({
			...common,
			SERVICES: SPLIT ? "dukascopy-backfill" : "tick-writer,dukascopy-backfill",
			PORT: String(await freePort()),
			DUKASCOPY_URL: fake.datafeedUrl,
			BACKFILL_CONCURRENCY: argValue("--concurrency", "8"),
			BACKFILL_RATE_PER_SEC: "10000",
			BACKFILL_WIRE: WIRE,
		});
		const p = await startPipeline(config);
		const count = async () => Number((await db.pool.query("SELECT count(*) AS n FROM quotes")).rows[0].n);
		// Everything is stored once every message the job published has been acknowledged, and the tick-writer acks
		// only after the transaction that stored it has committed. Asking JetStream for its consumers' state is
		// exact and cheap; counting a growing table every few ms would compete with the writer for PostgreSQL.
		const nc = SPLIT ? await connect({ servers: "nats://127.0.0.1:4222" }) : null;
		const jsm = await nc?.jetstreamManager();
		const allAcked = async () => {
			const consumers = await jsm!.consumers.list(stream).next();
			return consumers.length > 0 && consumers.every((ci) => ci.num_pending === 0 && ci.num_ack_pending === 0);
		};
		// nats-server's CPU too, when it runs on this machine (the log's broker: it stores and delivers every message)
		const natsPids = SPLIT ? pidsNamed("nats-server") : [];
		const natsCpu = () => natsPids.reduce((sum, pid) => sum + (cpuMs(pid) || 0), 0);
		const inMemoryStored = async () => ((await p.broker.call("tick-writer.stats")) as { insertedQuotes: number }).insertedQuotes;
		const jobDone = async (id: string) => (await db.pool.query("SELECT state FROM backfill_jobs WHERE id = $1", [id])).rows[0]?.state === "done";
		type Cpu = CpuSplit; // other = the tick-writer process
		let insertedBefore = 0;
		/** One backfill job of HOURS hours into the emptied table, timed until every quote is stored, and checked. */
		const backfillOnce = async () => {
			await empty();
			if (!SPLIT) insertedBefore = await inMemoryStored();
			const nats0 = natsCpu();
			const measured = await cpuDuring(db.pool, writer?.proc.pid, async () => {
				const s = performance.now();
				const id = await createJob(db.pool, { instrument: "EURUSD", hours: Array.from({ length: HOURS }, (_, i) => FROM + i * HOUR), from: FROM, to: FROM + HOURS * HOUR });
				// as the service's start action does: tell the workers (else an idle worker finds the job at its next poll, up to 2 s later)
				p.broker.broadcast("backfill.queued", { id, instrument: "EURUSD" });
				let publishedMs = NaN; // every hour accepted by the log (the job is done)
				for (;;) {
					if (Number.isNaN(publishedMs)) {
						// The job's state every 50 ms (a query to PostgreSQL, which is busy storing); published_ms is a detail.
						if (await jobDone(id)) publishedMs = performance.now() - s;
						else await new Promise((r) => setTimeout(r, 50));
						continue;
					}
					// Then the writer's progress every 10 ms from JetStream (or the in-process writer): this sets the figure.
					if (SPLIT ? await allAcked() : (await inMemoryStored()) - insertedBefore >= total) break;
					await new Promise((r) => setTimeout(r, 10));
				}
				return { id, e2eMs: performance.now() - s, publishedMs };
			});
			const natsServerCpu = natsPids.length ? Math.round(natsCpu() - nats0) : NaN;
			const { id, e2eMs, publishedMs } = measured.result;
			const job = await getJob(db.pool, id);
			const n = await count();
			if (n !== total || job?.progress.ticks !== total) throw new Error(`expected ${total} quotes, table has ${n}, job counted ${job?.progress.ticks}`);
			return { e2eMs, publishedMs, cpu: measured.cpu, natsServerCpu };
		};
		const runs: Array<{ copyMs: number; binaryMs: number; e2eMs: number; publishedMs: number; ratio: number; copyCpu: Cpu; cpu: Cpu; natsServerCpu: number }> = [];
		let rehearsal: Awaited<ReturnType<typeof backfillOnce>> | null = null;
		try {
			// Rehearsal, not counted (as in the klines bench): the services are long-running, and the first job after they
			// start also pays for compiling their hot code in both processes. Its figures are reported beside the runs.
			rehearsal = await backfillOnce();
			progress(`rehearsal (not counted): backfill ${seconds(rehearsal.e2eMs)}, all hours published after ${seconds(rehearsal.publishedMs)}; CPU ms: this process ${rehearsal.cpu.self}, tick-writer ${rehearsal.cpu.other}, postgres ${rehearsal.cpu.postgres} (waited for a CPU ${rehearsal.cpu.postgresWaited}), nats-server ${rehearsal.natsServerCpu}`);
			for (let run = 1; run <= RUNS; run++) {
				await empty();
				const { result: copyMs, cpu: copyCpu } = await cpuDuring(db.pool, writer?.proc.pid, rawCopy);
				if ((await count()) !== total) throw new Error(`raw COPY stored ${await count()} of ${total} quotes`);
				await empty();
				const binaryMs = await timedBinaryCopy(db.pool, "quotes", QUOTE_COLUMNS, binaryChunks);
				if ((await count()) !== total) throw new Error(`raw binary COPY stored ${await count()} of ${total} quotes`);
				const { e2eMs, publishedMs, cpu, natsServerCpu } = await backfillOnce();
				const ratio = copyMs / e2eMs;
				runs.push({ copyMs, binaryMs, e2eMs, publishedMs, ratio, copyCpu, cpu, natsServerCpu });
				progress(
					`run ${run}/${RUNS}: raw COPY ${seconds(copyMs)} (${fmt(total / (copyMs / 1000))} rows/s); backfill ${seconds(e2eMs)} (${fmt(total / (e2eMs / 1000))} ticks/s, all hours published after ${seconds(publishedMs)}); ratio ${ratio.toFixed(3)}; ` +
						`CPU ms: COPY postgres ${copyCpu.postgres} (waited for a CPU ${copyCpu.postgresWaited}); backfill: this process ${cpu.self}, tick-writer ${cpu.other}, postgres ${cpu.postgres} (waited for a CPU ${cpu.postgresWaited}), nats-server ${natsServerCpu}; ` +
						`raw binary COPY ${seconds(binaryMs)}, ratio to it ${(binaryMs / e2eMs).toFixed(3)}`,
				);
			}
		} finally {
			await nc?.close();
			await p.stop();
			await writer?.kill("SIGTERM");
		}
		const copyRate = median(runs.map((r) => total / (r.copyMs / 1000)));
		const e2eRate = median(runs.map((r) => total / (r.e2eMs / 1000)));
		report({
			bench: "backfill",
			ratio: median(runs.map((r) => r.ratio)),
			goal: 0.8,
			better: "higher",
			figure: `${fmt(e2eRate)} ticks/s`,
			baseline: `raw COPY ${fmt(copyRate)} rows/s`,
			log: LOG,
			wire: config.backfillWire,
			writer_process: SPLIT ? "separate" : "same",
			hours: HOURS,
			ticks: total,
			// not the goal: the same rows by raw binary COPY (the tick-writer sends verbatim lines as binary COPY)
			ratio_vs_binary_copy: Number(median(runs.map((r) => r.binaryMs / r.e2eMs)).toFixed(3)),
			rehearsal: rehearsal && { backfill_ms: Math.round(rehearsal.e2eMs), published_ms: Math.round(rehearsal.publishedMs), cpu_ms: { backfill_self: rehearsal.cpu.self, backfill_writer: rehearsal.cpu.other, backfill_postgres: rehearsal.cpu.postgres, backfill_postgres_waited: rehearsal.cpu.postgresWaited, backfill_nats_server: rehearsal.natsServerCpu } },
			runs: runs.map((r) => ({
				copy_ms: Math.round(r.copyMs),
				binary_copy_ms: Math.round(r.binaryMs),
				backfill_ms: Math.round(r.e2eMs),
				published_ms: Math.round(r.publishedMs),
				ratio: Number(r.ratio.toFixed(3)),
				cpu_ms: { copy_postgres: r.copyCpu.postgres, copy_postgres_waited: r.copyCpu.postgresWaited, backfill_self: r.cpu.self, backfill_writer: r.cpu.other, backfill_postgres: r.cpu.postgres, backfill_postgres_waited: r.cpu.postgresWaited, backfill_nats_server: r.natsServerCpu },
			})),
		});
	} finally {
		await fake.close();
		if (LOG !== "memory") await deleteStream(stream);
		await db.drop();
	}
}

main().catch((err) => {
	console.error(err);
	process.exit(1);
});
