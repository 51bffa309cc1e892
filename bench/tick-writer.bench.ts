/**
 * tick-writer throughput: N trades from the JetStream log to committed rows (pull, decode, COPY, dirty
 * marks, commit, ack), against raw keyed COPY of the same rows into the same (empty, primary-keyed)
 * table: one COPY stream in one transaction, COPY text prepared before the clock starts. After one rehearsal
 * of the writer (not counted), each of RUNS runs measures both, alternating which goes first; the ratio is the
 * median of the per-run ratios. The
 * baseline is text COPY; each run also times raw binary COPY of the same rows, which the writer's own binary
 * COPY of verbatim wire lines (lib/writer/copy-binary) is closer to, and reports that ratio beside the goal's.
 * After the runs, a full redelivery of the same rows through a fresh subscription must add no row.
 *   npm run bench -- --only tick-writer [--quick] [--runs N]
 *   node --import tsx bench/tick-writer.bench.ts [--quick] [--trades 1000000] [--pull 200] [--batch-rows 20000] [--concurrency 2]
 */
import { TICK_TOPIC_PATTERNS } from "../lib/domain/topics";
import { deleteStream } from "../test/helpers/nats";
import { decodeWire, decodeWireBytes, encodeEnvelope, tradeEnvelope } from "../lib/domain/codec";
import { wireBinaryCopy } from "../test/helpers/binary-copy";
import { JetStreamLog } from "../lib/log/jetstream";
import { TRADE_COLUMNS } from "../lib/writer/copy";
import { TickWriter, type TickWriterStats } from "../lib/writer/tick-writer";
import { makeTrades } from "../test/helpers/trades";
import { argValue, benchDatabase, fmt, median, report, RUNS, seconds, sizeArg, timedBinaryCopy, timedCopy } from "./common";
import type { Pool } from "pg";

const N = sizeArg("--trades", 1_000_000, 600_000); // quick: large enough that the writer's ~0.4 s before its first commit weighs little
const PER_MESSAGE = 100;
const PULL = Number(argValue("--pull", "")) || undefined;
const BATCH_ROWS = Number(argValue("--batch-rows", "")) || undefined;
const CONCURRENCY = Number(argValue("--concurrency", "")) || undefined;
const TOPIC = "market-data/crypto/raw/kraken/btcusd/trades";

async function count(pool: Pool): Promise<number> {
	return Number((await pool.query("SELECT count(*) AS n FROM trades")).rows[0].n);
}

async function reset(pool: Pool): Promise<void> {
	await pool.query("TRUNCATE trades, dirty_buckets");
	await pool.query("VACUUM ANALYZE trades");
}

async function main() {
	const db = await benchDatabase("writer");
	const stream = `MDP_BENCH_${process.pid}`;
	const log = await JetStreamLog.connect({ stream, subjectPrefix: stream.toLowerCase() + "." });
	try {
		const items = makeTrades(N, Date.parse("2024-01-01T00:00:00Z"), 30 * 86_400_000, 11);
		const payloads = [];
		for (let i = 0; i < items.length; i += PER_MESSAGE) payloads.push(encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", items.slice(i, i + PER_MESSAGE))));
		items.length = 0;
		const copyRows = payloads.map((p) => decodeWire(p).copy);
		const binaryChunks = wireBinaryCopy(payloads.map((p) => decodeWireBytes(p).lines!), "trade").chunks;

		// Fill the log once; every writer run reads all of it through a fresh subscription.
		const tp = performance.now();
		for (let i = 0; i < payloads.length; i += 1000) await log.publish(TOPIC, "BTC-USD-SPOT", payloads.slice(i, i + 1000));
		console.error(`published ${payloads.length} messages (${fmt(N)} trades) to JetStream in ${seconds(performance.now() - tp)}`);

		const rawCopy = async (): Promise<number> => {
			await reset(db.pool);
			const ms = await timedCopy(db.pool, "trades", TRADE_COLUMNS, copyRows);
			if ((await count(db.pool)) !== N) throw new Error("raw COPY stored a wrong row count");
			return ms;
		};
		const rawBinaryCopy = async (): Promise<number> => {
			await reset(db.pool);
			const ms = await timedBinaryCopy(db.pool, "trades", TRADE_COLUMNS, binaryChunks);
			if ((await count(db.pool)) !== N) throw new Error("raw binary COPY stored a wrong row count");
			return ms;
		};

		const writer = async (subscription: string, expectInserted: number): Promise<{ ms: number; cpuMs: number; stats: TickWriterStats }> => {
			const w = new TickWriter({ pool: db.pool, log, subscription, ackTimeoutMs: 60_000, pullMax: PULL, maxBatchRows: BATCH_ROWS, writeConcurrency: CONCURRENCY });
			const cpu0 = process.cpuUsage();
			const s = performance.now();
			await w.start();
			await new Promise<void>((resolve) => {
				const iv = setInterval(() => {
					if (w.stats.trades >= N) {
						clearInterval(iv);
						resolve();
					}
				}, 5);
			});
			const ms = performance.now() - s;
			const cpu = process.cpuUsage(cpu0);
			await w.stop();
			// A finished benchmark's durable consumers must not stay on the server.
			await log.deleteSubscription(subscription, TICK_TOPIC_PATTERNS);
			if (w.stats.insertedTrades !== expectInserted) throw new Error(`expected ${expectInserted} inserted, got ${w.stats.insertedTrades}`);
			return { ms, cpuMs: (cpu.user + cpu.system) / 1000, stats: w.stats };
		};

		const writerRun = async (i: number) => {
			await reset(db.pool);
			const r = await writer(`bench-writer-${i}`, N);
			if ((await count(db.pool)) !== N) throw new Error("the writer stored a wrong row count");
			return r;
		};

		const copyRates: number[] = [];
		const writerRates: number[] = [];
		const ratios: number[] = [];
		const writerCpuMs: number[] = [];
		const binaryRatios: number[] = [];
		// Rehearsal, not counted (as in the klines and backfill benches): the writer is a long-running service, and its
		// first drain after start also pays for compiling its hot code. Its figures are reported beside the runs.
		const rehearsal = await writerRun(-1);
		console.error(`rehearsal (not counted): tick-writer ${seconds(rehearsal.ms)} (${fmt(N / (rehearsal.ms / 1000))} rows/s, ${fmt(rehearsal.cpuMs)} ms CPU in this process)`);
		for (let i = 0; i < RUNS; i++) {
			// Alternate the order so neither side always gets the warmer (or colder) database.
			let copyMs: number;
			let w: { ms: number; cpuMs: number; stats: TickWriterStats };
			if (i % 2 === 0) {
				copyMs = await rawCopy();
				w = await writerRun(i);
			} else {
				w = await writerRun(i);
				copyMs = await rawCopy();
			}
			const binaryMs = await rawBinaryCopy();
			binaryRatios.push(binaryMs / w.ms);
			copyRates.push(N / (copyMs / 1000));
			writerRates.push(N / (w.ms / 1000));
			ratios.push(copyMs / w.ms);
			writerCpuMs.push(w.cpuMs);
			console.error(
				`run ${i + 1}/${RUNS}: raw COPY ${seconds(copyMs)} (${fmt(N / (copyMs / 1000))} rows/s), tick-writer ${seconds(w.ms)} (${fmt(N / (w.ms / 1000))} rows/s, ${w.stats.batches} batches, ${fmt(w.cpuMs)} ms CPU in this process), ratio ${(copyMs / w.ms).toFixed(3)}; raw binary COPY ${seconds(binaryMs)}, ratio to it ${(binaryMs / w.ms).toFixed(3)}`,
			);
		}

		// The table holds the last run's rows (or raw COPY's, the same rows): a redelivery of everything must add none.
		if ((await count(db.pool)) !== N) {
			await reset(db.pool);
			await writer("bench-writer-fill", N);
		}
		const again = await writer("bench-writer-redelivery", 0);
		const after = await count(db.pool);
		console.error(`redelivery of all ${fmt(N)}: ${seconds(again.ms)}, ${again.stats.duplicates} duplicates skipped, rows after ${after}`);
		if (after !== N) throw new Error("redelivery changed the row count");

		report({
			bench: "tick-writer",
			ratio: median(ratios),
			goal: 0.9,
			better: "higher",
			figure: `${fmt(median(writerRates))} rows/s`,
			baseline: `raw keyed COPY ${fmt(median(copyRates))} rows/s`,
			trades: N,
			runs: RUNS,
			ratios: ratios.map((r) => Number(r.toFixed(3))),
			writer_rows_per_s: writerRates.map(Math.round),
			copy_rows_per_s: copyRates.map(Math.round),
			// not the goal: the same rows by raw binary COPY (the writer sends verbatim lines as binary COPY)
			ratio_vs_binary_copy: Number(median(binaryRatios).toFixed(3)),
			writer_process_cpu_ms: writerCpuMs.map(Math.round),
			rehearsal: { writer_ms: Math.round(rehearsal.ms), writer_process_cpu_ms: Math.round(rehearsal.cpuMs) },
			redelivery_ms: Math.round(again.ms),
			redelivery_rows_added: 0,
		});
	} finally {
		await log.close();
		await deleteStream(stream);
		await db.drop();
	}
}

main().catch((err) => {
	console.error(err);
	process.exit(1);
});
