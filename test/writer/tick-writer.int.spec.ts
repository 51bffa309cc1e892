import { encodeEnvelope, tradeEnvelope, quoteEnvelope } from "../../lib/domain/codec";
import { MemoryLog } from "../../lib/log/memory";
import { migrate } from "../../lib/store/migrate";
import { TickWriter } from "../../lib/writer/tick-writer";
import { decodeWireForCopy } from "../../lib/writer/wire-binary";
import type { Delivery } from "../../lib/log/types";
import { freshDatabase, waitFor, type TestDb } from "../helpers/db";
import fs from "node:fs";
import path from "node:path";
import { decodeBi5Ticks } from "../../lib/backfill/dukascopy/bi5";
import { getInstrument } from "../../lib/backfill/dukascopy/instruments";
import { quoteColumnPayloads, quoteWirePayloads } from "../../lib/backfill/dukascopy/wire";
import { DUKASCOPY_FIXTURES, EURUSD_HOUR_FILES } from "../helpers/fake-dukascopy";

const TOPIC = "market-data/crypto/raw/kraken/btcusd/trades";
const START = Date.parse("2024-01-15T13:00:00Z");

function trades(from: number, n: number) {
	return Array.from({ length: n }, (_, i) => {
		const id = from + i;
		const time = new Date(START + id * 1234).toISOString().replace("Z", "456Z"); // µs precision
		return { tradeId: String(id), side: id % 2 ? ("buy" as const) : ("sell" as const), price: `${42000 + (id % 97)}.${String(id % 1000).padStart(3, "0")}0`, qty: `0.${String(id + 1).padStart(8, "0")}`, time, recvTime: time };
	});
}

async function count(db: TestDb, sql: string, args: unknown[] = []): Promise<number> {
	const { rows } = await db.pool.query(sql, args);
	return Number(rows[0].n);
}

describe("tick-writer against real PostgreSQL", () => {
	let db: TestDb;
	let log: MemoryLog;
	const writers: TickWriter[] = [];
	const writer = (opts: Partial<ConstructorParameters<typeof TickWriter>[0]> = {}) => {
		const w = new TickWriter({ pool: db.pool, log, maxBatchWaitMs: 20, ackTimeoutMs: 2_000, ...opts });
		writers.push(w);
		return w;
	};

	beforeEach(async () => {
		db = await freshDatabase("tickwriter");
		await migrate(db.pool);
		log = new MemoryLog();
	});
	afterEach(async () => {
		for (const w of writers.splice(0)) await w.stop();
		await log.close();
		await db.drop();
	});

	it("stores every trade exactly once, keeps exact decimals and µs times, marks the touched 1m buckets", async () => {
		const all = trades(0, 5_000);
		for (let i = 0; i < all.length; i += 100) await log.publish(TOPIC, "BTC-USD-SPOT", [encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", all.slice(i, i + 100)))]);
		const w = writer();
		await w.start();
		await waitFor(() => w.stats.trades === 5_000, { what: "5000 trades written" });
		expect(await count(db, "SELECT count(*) AS n FROM trades")).toBe(5_000);
		const { rows } = await db.pool.query(
			`SELECT trade_id::text, price::text, qty::text, side, to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t FROM trades WHERE trade_id = 4321`,
		);
		const t = all[4321];
		expect(rows[0]).toEqual({ trade_id: "4321", price: t.price, qty: t.qty, side: "b", t: t.time });
		const minutes = new Set(all.map((x) => Math.floor(Date.parse(x.time) / 60_000)));
		expect(await count(db, "SELECT count(*) AS n FROM dirty_buckets WHERE source = 'trades'")).toBe(minutes.size);
	});

	it("keeps batches near maxBatchRows when messages are big (a backlog of backfill-sized messages)", async () => {
		// 60 messages of 500 trades, all waiting before the writer starts: asking for pullMax (200) messages at a time
		// would make the first batches hold everything; the writer asks for fewer once it has seen how big they are.
		const all = trades(0, 30_000);
		const payloads = [];
		for (let i = 0; i < all.length; i += 500) payloads.push(encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", all.slice(i, i + 500))));
		await log.publish(TOPIC, "BTC-USD-SPOT", payloads);
		const batches: number[] = [];
		const w = writer({ maxBatchRows: 2_000, pullMax: 200, onCommitted: (r) => batches.push(r.trades) });
		await w.start();
		await waitFor(() => w.stats.trades === 30_000, { what: "30000 trades written" });
		expect(await count(db, "SELECT count(*) AS n FROM trades")).toBe(30_000);
		// every batch but the first one collected (its guess of the message size comes before any message): at most
		// maxBatchRows plus one message; batches commit two at a time, so the first collected need not come first here
		expect(batches.length).toBeGreaterThan(10);
		expect(batches.filter((n) => n > 2_500).length).toBeLessThanOrEqual(1);
	});

	it("drops redelivered rows without losing the new rows of the same batch", async () => {
		const w = writer();
		const first = trades(0, 300);
		await log.publish(TOPIC, "BTC-USD-SPOT", [encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", first))]);
		await w.start();
		await waitFor(() => w.stats.trades === 300);
		// a pure redelivery stores nothing and gives the cascade no work
		await db.pool.query("DELETE FROM dirty_buckets");
		await log.publish(TOPIC, "BTC-USD-SPOT", [encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", first.slice(0, 100)))]);
		await waitFor(() => w.stats.trades === 400);
		expect(await count(db, "SELECT count(*) AS n FROM dirty_buckets")).toBe(0);
		// a redelivery of the first 300 (as after a crash) mixed with 200 new ones, some of them twice in one message
		const mixed = [...trades(100, 200), ...trades(300, 200), ...trades(450, 20)];
		await log.publish(TOPIC, "BTC-USD-SPOT", [encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", first)), encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", mixed))]);
		await waitFor(() => w.stats.trades === 400 + 300 + 420);
		expect(await count(db, "SELECT count(*) AS n FROM trades")).toBe(500);
		expect(await count(db, "SELECT count(DISTINCT trade_id) AS n FROM trades")).toBe(500);
		expect(w.stats.duplicates).toBe(100 + 300 + 200 + 20);
		// only the buckets of the 200 new trades were marked
		const newMinutes = new Set(trades(300, 200).map((t) => Math.floor(Date.parse(t.time) / 60_000)));
		expect(await count(db, "SELECT count(*) AS n FROM dirty_buckets")).toBe(newMinutes.size);
		// back on the fast path once a batch comes clean
		await log.publish(TOPIC, "BTC-USD-SPOT", [encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", trades(500, 50)))]);
		await waitFor(() => w.stats.insertedTrades === 550);
	});

	it("counts a batch's refused binary data once when its rows also take the staging path", async () => {
		const w = writer();
		const delivery = (id: string, items: ReturnType<typeof trades>): Delivery => ({ id, topic: TOPIC, key: "BTC-USD-SPOT", payload: encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", items)), deliveryCount: 1, publishTime: Date.now() });
		const first = delivery("1", trades(0, 100));
		expect((await w.writeBatch([first])).binaryRefused).toBe(0);
		// 100 redelivered trades and 50 new ones, whose binary rows PostgreSQL refuses (a field count of 14 for 8
		// columns, as an encoder fault would send): the fast COPY falls back to text, hits the redelivered keys and the
		// batch goes through the staging table, as text this time
		const second = delivery("2", trades(0, 150));
		const decoded = { ...decodeWireForCopy(second.payload), binary: Buffer.from([0, 14, 0, 0, 0, 1]) };
		const r = await w.writeBatch([second], [decoded]);
		expect(r).toMatchObject({ trades: 150, insertedTrades: 50, duplicates: 100, binaryRefused: 1 });
		expect(w.stats.binaryRefused).toBe(1);
		expect(await count(db, "SELECT count(*) AS n FROM trades")).toBe(150);
	});

	it("stores a wire v3 message as its v2 lines, by text when PostgreSQL refuses its binary rows, and skips its redelivery", async () => {
		const inst = getInstrument("EURUSD");
		const hour = decodeBi5Ticks(fs.readFileSync(path.join(DUKASCOPY_FIXTURES, EURUSD_HOUR_FILES[0])), "EURUSD", Date.parse("2019-02-04T00:00:00Z"));
		const recv = "2026-12-08T00:40:00.000Z";
		const [v2] = quoteWirePayloads(hour, inst, "dukascopy", recv, 5000);
		const [v3] = quoteColumnPayloads(hour, inst, "dukascopy", recv, 5000);
		const delivery = (id: string, payload: Buffer): Delivery => ({ id, topic: "market-data/fx/historical/dukascopy/eurusd/quotes", key: "EUR-USD-SPOT", payload, deliveryCount: 1, publishTime: Date.now() });
		const dump = async () =>
			JSON.stringify(
				(await db.pool.query("SELECT venue, symbol, time, seq, bid::text, ask::text, bid_qty::text, ask_qty::text, recv_time FROM quotes ORDER BY time, seq")).rows,
			);
		const w = writer();
		expect(await w.writeBatch([delivery("1", v2)])).toMatchObject({ quotes: hour.count, insertedQuotes: hour.count });
		const asV2 = await dump();
		await db.pool.query("TRUNCATE quotes");
		expect(await w.writeBatch([delivery("2", v3)])).toMatchObject({ quotes: hour.count, insertedQuotes: hour.count, binaryRefused: 0 });
		expect(await dump()).toBe(asV2);
		await db.pool.query("TRUNCATE quotes");
		// binary rows PostgreSQL refuses (a field count of 14 for 9 columns): the rows go by text, rendered from the records
		const refused = { ...decodeWireForCopy(v3), binary: Buffer.from([0, 14, 0, 0, 0, 1]) };
		expect(await w.writeBatch([delivery("3", v3)], [refused])).toMatchObject({ insertedQuotes: hour.count, binaryRefused: 1 });
		expect(await dump()).toBe(asV2);
		// redelivered: nothing new, through the staging table
		expect(await w.writeBatch([delivery("4", v3)])).toMatchObject({ insertedQuotes: 0, duplicates: hour.count });
		expect(await dump()).toBe(asV2);
	});

	it("dead-letters a malformed message, keeps the good items of a partly bad one, and goes on", async () => {
		const w = writer();
		await w.start();
		const good = trades(0, 10);
		const partly = [...trades(10, 3), { ...trades(13, 1)[0], price: "NaN" }, { ...trades(14, 1)[0], price: "0" }, { ...trades(15, 1)[0], qty: "0.0" }];
		await log.publish(TOPIC, "BTC-USD-SPOT", [
			Buffer.from("{this is not json"),
			encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", good)),
			Buffer.from(JSON.stringify({ v: 1, kind: "trade", venue: "kraken", symbol: "BTC-USD-SPOT", items: partly })),
		]);
		await waitFor(async () => (await count(db, "SELECT count(*) AS n FROM dead_letters")) === 2, { what: "two dead letters" });
		await waitFor(() => w.stats.trades === 13);
		const { rows } = await db.pool.query("SELECT reason, convert_from(payload, 'UTF8') AS p, topic FROM dead_letters ORDER BY id");
		expect(rows[0].reason).toMatch(/not JSON/);
		expect(rows[0].p).toBe("{this is not json");
		expect(rows[0].topic).toBe(TOPIC);
		expect(rows[1].reason).toMatch(/item 3: price "NaN"/);
		expect(rows[1].reason).toMatch(/item 4: price "0" is not a decimal string > 0; item 5: qty "0.0" is not a decimal string > 0/);
		// the stream goes on
		await log.publish(TOPIC, "BTC-USD-SPOT", [encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", trades(100, 5)))]);
		await waitFor(async () => (await count(db, "SELECT count(*) AS n FROM trades")) === 18, { what: "18 trades" });
		expect(w.stats.deadLetters).toBe(2);
	});

	it("isolates a message the database refuses without blocking the others", async () => {
		// A rule only the database knows (as a CHECK an operator might add): the codec cannot see it coming.
		await db.pool.query("ALTER TABLE trades ADD CONSTRAINT sane_price CHECK (price < 1000000)");
		const w = writer();
		const bad = { ...trades(5, 1)[0], price: "99999999.5" };
		await log.publish(TOPIC, "BTC-USD-SPOT", [
			encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", trades(0, 5))),
			encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", [bad])),
			encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", trades(6, 5))),
		]);
		await w.start();
		await waitFor(async () => (await count(db, "SELECT count(*) AS n FROM trades")) === 10, { what: "10 good trades" });
		await waitFor(async () => (await count(db, "SELECT count(*) AS n FROM dead_letters WHERE reason LIKE 'rejected by database%'")) === 1, { what: "the bad one dead-lettered" });
	});

	it("stores quotes and marks quote buckets", async () => {
		const w = writer();
		await w.start();
		const q = (seq: number, time: string) => ({ seq: String(seq), bid: "1.09123", ask: "1.09125", bidQty: "1.5", askQty: null, time, recvTime: time });
		await log.publish("market-data/fx/raw/dukascopy/eurusd/quotes", "EUR-USD-SPOT", [
			encodeEnvelope(quoteEnvelope("dukascopy", "EUR-USD-SPOT", [q(0, "2024-01-15T13:00:00.001Z"), q(1, "2024-01-15T13:00:00.001Z"), q(0, "2024-01-15T13:01:00Z")])),
		]);
		await waitFor(() => w.stats.quotes === 3);
		expect(await count(db, "SELECT count(*) AS n FROM quotes WHERE ask_qty IS NULL AND bid = 1.09123")).toBe(3);
		expect(await count(db, "SELECT count(*) AS n FROM dirty_buckets WHERE source = 'quotes'")).toBe(2);
	});

	it("lets several writers on one subscription share the work", async () => {
		const a = writer({ pullMax: 5, maxBatchRows: 500 });
		const b = writer({ pullMax: 5, maxBatchRows: 500 });
		await a.start();
		await b.start();
		const all = trades(0, 10_000);
		for (let i = 0; i < all.length; i += 50) await log.publish(TOPIC, "BTC-USD-SPOT", [encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", all.slice(i, i + 50)))]);
		await waitFor(() => a.stats.trades + b.stats.trades >= 10_000, { what: "all trades" });
		expect(a.stats.trades).toBeGreaterThan(0);
		expect(b.stats.trades).toBeGreaterThan(0);
		expect(await count(db, "SELECT count(*) AS n FROM trades")).toBe(10_000);
	});
});
