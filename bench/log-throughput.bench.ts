/**
 * Market-log throughput: publish (acked by the log) and pull+ack, in messages per second, for JetStream
 * (against the nats.js JetStream client publishing the same messages pipelined, measured in the same run)
 * and for the in-memory log.
 *   npm exec -- tsx bench/log-throughput.bench.ts [-- --small 200000 --trades 1000000]
 */
import { connect } from "nats";
import { JetStreamLog } from "../lib/log/jetstream";
import { MemoryLog } from "../lib/log/memory";
import type { MarketLog } from "../lib/log/types";
import { logBenchPayloads } from "./common";

const arg = (name: string, dflt: number) => {
	const i = process.argv.indexOf(`--${name}`);
	return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const SMALL = arg("small", 200_000);
const TRADES = arg("trades", 1_000_000);
const PER_MESSAGE = 100;
const SERVERS = process.env.NATS_URL ?? "nats://127.0.0.1:4222";

const rate = (n: number, ms: number) => `${Math.round((n / ms) * 1000).toLocaleString("en")}/s`;

async function publishAll(log: MarketLog, topic: string, payloads: Uint8Array[], batch: number): Promise<number> {
	const t0 = performance.now();
	for (let i = 0; i < payloads.length; i += batch) await log.publish(topic, "BTC-USD-SPOT", payloads.slice(i, i + batch));
	return performance.now() - t0;
}

async function consumeAll(log: MarketLog, sub: string, topic: string, n: number, consumers = 1): Promise<number> {
	const cs = await Promise.all(Array.from({ length: consumers }, () => log.consumer({ subscription: sub, topics: [topic], maxInFlight: 10_000 })));
	let got = 0;
	let ms = 0;
	const t0 = performance.now();
	await Promise.all(
		cs.map(async (c) => {
			while (got < n) {
				const ds = await c.pull(1_000, 2_000);
				if (!ds.length) break;
				got += ds.length;
				await c.ack(ds);
				// the clock stops at the last ack, not when the other consumers' empty pulls time out
				if (got >= n) ms = performance.now() - t0;
			}
		}),
	);
	for (const c of cs) await c.close();
	// A finished benchmark's durable consumers must not stay on the server.
	await log.deleteSubscription?.(sub, [topic]);
	if (got !== n) throw new Error(`consumed ${got} of ${n}`);
	return ms;
}

async function main() {
	const { small, big, bigBytes } = logBenchPayloads(SMALL, TRADES, PER_MESSAGE);

	const stream = `MDP_BENCH_LOG_${process.pid}`;
	const prefix = `bench${process.pid}.`;
	const log = await JetStreamLog.connect({ servers: SERVERS, stream, subjectPrefix: prefix });
	const nc = await connect({ servers: SERVERS, noAsyncTraces: true });
	try {
		// Baseline: the nats.js JetStream client, 1,000 publishes in flight at a time.
		const js = nc.jetstream();
		const baseN = Math.min(SMALL, 50_000);
		let t0 = performance.now();
		for (let i = 0; i < baseN; i += 1_000) {
			await Promise.all(small.slice(i, i + 1_000).map((p) => js.publish(`${prefix}market-data.bench.baseline`, p)));
		}
		const baseMs = performance.now() - t0;
		console.log(`nats.js js.publish, 1000 in flight:       ${rate(baseN, baseMs)}`);

		const smallTopic = "market-data/bench/small/x/y/trades";
		const pubSmall = await publishAll(log, smallTopic, small, 1_000);
		console.log(`JetStreamLog publish 64 B, batches of 1000: ${rate(SMALL, pubSmall)}  (x${((SMALL / pubSmall) / (baseN / baseMs)).toFixed(1)} the baseline)`);
		const pubSmall10 = await publishAll(log, smallTopic, small.slice(0, 20_000), 10);
		console.log(`JetStreamLog publish 64 B, batches of 10:   ${rate(20_000, pubSmall10)}`);
		const conSmall = await consumeAll(log, "bench-small", smallTopic, SMALL + 20_000);
		console.log(`JetStreamLog pull(1000)+ack 64 B:           ${rate(SMALL + 20_000, conSmall)}`);
		const conSmall2 = await consumeAll(log, "bench-small-2", smallTopic, SMALL + 20_000, 2);
		console.log(`  same, 2 consumers on one subscription:    ${rate(SMALL + 20_000, conSmall2)}`);

		const bigTopic = "market-data/bench/trades/kraken/btcusd/trades";
		const pubBig = await publishAll(log, bigTopic, big, 100);
		console.log(`JetStreamLog publish ${PER_MESSAGE}-trade msgs:        ${rate(big.length, pubBig)} = ${rate(TRADES, pubBig)} trades, ${((bigBytes / pubBig) * 1000 / 1e6).toFixed(0)} MB/s`);
		const conBig = await consumeAll(log, "bench-big", bigTopic, big.length);
		console.log(`JetStreamLog pull(1000)+ack ${PER_MESSAGE}-trade msgs: ${rate(big.length, conBig)} = ${rate(TRADES, conBig)} trades`);
	} finally {
		await log.close();
		await (await nc.jetstreamManager()).streams.delete(stream).catch(() => undefined);
		await nc.close();
	}

	const mem = new MemoryLog();
	const memN = 1_000_000;
	const memPayloads = Array.from({ length: memN }, (_, i) => small[i % small.length]);
	const t1 = performance.now();
	const pubMem = await publishAll(mem, "market-data/bench/mem/x/y/trades", memPayloads, 1_000);
	const conMem = await consumeAll(mem, "bench-mem", "market-data/bench/mem/>", memN);
	console.log(`MemoryLog 1,000,000 x 64 B: publish ${rate(memN, pubMem)}, pull+ack ${rate(memN, conMem)}, total ${((performance.now() - t1) / 1000).toFixed(2)} s`);
	await mem.close();
}

main().catch((e) => {
	console.error(e);
	process.exit(1);
});
