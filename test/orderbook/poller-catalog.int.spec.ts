import type { Context, Service } from "moleculer";
import { startPipeline, type Pipeline } from "../../bin/pipeline";
import { loadConfig } from "../../lib/config";
import type { CatalogRow } from "../../lib/orderbook/targets";
import { freshDatabase, waitFor, type TestDb } from "../helpers/db";
import { FakeBinance } from "../helpers/fake-binance";
import { FakeKrakenRest } from "../helpers/fake-kraken-rest";

/**
 * The orderbook-poller follows the symbol catalog when one runs. The catalog service is another branch's work,
 * so a stand-in `symbols` service speaks its contract here (`symbols.list {active, limit, cursor}` ->
 * `{items, nextCursor}`, pages of two rows; event `symbols.changed`); the venues are the fakes.
 */
describe("orderbook-poller and the symbol catalog", () => {
	let db: TestDb;
	let binance: FakeBinance;
	let kraken: FakeKrakenRest;
	let p: Pipeline;
	let catalog: Service | null = null;
	const rows: CatalogRow[] = [
		{ venue: "kraken", venueSymbol: "ETH/USD", symbol: "ETH-USD-SPOT", type: "spot", base: "ETH", quote: "USD", settle: null, active: true },
		{ venue: "binance", venueSymbol: "BTCUSDT", symbol: "BTC-USDT-PERP", type: "perpetual", base: "BTC", quote: "USDT", settle: "USDT", active: true },
		{ venue: "binance", venueSymbol: "BTCUSD_PERP", symbol: "BTC-USD-PERP", type: "perpetual", base: "BTC", quote: "USD", settle: "BTC", active: true },
	];

	const status = async () => (await p.broker.call("orderbook-poller.status")) as { targetsFrom: string; targets: { venue: string; symbol: string; venueSymbol: string; market: string }[] };
	const books = async () => (await status()).targets.map((t) => `${t.venue}:${t.symbol}`).sort();
	const stored = async (venue: string, symbol: string) => (await db.pool.query("SELECT count(*)::int AS n FROM book_snapshots WHERE venue = $1 AND symbol = $2 AND source = 'rest'", [venue, symbol])).rows[0].n as number;

	beforeAll(async () => {
		db = await freshDatabase("books_catalog");
		binance = await new FakeBinance().start();
		kraken = await new FakeKrakenRest().start();
		p = await startPipeline(
			loadConfig({
				DATABASE_URL: db.url,
				SERVICES: "orderbook-poller",
				METRICS_PORT: "0",
				LOG_LEVEL: "error",
				NODE_ID: `books-catalog-${process.pid}`,
				NAMESPACE: `bookscat${process.pid}`,
				KRAKEN_REST_URL: kraken.url,
				KRAKEN_REST_RATE_PER_SEC: "50",
				BINANCE_REST_URL: binance.url,
				BINANCE_USDM_REST_URL: binance.url,
				KRAKEN_SYMBOLS: "BTC/USD",
				ORDERBOOK_POLL_INTERVAL_MS: "1000",
			}),
		);
	}, 60_000);

	afterAll(async () => {
		await p?.stop();
		await binance?.stop();
		await kraken?.stop();
		await db?.drop();
	});

	it("polls the configured books while no catalog runs", async () => {
		expect(await status()).toMatchObject({ targetsFrom: "config" });
		expect(await books()).toEqual(["kraken:BTC-USD-SPOT"]);
	});

	it("switches to the catalog's active books when the catalog comes up, reading every page", async () => {
		catalog = p.broker.createService({
			name: "symbols",
			actions: {
				list: {
					params: { active: { type: "boolean", optional: true }, limit: { type: "number", optional: true }, cursor: { type: "string", optional: true } },
					handler(ctx: Context<{ active?: boolean; cursor?: string }>) {
						const from = ctx.params.cursor ? Number(ctx.params.cursor) : 0;
						const active = rows.filter((r) => ctx.params.active === undefined || r.active === ctx.params.active);
						return { items: active.slice(from, from + 2), nextCursor: from + 2 < active.length ? String(from + 2) : null };
					},
				},
			},
		});
		await waitFor(async () => (await status()).targetsFrom === "catalog", { what: "targets from the catalog" });
		// COIN-M's BTC-USD-PERP (settled in BTC) is not a spot or USD-M book
		expect(await books()).toEqual(["binance:BTC-USDT-PERP", "kraken:ETH-USD-SPOT"]);
		await waitFor(async () => (await stored("binance", "BTC-USDT-PERP")) > 0 && (await stored("kraken", "ETH-USD-SPOT")) > 0, { what: "snapshots of the catalog's books" });
		expect(binance.depthRequests("/fapi/v1/depth")[0].query).toEqual({ symbol: "BTCUSDT", limit: "100" });
		expect(kraken.depthRequests().some((r) => r.query.pair === "ETHUSD")).toBe(true);
	});

	it("follows symbols.changed: an added symbol is polled, a removed one no longer", async () => {
		rows.push({ venue: "binance", venueSymbol: "ETHUSDT", symbol: "ETH-USDT-SPOT", type: "spot", base: "ETH", quote: "USDT", settle: null, active: true });
		rows[0].active = false; // ETH/USD removed
		p.broker.emit("symbols.changed", { venue: "binance", symbols: ["BTC-USDT-PERP", "ETH-USDT-SPOT"], added: ["ETH-USDT-SPOT"], removed: [] });
		await waitFor(async () => (await books()).join() === "binance:BTC-USDT-PERP,binance:ETH-USDT-SPOT", { what: "ETH-USDT-SPOT added, ETH-USD-SPOT gone" });
		await waitFor(async () => (await stored("binance", "ETH-USDT-SPOT")) > 0, { what: "a snapshot of the added symbol" });
		expect(binance.depthRequests("/api/v3/depth").some((r) => r.query.symbol === "ETHUSDT")).toBe(true);
	});

	it("falls back to the configuration when the catalog goes away", async () => {
		await p.broker.destroyService(catalog!);
		await waitFor(async () => (await status()).targetsFrom === "config", { what: "targets from the configuration again" });
		expect(await books()).toEqual(["kraken:BTC-USD-SPOT"]);
	});
});
