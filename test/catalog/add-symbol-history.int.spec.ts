import path from "node:path";
import { startPipeline, type Pipeline } from "../../bin/pipeline";
import { HOUR_MS } from "../../lib/backfill/hours";
import { marketOpen } from "../../lib/backfill/market-hours";
import { loadConfig } from "../../lib/config";
import { freshDatabase, waitFor, type TestDb } from "../helpers/db";
import { FakeBinance } from "../helpers/fake-binance";
import { EMPTY_BI5, FakeDukascopy } from "../helpers/fake-dukascopy";
import { freePort, getJson } from "../helpers/net";

const DUKASCOPY_META = path.resolve(__dirname, "../../../shared/fixtures/dukascopy/meta/instrument-meta-data.json");

async function post(url: string, body: unknown): Promise<{ status: number; body: any }> {
	const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
	return { status: res.status, body: await res.json() };
}

/**
 * The seeds' own examples, end to end with fake venues: AUDCAD, AAPL and TSLA from Dukascopy (any of its
 * 1,499 instruments, not only the 15 built in), BTC-USDT from Binance. Adding one starts its history on the
 * existing machinery: a Dukascopy gap-fill job over the hours its calendar has open (GET /api/backfill),
 * Binance klines through exchange-history.
 */
describe("adding a symbol starts its history (Dukascopy jobs, Binance klines)", () => {
	let db: TestDb;
	let duka: FakeDukascopy;
	let binance: FakeBinance;
	let p: Pipeline;
	let api: string;

	beforeAll(async () => {
		db = await freshDatabase("catalog_history");
		duka = await FakeDukascopy.start();
		duka.fallback = () => EMPTY_BI5; // every hour published, without ticks
		binance = await new FakeBinance().start();
		const port = await freePort();
		p = await startPipeline(
			loadConfig({
				DATABASE_URL: db.url,
				MARKET_LOG: "memory",
				SERVICES: "symbol-catalog,dukascopy-backfill,exchange-history,tick-writer,api",
				PORT: String(port),
				METRICS_PORT: "0",
				LOG_LEVEL: "error",
				NODE_ID: `cathist-${process.pid}`,
				NAMESPACE: `cathist${process.pid}`,
				DUKASCOPY_URL: duka.datafeedUrl,
				DUKASCOPY_META_URL: DUKASCOPY_META,
				BINANCE_REST_URL: binance.url,
				BINANCE_USDM_REST_URL: binance.url,
				BINANCE_COINM_REST_URL: binance.url,
				CATALOG_VENUES: "binance,dukascopy",
				CATALOG_RETRY_BASE_MS: "3600000",
				ADD_SYMBOL_BACKFILL: "24h",
			}),
		);
		api = `http://127.0.0.1:${port}/api`;
		await waitFor(async () => (await getJson(`${api}/symbols?venue=dukascopy&symbol=TSLA.US-USD-CFD`)).body.items?.length === 1, { what: "dukascopy synced", timeoutMs: 30_000 });
		await waitFor(async () => (await getJson(`${api}/symbols?venue=binance&symbol=BTC-USDT-SPOT`)).body.items?.length === 1, { what: "binance synced" });
	}, 60_000);

	afterAll(async () => {
		await p?.stop();
		await duka?.close();
		await binance?.stop();
		await db?.drop();
	});

	it.each([
		["AUDCAD", "AUDCAD", "AUD-CAD-SPOT"],
		["AAPL", "AAPLUSUSD", "AAPL.US-USD-CFD"],
		["TSLA", "TSLAUSUSD", "TSLA.US-USD-CFD"],
	])("dukascopy %s: added, and a job for its open hours of the last 24 h appears in GET /api/backfill", async (name, id, symbol) => {
		const now = Date.now();
		const r = await post(`${api}/symbols`, { venue: "dukascopy", symbol: name });
		expect(r.status).toBe(201);
		expect(r.body).toMatchObject({ venueSymbol: id, symbol, active: true });
		// from now on auto-ingest follows it
		await waitFor(async () => ((await p.broker.call("dukascopy-backfill.stats")) as any).autoIngest.instruments.includes(id), { what: `auto-ingest follows ${id}` });
		const cls = r.body.assetClass;
		const exchange = r.body.meta.exchange;
		// the hours that ended in the last 24 h and that the instrument's calendar has open
		const expected: string[] = [];
		for (let h = Math.floor((now - 24 * HOUR_MS) / HOUR_MS) * HOUR_MS; h + HOUR_MS <= now; h += HOUR_MS) if (marketOpen(cls, h, exchange)) expected.push(new Date(h).toISOString());
		if (!expected.length) return; // a closed market (weekend): nothing to fetch, no job
		const job = await waitFor(async () => (await getJson(`${api}/backfill?limit=100`)).body.items.find((j: any) => j.instrument === id), { what: `a backfill job for ${id}` });
		// exactly the open hours (the one that ended while the request was made may be in or out)
		expect(Math.abs(job.progress.hoursTotal - expected.length)).toBeLessThanOrEqual(1);
		await waitFor(async () => duka.requestsFor(id).length > 0, { what: `${id} hours fetched` });
		for (const req of duka.requestsFor(id)) expect(marketOpen(cls, req.hourStartMs!, exchange)).toBe(true);
	});

	it("binance BTC-USDT: added, and its klines of the last 24 h are fetched", async () => {
		const r = await post(`${api}/symbols`, { venue: "binance", symbol: "BTC-USDT" });
		expect(r.status).toBe(201);
		expect(r.body).toMatchObject({ venueSymbol: "BTCUSDT", symbol: "BTC-USDT-SPOT", type: "SPOT", active: true });
		await waitFor(async () => (await db.pool.query("SELECT count(*)::int AS n FROM klines WHERE venue = 'binance'")).rows[0].n >= 1000, { what: "klines stored", timeoutMs: 30_000 });
		expect(binance.requests.some((q) => q.path === "/api/v3/klines" && q.query.symbol === "BTCUSDT")).toBe(true);
		const from = new Date(Date.now() - 86_400_000).toISOString();
		const to = new Date().toISOString();
		expect((await getJson(`${api}/klines?venue=binance&symbol=BTC-USDT-SPOT&interval=1m&from=${from}&to=${to}&limit=10`)).body).toHaveLength(10);
		const typo = await getJson(`${api}/klines?venue=binance&symbol=BTC-USDTX-SPOT&interval=1m&from=${from}&to=${to}`);
		expect(typo.status).toBe(404);
		expect(typo.body.data.matches).toContain("BTC-USDT-SPOT");
	}, 60_000);
});
