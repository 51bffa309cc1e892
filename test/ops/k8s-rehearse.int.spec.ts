import { freshDatabase, type TestDb } from "../helpers/db";
import { rehearse } from "../../lib/ops/rehearsal";

// The dev overlay as local processes (npm run k8s:rehearse): kill the leading refresher and a writer.
describe("k8s rehearsal", () => {
	let db: TestDb;
	beforeAll(async () => {
		db = await freshDatabase("rehearse");
	});
	afterAll(async () => {
		await db?.drop();
	});

	it("keeps candles coming with one leader and every trade stored exactly once", async () => {
		const r = await rehearse({ databaseUrl: db.url, pool: db.pool, runId: `${process.pid}_${Date.now().toString(36)}`, tradesPerRound: 200 });
		console.log(r.summary);
		expect(r.processes).toEqual(expect.arrayContaining(["tick-writer-0", "tick-writer-1", "cascade-refresher-0", "cascade-refresher-1", "api-0", "api-1", "symbol-catalog-0", "orderbook-poller-0", "oanda-stream-0"]));
		expect(r.killed).toHaveLength(2);
		expect({ sent: r.sent, stored: r.stored, distinct: r.distinct, candleTrades: r.candleTrades }).toEqual({ sent: 600, stored: 600, distinct: 600, candleTrades: 600 });
		expect(r.maxLeadersSeen).toBe(1);
		expect(r.leaderAfter).not.toBe(r.leaderBefore);
		expect(r.ok).toBe(true);
	}, 240_000);
});
