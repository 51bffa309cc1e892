import { startPipeline, type Pipeline } from "../../bin/pipeline";
import { loadConfig } from "../../lib/config";
import { tradeIdHoles } from "../../lib/history/kraken-trades";
import { freshDatabase, waitFor, type TestDb } from "../helpers/db";
import { FakeKrakenRest, krakenTrades, storeAsFromSocket } from "../helpers/fake-kraken-rest";

const FROM = Date.parse("2024-03-01T00:00:00Z");
const TO = Date.parse("2024-03-01T03:00:00Z");
const FIRST_ID = 7_000_001;

/**
 * Kraken trades history against trades the live stream already stored: holes between stored trades are found by
 * trade id and filled, and trades REST sends with fewer decimals than the socket gave are not stored twice.
 * Real PostgreSQL, the in-process pipeline (memory log, tick-writer), a fake Kraken REST at REST precision.
 */
describe("Kraken trades history: id holes and trades stored by the live stream", () => {
	let db: TestDb;
	let p: Pipeline;
	let kraken: FakeKrakenRest;
	// 3000 trades, 3 s apart (2.5 h). Trades 1000 and 1001 share a millisecond and 100 µs: at REST precision
	// (4 decimals) 1001 gets an earlier time than 1000 has at the socket's µs.
	const rows = krakenTrades(3000, FROM, 3000, FIRST_ID);
	const X = BigInt(FROM + 1000 * 3000) * 1000n;
	rows[1000].timeUs = X + 712n;
	rows[1001].timeUs = X + 790n;
	const missingIdx = new Set<number>([...Array.from({ length: 50 }, (_, i) => 500 + i), ...Array.from({ length: 700 }, (_, i) => 1500 + i), 2500, 1001]);
	const live = rows.filter((_, i) => !missingIdx.has(i)); // what the socket had stored

	beforeAll(async () => {
		db = await freshDatabase("hist_holes");
		kraken = await new FakeKrakenRest({ timeDecimals: 4 }).start();
		kraken.setTrades("XBTUSD", rows);
		p = await startPipeline(
			loadConfig({
				DATABASE_URL: db.url,
				SERVICES: "tick-writer,exchange-history",
				KRAKEN_REST_URL: kraken.url,
				PORT: "0",
				METRICS_PORT: "0",
				LOG_LEVEL: "warn",
			}),
		);
		await storeAsFromSocket(db.pool, "BTC-USD-SPOT", live);
	});
	afterAll(async () => {
		await p?.stop();
		await kraken?.stop();
		await db?.drop();
	});

	const counts = async () =>
		(await db.pool.query("SELECT count(*)::int AS n, count(DISTINCT trade_id)::int AS d, min(trade_id)::int AS lo, max(trade_id)::int AS hi FROM trades WHERE venue = 'kraken' AND symbol = 'BTC-USD-SPOT'")).rows[0];
	const run = async (extra: Record<string, unknown> = {}): Promise<any> => {
		const before = ((await p.broker.call("tick-writer.stats")) as any).trades;
		kraken.requests.length = 0;
		const r: any = await p.broker.call("exchange-history.krakenTrades", { pair: "XBTUSD", from: "2024-03-01", to: "2024-03-01T03:00:00Z", ...extra });
		await p.runtime.log().then((l) => l.flush());
		await waitFor(async () => ((await p.broker.call("tick-writer.stats")) as any).trades >= before + r.published, { what: `the tick-writer to take ${r.published} trades` });
		return r;
	};

	it("finds the id holes between the oldest and newest stored trade and fills exactly those", async () => {
		expect(await counts()).toEqual({ n: 2248, d: 2248, lo: FIRST_ID, hi: FIRST_ID + 2999 });
		const holes = await tradeIdHoles(db.pool, "kraken", "BTC-USD-SPOT", FROM, TO);
		expect(holes.map((h) => [Number(h.afterId) - FIRST_ID, Number(h.beforeId) - FIRST_ID])).toEqual([
			[499, 550],
			[1000, 1002],
			[1499, 2200],
			[2499, 2501],
		]);
		const r = await run();
		// the newest stored trade comes back from REST (the stretch after it is paged from its millisecond) under its
		// REST time: known by id, not published again
		expect(r).toMatchObject({ missingRanges: 1, skippedRanges: 1, holesFound: 4, holesFilled: 4, published: 752, alreadyStored: 1, rejectedCount: 0 });
		// one page per hole, each from a second before the hole's first stored neighbour
		const sinces = kraken.tradeRequests().map((q) => q.query.since);
		for (const i of [499, 1000, 1499, 2499]) expect(sinces).toContain(String(BigInt(Number(rows[i].timeUs / 1000n) - 1000) * 1_000_000n));
		expect(sinces).toHaveLength(2 + 4);
		expect(await counts()).toEqual({ n: 3000, d: 3000, lo: FIRST_ID, hi: FIRST_ID + 2999 });
		// a filled trade keeps Kraken's exact text and its REST time
		const { rows: got } = await db.pool.query("SELECT price::text, qty::text, side, time FROM trades WHERE trade_id = $1", [rows[1600].tradeId]);
		expect(got).toEqual([{ price: rows[1600].price, qty: rows[1600].volume, side: rows[1600].side, time: new Date(Number(rows[1600].timeUs / 1000n)) }]);
	});

	it("a second run finds no hole, even where REST and socket times put two ids out of order", async () => {
		// 1001 (filled from REST, …000700) now sorts before 1000 (stored from the socket, …000712)
		const { rows: order } = await db.pool.query("SELECT trade_id::int - $1 AS i FROM trades WHERE trade_id BETWEEN $2 AND $3 ORDER BY time, trade_id", [FIRST_ID, FIRST_ID + 999, FIRST_ID + 1002]);
		expect(order.map((x) => x.i)).toEqual([999, 1001, 1000, 1002]);
		expect(await tradeIdHoles(db.pool, "kraken", "BTC-USD-SPOT", FROM, TO)).toEqual([]);
		const r = await run();
		expect(r).toMatchObject({ holesFound: 0, holesFilled: 0, published: 0, alreadyStored: 1, pages: 2 });
		expect(await counts()).toEqual({ n: 3000, d: 3000, lo: FIRST_ID, hi: FIRST_ID + 2999 });
	});

	it("`full` pages the whole range and publishes none of the trades stored under the socket's or REST's time", async () => {
		const r = await run({ full: true });
		expect(r).toMatchObject({ missingRanges: 1, skippedRanges: 0, holesFound: 0, published: 0, alreadyStored: 3000 });
		expect(await counts()).toEqual({ n: 3000, d: 3000, lo: FIRST_ID, hi: FIRST_ID + 2999 });
	});
});
