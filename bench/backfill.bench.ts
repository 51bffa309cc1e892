/**
 * Dukascopy backfill end to end: a job of N hours (the recorded EURUSD hours served by the fake
 * datafeed over HTTP) -> dukascopy-backfill -> market-data log -> tick-writer -> committed quotes in
 * PostgreSQL, in ticks/s, divided by raw COPY of the same rows into the same (empty, primary-keyed)
 * quotes table in the same run.
 * By default the tick-writer runs in a process of its own, as deployed, fed through JetStream; with
 * `--log memory` everything (fake datafeed, backfill, tick-writer) shares one process and one log.
 *   npm run bench:backfill [-- --hours 240] [-- --log memory] [-- --concurrency 8] [-- --writer-batch 20000]
 */
import { startPipeline } from "../bin/pipeline";
import { decodeBi5Ticks } from "../lib/backfill/dukascopy/bi5";
import { getInstrument } from "../lib/backfill/dukascopy/instruments";
import { quoteItems } from "../lib/backfill/dukascopy/ticks";
import { createJob, getJob } from "../lib/backfill/jobs";
import { loadConfig } from "../lib/config";
import { decodeWire, encodeEnvelope, quoteEnvelope } from "../lib/domain/codec";
import { copyInto, QUOTE_COLUMNS } from "../lib/writer/copy";
import { FakeDukascopy, EURUSD_HOUR_FILES, DUKASCOPY_FIXTURES } from "../test/helpers/fake-dukascopy";
import { deleteStream } from "../test/helpers/nats";
import { startService, type Child } from "../test/helpers/proc";
import { freePort } from "../test/helpers/net";
import fs from "node:fs";
import path from "node:path";
import { benchDatabase, seconds } from "./common";

const arg = (name: string, def: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : def);
const HOURS = Number(arg("--hours", "240")) || 240;
const LOG = arg("--log", "jetstream");
const SPLIT = LOG !== "memory"; // the tick-writer in its own process
const HOUR = 3_600_000;
const FROM = Date.parse("2019-03-04T00:00:00Z");
const EURUSD = getInstrument("EURUSD");
const fileFor = (hour: number) => EURUSD_HOUR_FILES[(hour / HOUR) % 3];

async function main() {
	const db = await benchDatabase("backfill");
	const fake = await FakeDukascopy.start();
	fake.fallback = (inst, hour) => (inst === "EURUSD" ? fileFor(hour) : null);
	const stream = `MDP_BENCH_BACKFILL_${process.pid}`;
	try {
		// Baseline: the same rows as COPY text prepared before the clock starts, one COPY, one transaction.
		const files = new Map(EURUSD_HOUR_FILES.map((f) => [f, fs.readFileSync(path.join(DUKASCOPY_FIXTURES, f))]));
		const rows: string[] = [];
		let total = 0;
		for (let i = 0; i < HOURS; i++) {
			const h = FROM + i * HOUR;
			const items = quoteItems(decodeBi5Ticks(files.get(fileFor(h))!, "EURUSD", h), EURUSD, new Date().toISOString());
			total += items.length;
			for (let j = 0; j < items.length; j += 5000) rows.push(decodeWire(encodeEnvelope(quoteEnvelope("dukascopy", EURUSD.symbol, items.slice(j, j + 5000)))).copy);
		}
		const c = await db.pool.connect();
		const t0 = performance.now();
		await c.query("BEGIN");
		await copyInto(c, "quotes", QUOTE_COLUMNS, rows);
		await c.query("COMMIT");
		const copyMs = performance.now() - t0;
		c.release();
		await db.pool.query("TRUNCATE quotes, dirty_buckets");
		await db.pool.query("VACUUM ANALYZE quotes");
		console.log(`raw COPY of ${total} quotes (${HOURS} hours): ${seconds(copyMs)} (${Math.round(total / (copyMs / 1000))} rows/s)`);

		const common = {
			DATABASE_URL: db.url,
			MARKET_LOG: LOG,
			MARKET_LOG_STREAM: stream,
			MARKET_LOG_SUBJECT_PREFIX: stream.toLowerCase() + ".",
			METRICS_PORT: "0",
			MIGRATE_ON_START: "false",
			WRITER_BATCH_ROWS: arg("--writer-batch", "20000"),
			LOG_LEVEL: "warn",
		};
		let writer: Child | null = null;
		if (SPLIT) {
			writer = startService({ ...common, SERVICES: "tick-writer", LOG_LEVEL: "info" });
			await writer.waitForOutput(/pipeline up/);
		}
		const p = await startPipeline(
			loadConfig({
				...common,
				SERVICES: SPLIT ? "dukascopy-backfill" : "tick-writer,dukascopy-backfill",
				PORT: String(await freePort()),
				DUKASCOPY_URL: fake.datafeedUrl,
				BACKFILL_CONCURRENCY: arg("--concurrency", "8"),
				BACKFILL_RATE_PER_SEC: "10000",
			}),
		);
		try {
			const stored = async () =>
				SPLIT ? Number((await db.pool.query("SELECT count(*) AS n FROM quotes")).rows[0].n) : ((await p.broker.call("tick-writer.stats")) as { insertedQuotes: number }).insertedQuotes;
			const s = performance.now();
			const id = await createJob(db.pool, { instrument: "EURUSD", hours: Array.from({ length: HOURS }, (_, i) => FROM + i * HOUR), from: FROM, to: FROM + HOURS * HOUR });
			let publishedMs = NaN; // every hour accepted by the log (the job is done)
			for (;;) {
				if (Number.isNaN(publishedMs) && (await getJob(db.pool, id))?.state === "done") publishedMs = performance.now() - s;
				if ((await stored()) >= total) break;
				await new Promise((r) => setTimeout(r, SPLIT ? 100 : 10));
			}
			const e2eMs = performance.now() - s;
			if (Number.isNaN(publishedMs)) publishedMs = e2eMs;
			const job = await getJob(db.pool, id);
			const n = Number((await db.pool.query("SELECT count(*) AS n FROM quotes")).rows[0].n);
			if (n !== total || job?.progress.ticks !== total) throw new Error(`expected ${total} quotes, table has ${n}, job counted ${job?.progress.ticks}`);
			console.log(`backfill end to end (${LOG} log, tick-writer in ${SPLIT ? "its own process" : "the same process"}): ${total} quotes committed in ${seconds(e2eMs)} (${Math.round(total / (e2eMs / 1000))} ticks/s); all hours accepted by the log after ${seconds(publishedMs)}`);
			const ratio = copyMs / e2eMs;
			console.log(
				JSON.stringify({
					bench: "dukascopy-backfill",
					log: LOG,
					writer_process: SPLIT ? "separate" : "same",
					hours: HOURS,
					ticks: total,
					copy_ms: Math.round(copyMs),
					backfill_ms: Math.round(e2eMs),
					published_ms: Math.round(publishedMs),
					copy_ticks_per_s: Math.round(total / (copyMs / 1000)),
					backfill_ticks_per_s: Math.round(total / (e2eMs / 1000)),
					ratio_vs_copy: Number(ratio.toFixed(3)),
				}),
			);
		} finally {
			await p.stop();
			await writer?.kill("SIGTERM");
		}
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
