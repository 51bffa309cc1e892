// The live streams across nodes: the api runs in one broker, the tick-writer and the cascade in another, joined
// by NATS; trades go through JetStream. A trade published to the log reaches an SSE client of the other node.
import { loadConfig } from "../../lib/config";
import { encodeEnvelope, tradeEnvelope } from "../../lib/domain/codec";
import { createMarketLog, type MarketLog } from "../../lib/log";
import { startPipeline, type Pipeline } from "../../bin/pipeline";
import { freshDatabase, type TestDb } from "../helpers/db";
import { deleteStream } from "../helpers/nats";
import { freePort } from "../helpers/net";

const TOPIC = "market-data/crypto/raw/kraken/btcusd/trades";

/** Reads an SSE response into parsed events, on demand. */
function sseReader(res: Response) {
	const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
	let buf = "";
	let pending: ReturnType<typeof reader.read> | null = null;
	const events: { event: string; id?: string; data: any }[] = [];
	return {
		events,
		/** Read until an event satisfies `pred` (or the deadline passes). */
		async until(pred: (e: { event: string; id?: string; data: any }) => boolean, what: string, timeoutMs = 20_000) {
			const deadline = Date.now() + timeoutMs;
			for (;;) {
				const found = events.find(pred);
				if (found) return found;
				if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(events)}`);
				// a read that loses the race stays pending and is awaited next time: no chunk is dropped
				pending ??= reader.read();
				const chunk = await Promise.race([pending, new Promise<null>((r) => setTimeout(() => r(null), 500))]);
				if (!chunk) continue;
				pending = null;
				if (chunk.done) throw new Error(`stream ended before ${what}`);
				buf += chunk.value;
				let i;
				while ((i = buf.indexOf("\n\n")) >= 0) {
					const frame = buf.slice(0, i);
					buf = buf.slice(i + 2);
					const e: { event: string; id?: string; data: any } = { event: "message", data: null };
					for (const l of frame.split("\n")) {
						if (l.startsWith("event: ")) e.event = l.slice(7);
						else if (l.startsWith("id: ")) e.id = l.slice(4);
						else if (l.startsWith("data: ")) e.data = JSON.parse(l.slice(6));
					}
					if (e.data !== null) events.push(e);
				}
			}
		},
		close: () => reader.cancel(),
	};
}

describe("live streams across nodes (NATS transporter, JetStream log)", () => {
	let db: TestDb;
	let writerNode: Pipeline;
	let apiNode: Pipeline;
	let pub: MarketLog;
	let base: string;
	const stream = `MDP_LIVE_${process.pid}_${Date.now().toString(36)}`.toUpperCase();

	beforeAll(async () => {
		db = await freshDatabase("live_nodes");
		const port = await freePort();
		const common = {
			DATABASE_URL: db.url,
			MARKET_LOG: "jetstream",
			MARKET_LOG_STREAM: stream,
			MARKET_LOG_SUBJECT_PREFIX: stream.toLowerCase() + ".",
			TRANSPORTER: "nats://127.0.0.1:4222",
			REDIS_URL: "redis://127.0.0.1:6379",
			NAMESPACE: `live${process.pid}`,
			METRICS_PORT: "0",
			CASCADE_INTERVAL_MS: "200",
			LOG_LEVEL: "warn",
		};
		writerNode = await startPipeline(loadConfig({ ...common, SERVICES: "tick-writer,cascade-refresher", NODE_ID: `live-writer-${process.pid}` }));
		apiNode = await startPipeline(loadConfig({ ...common, SERVICES: "api", PORT: String(port), NODE_ID: `live-api-${process.pid}`, MIGRATE_ON_START: "false" }));
		pub = await createMarketLog({ driver: "jetstream", stream, subjectPrefix: stream.toLowerCase() + "." });
		base = `http://127.0.0.1:${port}/api`;
		// each node must know the other (the writer emits only to nodes it knows listen) before the test publishes
		await apiNode.broker.waitForServices(["tick-writer", "cascade-refresher"], 20_000);
		await writerNode.broker.waitForServices(["api"], 20_000);
	}, 60_000);

	afterAll(async () => {
		await pub?.close();
		await apiNode?.stop();
		await writerNode?.stop();
		await deleteStream(stream);
		await db?.drop();
	});

	it("moves the open candle and streams the trade on the api node", async () => {
		const candles = sseReader(await fetch(`${base}/stream/candles?venue=kraken&symbol=BTC-USD-SPOT&timeframe=1m`));
		const trades = sseReader(await fetch(`${base}/stream/trades?venue=kraken&symbol=BTC-USD-SPOT`));
		try {
			await candles.until((e) => e.event === "hello", "candles hello");
			await trades.until((e) => e.event === "hello", "trades hello");
			const now = new Date().toISOString();
			await pub.publish(TOPIC, "BTC-USD-SPOT", [encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", [{ tradeId: "4242", side: "buy", price: "43210.98", qty: "0.125", time: now, recvTime: now }]))]);
			const c = await candles.until((e) => e.event === "candle" && e.data.close === "43210.98", "the open candle with the trade");
			expect(c.id).toBe(new Date(Math.floor(Date.parse(now) / 60_000) * 60_000).toISOString());
			expect(c.data).toMatchObject({ time: c.id, close: "43210.98", trades: 1 });
			const t = await trades.until((e) => e.event === "trade", "the trade");
			expect(t.data).toMatchObject({ tradeId: "4242", price: "43210.98", qty: "0.125", side: "buy" });
			expect(t.id).toBe(`${t.data.time}/4242`);
		} finally {
			await candles.close();
			await trades.close();
		}
	});

	it("answers a bad subscription with 400 naming the parameter", async () => {
		const r = await fetch(`${base}/stream/candles?venue=kraken&symbol=BTC-USD-SPOT&timeframe=2h`);
		expect(r.status).toBe(400);
		expect(((await r.json()) as { data: unknown }).data).toEqual({ param: "timeframe" });
	});
});
