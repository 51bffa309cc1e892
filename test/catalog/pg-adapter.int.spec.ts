import { PgDbAdapter, SYMBOLS_TABLE } from "../../lib/catalog/pg-adapter";
import { migrate } from "../../lib/store/migrate";
import { freshDatabase, type TestDb } from "../helpers/db";

/** The moleculer-db adapter over PostgreSQL: the interface moleculer-db calls, on the real `symbols` table. */
describe("PgDbAdapter (moleculer-db over pg)", () => {
	let db: TestDb;
	let a: PgDbAdapter;
	const row = (venue: string, symbol: string, o: Record<string, unknown> = {}) => ({
		venue,
		symbol,
		venueSymbol: symbol.split("-").slice(0, 2).join("/"),
		assetClass: "crypto",
		base: symbol.split("-")[0],
		quote: symbol.split("-")[1],
		type: "SPOT",
		tickSize: "0.10",
		status: "online",
		active: false,
		meta: { n: 1 },
		changedAt: {},
		...o,
	});

	beforeAll(async () => {
		db = await freshDatabase("catalog_adapter");
		await migrate(db.pool);
		a = new PgDbAdapter(SYMBOLS_TABLE, () => db.pool);
		a.init(null);
		await a.connect();
	});
	afterAll(async () => {
		await a?.disconnect();
		await db?.drop();
	});

	it("inserts, finds by id, query operators, search, sort, paging and count", async () => {
		const stored = await a.insertMany([row("kraken", "BTC-USD-SPOT", { description: "Bitcoin" }), row("kraken", "ETH-USD-SPOT", { active: true }), row("binance", "BTC-USDT-SPOT", { expiry: "2024-03-29T08:00:00Z" })]);
		expect(stored.map((r) => r.id)).toEqual(["kraken:BTC-USD-SPOT", "kraken:ETH-USD-SPOT", "binance:BTC-USDT-SPOT"]);
		expect(stored[0]).toMatchObject({ tickSize: "0.10", meta: { n: 1 }, active: false, expiry: null });
		expect(stored[2].expiry).toBe("2024-03-29T08:00:00.000Z");
		expect(await a.findById("kraken:ETH-USD-SPOT")).toMatchObject({ active: true, venueSymbol: "ETH/USD" });
		expect((await a.findByIds(["kraken:BTC-USD-SPOT", "binance:BTC-USDT-SPOT"])).length).toBe(2);
		expect((await a.find({ query: { venue: "kraken" }, sort: "-symbol" })).map((r) => r.symbol)).toEqual(["ETH-USD-SPOT", "BTC-USD-SPOT"]);
		expect((await a.find({ query: { id: { $gt: "kraken:BTC-USD-SPOT" } }, sort: ["id"] })).map((r) => r.id)).toEqual(["kraken:ETH-USD-SPOT"]);
		expect((await a.find({ query: { $or: [{ venue: "binance" }, { active: true }] }, sort: ["id"] })).map((r) => r.id)).toEqual(["binance:BTC-USDT-SPOT", "kraken:ETH-USD-SPOT"]);
		expect((await a.find({ search: "bitcoin", searchFields: ["symbol", "description"] })).map((r) => r.id)).toEqual(["kraken:BTC-USD-SPOT"]);
		expect((await a.find({ search: "%", searchFields: "symbol" })).length).toBe(0); // LIKE wildcards are literal
		expect((await a.find({ sort: ["id"], limit: 1, offset: 1 })).map((r) => r.id)).toEqual(["kraken:BTC-USD-SPOT"]);
		expect(await a.count({ query: { venue: "kraken", status: { $ne: "delisted" } } })).toBe(2);
		expect(await a.findOne({ venue: "nowhere" })).toBeNull();
	});

	it("updates by id and by query with $set, and removes", async () => {
		const u = await a.updateById("kraken:BTC-USD-SPOT", { $set: { active: true, changedAt: { active: "2024-01-01T00:00:00.000Z" } } });
		expect(u).toMatchObject({ active: true, changedAt: { active: "2024-01-01T00:00:00.000Z" } });
		expect(await a.updateMany({ venue: "kraken" }, { $set: { status: "halted" } })).toBe(2);
		await expect(a.updateById("kraken:BTC-USD-SPOT", { $set: { id: "x" } })).rejects.toThrow(/cannot be written/);
		await expect(a.find({ query: { nope: 1 } })).rejects.toThrow(/unknown field/);
		expect(await a.removeById("binance:BTC-USDT-SPOT")).toMatchObject({ venue: "binance" });
		expect(await a.removeMany({ venue: "kraken", active: false })).toBe(0);
		expect(await a.clear()).toBe(2);
	});
});
