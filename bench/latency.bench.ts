/**
 * Trade published -> visible in all six timeframes through the API, at 1,000 trades/s, on the real
 * stack (JetStream log, tick-writer, PostgreSQL, cascade with a Redis lease, moleculer-web API).
 * A trade counts as visible in a timeframe when the API's candles of that timeframe hold at least as
 * many trades as were published up to and including it; its latency is the worst of the six, taken
 * when the poll's response arrived (so polling adds to, never hides, latency). The baseline is the
 * seeds' refresh period (30 s), stated, and the goal is p99 < 2 s.
 *   npm run bench:latency [-- --seconds 30 --rate 1000]
 */
import { deleteStream } from "../test/helpers/nats";
import { loadConfig } from "../lib/config";
import { encodeEnvelope, tradeEnvelope } from "../lib/domain/codec";
import { TIMEFRAMES } from "../lib/domain/timeframes";
import type { TradeItem } from "../lib/domain/types";
import { createMarketLog } from "../lib/log";
import { startPipeline } from "../bin/pipeline";
import { benchDatabase, percentile } from "./common";

const arg = (name: string, def: number) => {
	const i = process.argv.indexOf(name);
	return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const SECONDS = arg("--seconds", 30);
const RATE = arg("--rate", 1000);
const TICK_MS = 10; // publish RATE/100 trades every 10 ms

async function main() {
	const db = await benchDatabase("latency");
	const stream = `MDP_LAT_${process.pid}`;
	const port = 39000 + (process.pid % 1000);
	const config = loadConfig({
		DATABASE_URL: db.url,
		SERVICES: "tick-writer,cascade-refresher,api", // the bench is the only producer
		MARKET_LOG: "jetstream",
		MARKET_LOG_STREAM: stream,
		MARKET_LOG_SUBJECT_PREFIX: stream.toLowerCase() + ".",
		REDIS_URL: "redis://127.0.0.1:6379",
		PORT: String(port),
		METRICS_PORT: "0",
		NAMESPACE: `lat${process.pid}`,
		LOG_LEVEL: "warn",
	});
	const p = await startPipeline(config);
	const log = await createMarketLog({ driver: "jetstream", stream, subjectPrefix: stream.toLowerCase() + "." });
	const base = `http://127.0.0.1:${port}/api/candles?venue=kraken&symbol=BTC-USD-SPOT&price=trade`;
	const publishedAt: number[] = [];
	const visibleAt: number[][] = TIMEFRAMES.map(() => []); // per timeframe: time when count first reached k
	let publishing = true;
	const t0 = Date.now();
	try {
		const publisher = (async () => {
			const perTick = Math.max(1, Math.round((RATE * TICK_MS) / 1000));
			let id = 1;
			let next = Date.now();
			while (Date.now() - t0 < SECONDS * 1000) {
				const now = Date.now();
				const items: TradeItem[] = [];
				for (let i = 0; i < perTick; i++, id++) {
					const time = new Date(now).toISOString();
					items.push({ tradeId: String(id), side: "buy", price: (40000 + (id % 1000) / 100).toFixed(2), qty: "0.01", time, recvTime: time });
				}
				const sentAt = Date.now();
				await log.publish("market-data/crypto/raw/kraken/btcusd/trades", "BTC-USD-SPOT", [encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", items))]);
				for (let i = 0; i < items.length; i++) publishedAt.push(sentAt);
				next += TICK_MS;
				const wait = next - Date.now();
				if (wait > 0) await new Promise((r) => setTimeout(r, wait));
			}
			publishing = false;
		})();

		// from the start of the 12h bucket holding t0, so every open bucket of every timeframe starts inside the range
		const from = new Date(Math.floor(t0 / 43_200_000) * 43_200_000).toISOString();
		const poller = (async () => {
			const counts = TIMEFRAMES.map(() => 0);
			while (publishing || counts.some((c) => c < publishedAt.length)) {
				const to = new Date(Date.now() + 60_000).toISOString();
				const res = await Promise.all(TIMEFRAMES.map((tf) => fetch(`${base}&timeframe=${tf}&from=${from}&to=${to}`).then((r) => r.json() as Promise<{ trades: number }[]>)));
				const at = Date.now();
				res.forEach((candles, i) => {
					const n = candles.reduce((a, c) => a + c.trades, 0);
					while (counts[i] < n) visibleAt[i][counts[i]++] = at;
				});
				if (!publishing && Date.now() - t0 > SECONDS * 1000 + 30_000) throw new Error(`not all trades became visible: ${counts} of ${publishedAt.length}`);
			}
		})();
		await publisher;
		await poller;

		const lat = publishedAt.map((p, k) => Math.max(...visibleAt.map((v) => v[k])) - p).sort((a, b) => a - b);
		const p50 = percentile(lat, 50);
		const p99 = percentile(lat, 99);
		console.log(`${publishedAt.length} trades at ${RATE}/s for ${SECONDS} s; publish -> visible in all six timeframes: p50 ${p50} ms, p99 ${p99} ms, max ${lat[lat.length - 1]} ms`);
		console.log(JSON.stringify({ bench: "latency", trades: publishedAt.length, rate_per_s: RATE, p50_ms: p50, p99_ms: p99, max_ms: lat[lat.length - 1], baseline_seeds_refresh_ms: 30_000, ratio_p99_vs_seeds: Number((p99 / 30_000).toFixed(4)), goal: "p99 < 2000 ms" }));
	} finally {
		await log.close();
		await p.stop();
		await deleteStream(stream);
		await db.drop();
	}
}

main().catch((err) => {
	console.error(err);
	process.exit(1);
});
