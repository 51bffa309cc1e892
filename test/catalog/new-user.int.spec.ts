import { freshDatabase, waitFor, type TestDb } from "../helpers/db";
import { FakeKraken } from "../helpers/fake-kraken";
import { freePort, getJson } from "../helpers/net";
import { startService, type Child } from "../helpers/proc";

/**
 * The new-user path as a process: `npm start` (every service), then one POST adds ETH-USD on Kraken, and
 * the pair is live (subscribed, its trades served) with history requested behind it. Kraken is the fake
 * v2 socket and REST with the real AssetPairs; the other venues are pointed at a closed port (no internet).
 */
describe("npm start + POST /api/symbols", () => {
	let db: TestDb;
	let kraken: FakeKraken;
	let child: Child | null = null;

	beforeAll(async () => {
		db = await freshDatabase("catalog_newuser");
		kraken = await new FakeKraken().start();
		kraken.heartbeatMs = 200;
	});
	afterAll(async () => {
		await child?.kill("SIGTERM");
		await kraken?.stop();
		await db?.drop();
	});

	it("makes the pair live, with its history requested", async () => {
		const port = await freePort();
		const dead = `http://127.0.0.1:${await freePort()}`;
		child = startService({
			DATABASE_URL: db.url,
			PORT: String(port),
			METRICS_PORT: "0",
			TRANSPORTER: "",
			REDIS_URL: "",
			MARKET_LOG: "",
			SERVICES: "",
			NAMESPACE: `newuser${process.pid}`,
			KRAKEN_WS_URL: kraken.url,
			KRAKEN_REST_URL: kraken.rest.url,
			BINANCE_REST_URL: dead,
			BINANCE_USDM_REST_URL: dead,
			BINANCE_COINM_REST_URL: dead,
			DUKASCOPY_META_URL: `${dead}/meta.json`,
			DUKASCOPY_URL: dead,
			KRAKEN_HISTORY_LIVE_MARGIN_MS: "0",
		});
		await child.waitForOutput(/pipeline up: services=/, 60_000);
		const api = `http://127.0.0.1:${port}/api`;
		const res = await fetch(`${api}/symbols`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ venue: "kraken", symbol: "ETH-USD-SPOT" }) });
		expect(res.status).toBe(201);
		expect(await res.json()).toMatchObject({ venue: "kraken", venueSymbol: "ETH/USD", symbol: "ETH-USD-SPOT", active: true, pricePrecision: expect.any(Number) });
		await waitFor(() => kraken.subscribed("trade", "ETH/USD") && kraken.subscribed("book", "ETH/USD"), { what: "ETH/USD subscribed" });
		await waitFor(() => kraken.rest.requests.some((r) => r.path === "/0/public/Trades" && /ETH/.test(r.query.pair ?? "")), { what: "ETH/USD history requested" });
		const rows = kraken.emitTradesOn("ETH/USD", 3);
		const from = new Date(Date.now() - 3_600_000).toISOString();
		await waitFor(async () => {
			const t = await getJson(`${api}/trades?venue=kraken&symbol=ETH-USD-SPOT&from=${from}`);
			return t.status === 200 && t.body.items.length >= rows.length;
		}, { what: "ETH/USD trades served" });
	}, 90_000);
});
