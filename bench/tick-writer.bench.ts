/**
 * tick-writer throughput: 1,000,000 trades from the JetStream log to committed rows, divided by raw
 * COPY of the same rows into the same (empty, primary-keyed) table in the same run. Then a full
 * redelivery of the same million through a fresh subscription: it must add no row.
 *   npm run bench:writer [-- --trades 1000000]
 */
import { TICK_TOPIC_PATTERNS } from "../lib/domain/topics";
import { deleteStream } from "../test/helpers/nats";
import { decodeWire, encodeEnvelope, tradeEnvelope } from "../lib/domain/codec";
import { JetStreamLog } from "../lib/log/jetstream";
import { copyInto, TRADE_COLUMNS } from "../lib/writer/copy";
import { TickWriter } from "../lib/writer/tick-writer";
import { makeTrades } from "../test/helpers/trades";
import { benchDatabase, seconds } from "./common";

const N = Number(process.argv[process.argv.indexOf("--trades") + 1] || 1_000_000) || 1_000_000;
const PER_MESSAGE = 100;
const PULL = Number(process.argv[process.argv.indexOf("--pull") + 1] || 0) || undefined;
const TOPIC = "market-data/crypto/raw/kraken/btcusd/trades";

async function main() {
	const db = await benchDatabase("writer");
	const stream = `MDP_BENCH_${process.pid}`;
	const log = await JetStreamLog.connect({ stream, subjectPrefix: stream.toLowerCase() + "." });
	try {
		const items = makeTrades(N, Date.parse("2024-01-01T00:00:00Z"), 30 * 86_400_000, 11);
		const payloads = [];
		for (let i = 0; i < items.length; i += PER_MESSAGE) payloads.push(encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", items.slice(i, i + PER_MESSAGE))));

		// Baseline: raw COPY of the same rows into the same table, one stream, one transaction
		// (the COPY text is prepared before the clock starts).
		const rows = payloads.map((p) => decodeWire(p).copy);
		const c = await db.pool.connect();
		const t0 = performance.now();
		await c.query("BEGIN");
		await copyInto(c, "trades", TRADE_COLUMNS, rows);
		await c.query("COMMIT");
		const copyMs = performance.now() - t0;
		c.release();
		await db.pool.query("TRUNCATE trades, dirty_buckets");
		await db.pool.query("VACUUM ANALYZE trades");
		console.log(`raw COPY of ${N} trades: ${seconds(copyMs)} (${Math.round(N / (copyMs / 1000))} rows/s)`);

		// Fill the log first so the measurement is the consumer side: log -> decode -> COPY -> commit -> ack.
		const tp = performance.now();
		for (let i = 0; i < payloads.length; i += 1000) await log.publish(TOPIC, "BTC-USD-SPOT", payloads.slice(i, i + 1000));
		const publishMs = performance.now() - tp;
		console.log(`published ${payloads.length} messages (${N} trades) to JetStream in ${seconds(publishMs)}`);

		const run = async (subscription: string, expectInserted: number) => {
			const w = new TickWriter({ pool: db.pool, log, subscription, ackTimeoutMs: 60_000, pullMax: PULL });
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
			await w.stop();
			// A finished benchmark's durable consumers must not stay on the server.
			await log.deleteSubscription(subscription, TICK_TOPIC_PATTERNS);
			if (w.stats.insertedTrades !== expectInserted) throw new Error(`expected ${expectInserted} inserted, got ${w.stats.insertedTrades}`);
			return { ms, stats: w.stats };
		};

		const first = await run("bench-writer", N);
		const count1 = Number((await db.pool.query("SELECT count(*) AS n FROM trades")).rows[0].n);
		console.log(`tick-writer: ${N} trades committed in ${seconds(first.ms)} (${Math.round(N / (first.ms / 1000))} rows/s), ${first.stats.batches} batches; table has ${count1} rows`);

		const again = await run("bench-writer-redelivery", 0);
		const count2 = Number((await db.pool.query("SELECT count(*) AS n FROM trades")).rows[0].n);
		console.log(`redelivery of all ${N}: ${seconds(again.ms)}, ${again.stats.duplicates} duplicates skipped, rows before ${count1} after ${count2}`);
		if (count1 !== N || count2 !== N) throw new Error("row count is wrong");

		const ratio = copyMs / first.ms;
		console.log(
			JSON.stringify({
				bench: "tick-writer",
				trades: N,
				copy_ms: Math.round(copyMs),
				writer_ms: Math.round(first.ms),
				ratio_vs_copy: Number(ratio.toFixed(3)),
				goal: ">= 0.8",
				redelivery_ms: Math.round(again.ms),
				redelivery_rows_added: count2 - count1,
			}),
		);
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
