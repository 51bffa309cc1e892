import path from "node:path";
import { startPipeline, type Pipeline } from "../../bin/pipeline";
import { loadConfig } from "../../lib/config";
import { freshDatabase, waitFor, type TestDb } from "../helpers/db";
import { FakeBinance } from "../helpers/fake-binance";
import { FakeKraken } from "../helpers/fake-kraken";
import { freePort, getJson } from "../helpers/net";

const DUKASCOPY_META = path.resolve(__dirname, "../../../shared/fixtures/dukascopy/meta/instrument-meta-data.json");

async function send(method: string, url: string, body?: unknown): Promise<{ status: number; body: any }> {
	const res = await fetch(url, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
	return { status: res.status, body: await res.json().catch(() => null) };
}

/**
 * The symbol catalog in the pipeline, against fake venues serving the real recorded listings (Kraken
 * AssetPairs over HTTP and the v2 socket, Binance exchangeInfo, Dukascopy's metadata file): sync, add a
 * symbol and see the stream subscribe it and its trades reach the API, remove it, restart, a broken venue.
 */
describe("symbol catalog (pipeline, PostgreSQL, fake Kraken/Binance)", () => {
	let db: TestDb;
	let kraken: FakeKraken;
	let binance: FakeBinance;
	let p: Pipeline | null = null;
	let api = "";

	async function start() {
		const port = await freePort();
		p = await startPipeline(
			loadConfig({
				DATABASE_URL: db.url,
				MARKET_LOG: "memory",
				SERVICES: "symbol-catalog,kraken-stream,tick-writer,cascade-refresher,api",
				PORT: String(port),
				METRICS_PORT: "0",
				CASCADE_INTERVAL_MS: "200",
				LOG_LEVEL: "error",
				NODE_ID: `catalog-${process.pid}-${Date.now()}`,
				NAMESPACE: `catalog${process.pid}`,
				KRAKEN_WS_URL: kraken.url,
				KRAKEN_REST_URL: kraken.rest.url,
				KRAKEN_SYMBOLS: "BTC/USD",
				BINANCE_REST_URL: binance.url,
				BINANCE_USDM_REST_URL: binance.url, // answers 404 for /fapi: that source fails, the others sync
				BINANCE_COINM_REST_URL: binance.url,
				DUKASCOPY_META_URL: DUKASCOPY_META,
				CATALOG_VENUES: "kraken,binance,dukascopy",
				CATALOG_RETRY_BASE_MS: "3600000",
			}),
		);
		api = `http://127.0.0.1:${port}/api`;
	}

	beforeAll(async () => {
		db = await freshDatabase("catalog");
		kraken = await new FakeKraken().start();
		kraken.heartbeatMs = 200;
		binance = await new FakeBinance().start();
		await start();
	}, 60_000);

	afterAll(async () => {
		await p?.stop();
		await kraken?.stop();
		await binance?.stop();
		await db?.drop();
	});

	it("syncs every venue at start; KRAKEN_SYMBOLS seeded the first start", async () => {
		await waitFor(async () => (await getJson(`${api}/symbols?venue=kraken&limit=1000`)).body.items?.length > 100, { what: "kraken synced" });
		await waitFor(async () => (await getJson(`${api}/symbols?venue=dukascopy&q=APPLE`)).body.items?.length > 0, { what: "dukascopy synced", timeoutMs: 30_000 });
		await waitFor(async () => (await getJson(`${api}/symbols?venue=binance&symbol=ETH-USDT-SPOT`)).body.items?.length === 1, { what: "binance spot synced" });
		const btc = (await getJson(`${api}/symbols?venue=kraken&symbol=BTC-USD-SPOT`)).body.items[0];
		expect(btc).toMatchObject({ venue: "kraken", venueSymbol: "BTC/USD", symbol: "BTC-USD-SPOT", assetClass: "crypto", base: "BTC", quote: "USD", type: "SPOT", tickSize: "0.1", pricePrecision: 1, qtyPrecision: 8, status: "online", active: true });
		expect((await getJson(`${api}/symbols?venue=kraken&symbol=ETH-USD-SPOT`)).body.items[0]).toMatchObject({ active: false, venueSymbol: "ETH/USD" });
		const aapl = (await getJson(`${api}/symbols?venue=dukascopy&q=APPLE`)).body.items[0];
		expect(aapl).toMatchObject({ symbol: "AAPL.US-USD-CFD", venueSymbol: "AAPLUSUSD", assetClass: "equity", description: "APPLE INC" });
		// keyset pages: two pages of 2 are the first 4
		const all = (await getJson(`${api}/symbols?venue=kraken&limit=4`)).body;
		const p1 = (await getJson(`${api}/symbols?venue=kraken&limit=2`)).body;
		const p2 = (await getJson(`${api}/symbols?venue=kraken&limit=2&cursor=${p1.nextCursor}`)).body;
		expect([...p1.items, ...p2.items].map((x: any) => x.symbol)).toEqual(all.items.map((x: any) => x.symbol));
	}, 60_000);

	it("adding ETH-USD on Kraken subscribes the running stream, and its trades reach /api/trades and /api/candles", async () => {
		const r = await send("POST", `${api}/symbols`, { venue: "kraken", symbol: "ETH-USD" });
		expect(r.status).toBe(201);
		expect(r.body).toMatchObject({ symbol: "ETH-USD-SPOT", venueSymbol: "ETH/USD", active: true });
		expect(r.body.changedAt.active).toEqual(expect.any(String));
		await waitFor(() => kraken.subscribed("trade", "ETH/USD") && kraken.subscribed("ticker", "ETH/USD") && kraken.subscribed("book", "ETH/USD"), { what: "ETH/USD subscribed" });
		expect(kraken.subscribed("trade", "BTC/USD")).toBe(true);
		const rows = kraken.emitTradesOn("ETH/USD", 5);
		const from = new Date(Date.now() - 3_600_000).toISOString();
		const trades = await waitFor(async () => {
			const t = await getJson(`${api}/trades?venue=kraken&symbol=ETH-USD-SPOT&from=${from}`);
			return t.status === 200 && t.body.items.length === 5 ? t.body.items : null;
		}, { what: "ETH/USD trades in /api/trades" });
		expect(trades.map((t: any) => t.price)).toEqual(rows.map((x) => x.price));
		// no price given: crypto candles default to trade prices
		const candles = await waitFor(async () => {
			const c = await getJson(`${api}/candles?venue=kraken&symbol=ETH-USD-SPOT&timeframe=1h&from=${from}`);
			return c.status === 200 && c.body.reduce((n: number, x: any) => n + x.trades, 0) === 5 ? c.body : null;
		}, { what: "ETH/USD candles of the 5 trades" });
		const prices = rows.map((x) => Number(x.price));
		expect(Number(candles[candles.length - 1].high)).toBeLessThanOrEqual(Math.max(...prices));
	}, 60_000);

	it("an unknown symbol gets 404 with the closest matches, on the catalog and on the reads", async () => {
		const add = await send("POST", `${api}/symbols`, { venue: "kraken", symbol: "ETH-USDX" });
		expect(add.status).toBe(404);
		expect(add.body.data.matches).toContain("ETH-USD-SPOT");
		expect(add.body.data.matches.length).toBeLessThanOrEqual(5);
		const c = await getJson(`${api}/candles?venue=kraken&symbol=btc/usd&timeframe=1m`);
		expect(c.status).toBe(404);
		expect(c.body.message).toMatch(/btc\/usd/);
		expect(c.body.data.matches).toContain("BTC-USD-SPOT");
		expect((await getJson(`${api}/trades?venue=kraken&symbol=NOPE`)).status).toBe(404);
		expect((await getJson(`${api}/quotes?venue=nowhere&symbol=BTC-USD-SPOT`)).status).toBe(404);
		// known but without data yet: an empty 200, not a 404
		const known = await getJson(`${api}/trades?venue=kraken&symbol=XMR-USD-SPOT`);
		expect(known).toMatchObject({ status: 200, body: { items: [] } });
		// ingest refuses a market the catalog does not know
		const line = JSON.stringify({ venue: "kraken", symbol: "ETH-USDX-SPOT", tradeId: "1", side: "buy", price: "1.5", qty: "2", time: "2024-01-15T13:00:00Z" });
		const ing = await send("POST", `${api}/ingest`, { lines: line });
		expect(ing.status).toBe(404);
		expect(ing.body.message).toMatch(/ETH-USDX-SPOT/);
	});

	it("candles default to bid for FX and to trade for crypto", async () => {
		const t0 = Date.parse("2024-01-15T13:00:00Z");
		const quotes = [0, 1, 2].map((i) => JSON.stringify({ venue: "dukascopy", symbol: "EUR-USD-SPOT", seq: String(i), bid: `1.0912${i}`, ask: `1.0913${i}`, time: new Date(t0 + i * 1000).toISOString() }));
		const ing = await send("POST", `${api}/ingest`, { lines: quotes.join("\n") });
		expect(ing).toMatchObject({ status: 200, body: { published: 3 } });
		const c = await waitFor(async () => {
			const r = await getJson(`${api}/candles?venue=dukascopy&symbol=EUR-USD-SPOT&timeframe=1m&from=2024-01-15T13:00:00Z&to=2024-01-15T13:01:00Z`);
			return r.status === 200 && r.body.length ? r.body : null;
		}, { what: "EUR-USD candles without price=" });
		expect(c[0]).toMatchObject({ open: "1.09120", close: "1.09122" });
	});

	it("removing ETH-USD unsubscribes it; adding it again and restarting keeps it", async () => {
		const del = await send("DELETE", `${api}/symbols/kraken/ETH-USD-SPOT`);
		expect(del.status).toBe(200);
		expect(del.body.active).toBe(false);
		await waitFor(() => !kraken.subscribed("trade", "ETH/USD"), { what: "ETH/USD unsubscribed" });
		expect(kraken.subscribed("trade", "BTC/USD")).toBe(true);
		expect((await send("POST", `${api}/symbols`, { venue: "kraken", symbol: "eth/usd" })).status).toBe(201);
		await p!.stop();
		p = null;
		await start();
		await waitFor(() => kraken.subscribed("trade", "ETH/USD") && kraken.subscribed("trade", "BTC/USD"), { what: "both pairs subscribed after the restart" });
		expect((await getJson(`${api}/symbols?venue=kraken&active=true`)).body.items.map((x: any) => x.venueSymbol)).toEqual(["BTC/USD", "ETH/USD"]);
	}, 60_000);

	it("a venue answering 500 or garbage leaves the catalog intact", async () => {
		const before = (await db.pool.query("SELECT venue_symbol, symbol, status, active, price_increment::text, updated_at FROM symbols WHERE venue = 'kraken' ORDER BY symbol")).rows;
		for (const failure of ["500", "garbage"] as const) {
			kraken.rest.assetPairsFailure = failure;
			const r = await send("POST", `${api}/symbols/sync`, { venue: "kraken" });
			expect(r.status).toBe(502);
			expect(r.body.data.sources[0]).toMatchObject({ source: "kraken", ok: false });
		}
		kraken.rest.assetPairsFailure = null;
		expect((await db.pool.query("SELECT venue_symbol, symbol, status, active, price_increment::text, updated_at FROM symbols WHERE venue = 'kraken' ORDER BY symbol")).rows).toEqual(before);
		const ok = await send("POST", `${api}/symbols/sync`, { venue: "kraken" });
		expect(ok.status).toBe(200);
		expect(ok.body.sources[0]).toMatchObject({ ok: true, inserted: 0, delisted: 0 });
	});
});
