import { parseTickQuery } from "../../lib/api/params";
import { queryQuotes, queryTrades } from "../../lib/api/ticks";
import { migrate } from "../../lib/store/migrate";
import { freshDatabase, type TestDb } from "../helpers/db";

describe("trades and quotes pages", () => {
	let db: TestDb;
	beforeAll(async () => {
		db = await freshDatabase("ticks");
		await migrate(db.pool);
		await db.pool.query(`INSERT INTO trades VALUES
			('kraken', 'BTC-USD-SPOT', '2024-01-15T13:00:00.000001Z', 1, 42000.10, 0.5, 'b', '2024-01-15T13:00:00.1Z'),
			('kraken', 'BTC-USD-SPOT', '2024-01-15T13:00:00.000001Z', 2, 42000.20, 0.25, NULL, '2024-01-15T13:00:00.1Z'),
			('kraken', 'BTC-USD-SPOT', '2024-01-15T13:00:01Z', 3, 42000.30, 1, 's', '2024-01-15T13:00:01.1Z')`);
		await db.pool.query(`INSERT INTO quotes VALUES
			('dukascopy', 'EUR-USD-SPOT', '2024-01-15T13:00:00Z', 0, 1.09123, 1.09125, 1.5, NULL, '2024-01-15T13:00:00Z'),
			('dukascopy', 'EUR-USD-SPOT', '2024-01-15T13:00:00Z', 1, 1.09124, 1.09126, NULL, 2, '2024-01-15T13:00:00Z'),
			('dukascopy', 'EUR-USD-SPOT', '2024-01-15T13:00:02Z', 0, 1.09120, 1.09122, 1, 1, '2024-01-15T13:00:02Z')`);
	});
	afterAll(() => db.drop());

	const range = { from: "2024-01-15T13:00:00Z", to: "2024-01-15T13:01:00Z", limit: "2" };

	it("pages trades by (time, trade id) with exact decimals, µs times and sides", async () => {
		const p1 = await queryTrades(db.pool, parseTickQuery({ venue: "kraken", symbol: "BTC-USD-SPOT", ...range }, { maxRows: 10 }));
		expect(p1.items).toEqual([
			{ time: "2024-01-15T13:00:00.000001Z", tradeId: "1", price: "42000.10", qty: "0.5", side: "buy", recvTime: "2024-01-15T13:00:00.100000Z" },
			{ time: "2024-01-15T13:00:00.000001Z", tradeId: "2", price: "42000.20", qty: "0.25", side: null, recvTime: "2024-01-15T13:00:00.100000Z" },
		]);
		const p2 = await queryTrades(db.pool, parseTickQuery({ venue: "kraken", symbol: "BTC-USD-SPOT", ...range, cursor: p1.nextCursor! }, { maxRows: 10 }));
		expect(p2.items.map((t) => [t.tradeId, t.side])).toEqual([["3", "sell"]]);
		expect(p2.nextCursor).toBeNull();
	});

	it("pages quotes by (time, seq), keeping missing sizes null", async () => {
		const p1 = await queryQuotes(db.pool, parseTickQuery({ venue: "dukascopy", symbol: "EUR-USD-SPOT", ...range }, { maxRows: 10 }));
		expect(p1.items.map((q) => [q.seq, q.bid, q.bidQty, q.askQty])).toEqual([
			["0", "1.09123", "1.5", null],
			["1", "1.09124", null, "2"],
		]);
		const p2 = await queryQuotes(db.pool, parseTickQuery({ venue: "dukascopy", symbol: "EUR-USD-SPOT", ...range, cursor: p1.nextCursor! }, { maxRows: 10 }));
		expect(p2.items).toEqual([{ time: "2024-01-15T13:00:02.000000Z", seq: "0", bid: "1.09120", ask: "1.09122", bidQty: "1", askQty: "1", recvTime: "2024-01-15T13:00:02.000000Z" }]);
		expect(p2.nextCursor).toBeNull();
	});
});
