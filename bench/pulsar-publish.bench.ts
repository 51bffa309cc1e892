/**
 * Publish throughput of the Pulsar WebSocket driver (batching on, LZ4 asked for, pipelined acks) against
 * the fake broker of test/helpers/pulsar-ws-server.ts running in a child process, as a ratio to the
 * JetStream driver publishing the same payloads to the machine's NATS in the same run.
 *   npm run bench:pulsar [-- --small 100000 --trades 1000000]
 *
 * The fake broker stores in memory and does no compression or replication, so this measures the
 * driver and the WebSocket protocol (JSON + base64 per message), not a real broker.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { JetStreamLog } from "../lib/log/jetstream";
import { PulsarWsLog } from "../lib/log/pulsar/websocket";
import type { MarketLog } from "../lib/log/types";
import { deleteStream } from "../test/helpers/nats";
import { FakePulsar } from "../test/helpers/pulsar-ws-server";
import { logBenchPayloads } from "./common";

const arg = (name: string, dflt: number) => {
	const i = process.argv.indexOf(`--${name}`);
	return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const SMALL = arg("small", 100_000);
const TRADES = arg("trades", 1_000_000);
const PER_MESSAGE = 100;
const SERVERS = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const quiet = { info: () => undefined, warn: (m: string) => console.warn(m), error: (m: string) => console.error(m) };

/** The fake broker in its own process, so it does not share this event loop with the driver. */
async function serveFake(): Promise<void> {
	const f = await FakePulsar.start({ deduplication: true });
	console.log(`FAKE_PORT ${f.port}`);
	process.on("SIGTERM", () => void f.close().then(() => process.exit(0)));
}

function startFake(): Promise<{ proc: ChildProcess; url: string }> {
	const proc = spawn(process.execPath, ["--import", "tsx", __filename, "--serve-fake"], { stdio: ["ignore", "pipe", "inherit"] });
	return new Promise((resolve, reject) => {
		let out = "";
		proc.stdout!.on("data", (b: Buffer) => {
			out += b.toString();
			const m = /FAKE_PORT (\d+)/.exec(out);
			if (m) resolve({ proc, url: `ws://127.0.0.1:${m[1]}` });
		});
		proc.once("exit", (code) => reject(new Error(`fake broker exited (${code})`)));
	});
}

async function publishAll(log: MarketLog, topic: string, payloads: Uint8Array[], batch: number, keys = 1): Promise<number> {
	const t0 = performance.now();
	// `keys` symbols publish concurrently, each in order, as several venue streams would
	await Promise.all(
		Array.from({ length: keys }, async (_, k) => {
			for (let i = k * batch; i < payloads.length; i += batch * keys) await log.publish(topic, `K${k}`, payloads.slice(i, i + batch));
		}),
	);
	return performance.now() - t0;
}

const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);
const fmt = (n: number) => `${n.toLocaleString("en")}/s`;

async function main() {
	const { small, big } = logBenchPayloads(SMALL, TRADES, PER_MESSAGE);

	const stream = `MDP_BENCH_PULSAR_${process.pid}`;
	const js = await JetStreamLog.connect({ servers: SERVERS, stream, subjectPrefix: `benchp${process.pid}.` });
	const fake = await startFake();
	const pulsar = await PulsarWsLog.connect({ url: fake.url, logger: quiet });
	const results: Record<string, { jetstream: number; pulsar: number; ratio: number }> = {};
	try {
		const cases: [string, Uint8Array[], number, number][] = [
			["64B_batches_of_1000", small, 1_000, 1],
			["64B_batches_of_10_x4_keys", small.slice(0, 40_000), 10, 4],
			[`${PER_MESSAGE}trade_msgs_batches_of_100`, big, 100, 1],
		];
		for (const [name, payloads, batch, keys] of cases) {
			const topic = `market-data/bench/${name.toLowerCase()}/x/y/trades`;
			// warm up both (connections, producers, JIT), then measure
			await publishAll(js, topic, payloads.slice(0, 2_000), batch, keys);
			await publishAll(pulsar, topic, payloads.slice(0, 2_000), batch, keys);
			const jsRate = rate(payloads.length, await publishAll(js, topic, payloads, batch, keys));
			const plRate = rate(payloads.length, await publishAll(pulsar, topic, payloads, batch, keys));
			results[name] = { jetstream: jsRate, pulsar: plRate, ratio: Number((plRate / jsRate).toFixed(3)) };
			console.log(`${name.padEnd(32)} JetStream ${fmt(jsRate).padStart(12)}   Pulsar WS ${fmt(plRate).padStart(12)}   ratio ${(plRate / jsRate).toFixed(2)}`);
		}
	} finally {
		await pulsar.close();
		await js.close();
		await deleteStream(stream, SERVERS);
		fake.proc.kill("SIGTERM");
	}
	const trades = results[`${PER_MESSAGE}trade_msgs_batches_of_100`];
	console.log(
		JSON.stringify({
			bench: "pulsar-publish",
			baseline: "jetstream driver, same payloads, same run",
			cases: results,
			pulsar_ws_trades_per_s: trades.pulsar * PER_MESSAGE,
			jetstream_trades_per_s: trades.jetstream * PER_MESSAGE,
			ratio: trades.ratio,
		}),
	);
}

if (process.argv.includes("--serve-fake")) void serveFake();
else
	main().catch((e) => {
		console.error(e);
		process.exit(1);
	});
