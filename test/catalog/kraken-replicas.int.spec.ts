import { startPipeline, type Pipeline } from "../../bin/pipeline";
import { loadConfig } from "../../lib/config";
import { freshDatabase, waitFor, type TestDb } from "../helpers/db";
import { FakeKraken } from "../helpers/fake-kraken";

/**
 * Two kraken-stream replicas on one database and one Redis: one streams the catalog's active pairs under
 * the lease, the other waits; when the streaming one dies, the other takes every pair over.
 */
describe("kraken-stream replicas (Redis lease, catalog pairs)", () => {
	let db: TestDb;
	let kraken: FakeKraken;
	const replicas: (Pipeline | null)[] = [null, null];
	const ns = `krrep${process.pid}${Date.now().toString(36)}`;

	const start = (i: number) =>
		startPipeline(
			loadConfig({
				DATABASE_URL: db.url,
				MARKET_LOG: "memory",
				SERVICES: "kraken-stream",
				METRICS_PORT: "0",
				LOG_LEVEL: "error",
				NODE_ID: `${ns}-${i}`,
				NAMESPACE: ns,
				REDIS_URL: "redis://127.0.0.1:6379",
				LEASE_TTL_MS: "1000",
				KRAKEN_WS_URL: kraken.url,
				KRAKEN_REST_URL: kraken.rest.url,
				KRAKEN_SYMBOLS: "BTC/USD,XMR/USD",
			}),
		);

	const streaming = async (p: Pipeline) => ((await p.broker.call("kraken-stream.stats")) as unknown) !== null;

	beforeAll(async () => {
		db = await freshDatabase("kraken_replicas");
		kraken = await new FakeKraken().start();
		kraken.heartbeatMs = 200;
	});

	afterAll(async () => {
		for (const p of replicas) await p?.stop();
		await kraken?.stop();
		await db?.drop();
	});

	it("streams each pair once, and the survivor takes them all over", async () => {
		replicas[0] = await start(0);
		replicas[1] = await start(1);
		await waitFor(() => kraken.subscribed("trade", "BTC/USD") && kraken.subscribed("trade", "XMR/USD"), { what: "pairs subscribed" });
		const states = await Promise.all(replicas.map((p) => streaming(p!)));
		expect(states.filter(Boolean)).toHaveLength(1); // exactly one streamer
		expect(kraken.requests.filter((r) => r.msg.method === "subscribe" && r.msg.params?.channel === "trade").flatMap((r) => r.msg.params.symbol)).toEqual(["BTC/USD", "XMR/USD"]);
		// the seed ran once: both replicas read the same catalog
		expect((await db.pool.query("SELECT venue_symbol FROM symbols WHERE venue = 'kraken' AND active ORDER BY 1")).rows.map((r) => r.venue_symbol)).toEqual(["BTC/USD", "XMR/USD"]);
		const leader = states.indexOf(true);
		const other = 1 - leader;
		const conns = kraken.connections;
		await replicas[leader]!.stop();
		replicas[leader] = null;
		await waitFor(async () => (await streaming(replicas[other]!)) && kraken.connections > conns && kraken.subscribed("trade", "BTC/USD") && kraken.subscribed("trade", "XMR/USD"), { what: "the survivor streams both pairs", timeoutMs: 20_000 });
	}, 60_000);
});
