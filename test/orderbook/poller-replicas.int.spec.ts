import { freshDatabase, waitFor, type TestDb } from "../helpers/db";
import { FakeBinance, REAL_DEPTH } from "../helpers/fake-binance";
import { FakeKrakenRest } from "../helpers/fake-kraken-rest";
import { startService, type Child } from "../helpers/proc";
import { migrate } from "../../lib/store/migrate";

/**
 * Two orderbook-poller processes on one PostgreSQL, polling fake Kraken and Binance REST (the recorded depth
 * answers): every interval slot of every book is stored exactly once, the two share the work, and when one is
 * killed the other takes its claimed slots over, so no slot is missed.
 */
const INTERVAL_MS = 2000;
const BOOKS = ["kraken/BTC-USD-SPOT", "kraken/ETH-USD-SPOT", "binance/BTC-USDT-SPOT", "binance/ETH-USDT-PERP"];

describe("orderbook-poller replicas (two processes, real PostgreSQL)", () => {
	let db: TestDb;
	let binance: FakeBinance;
	let kraken: FakeKrakenRest;
	const children: Child[] = [];

	const env = (node: string) => ({
		DATABASE_URL: db.url,
		SERVICES: "orderbook-poller",
		METRICS_PORT: "0",
		NODE_ID: node,
		NAMESPACE: `books${process.pid}`,
		KRAKEN_REST_URL: kraken.url,
		KRAKEN_REST_RATE_PER_SEC: "50",
		BINANCE_REST_URL: binance.url,
		BINANCE_USDM_REST_URL: binance.url,
		KRAKEN_SYMBOLS: "BTC/USD,ETH/USD",
		ORDERBOOK_SYMBOLS: "binance:BTC-USDT-SPOT,binance:ETH-USDT-PERP",
		ORDERBOOK_POLL_INTERVAL_MS: String(INTERVAL_MS),
		ORDERBOOK_CLAIM_TTL_MS: "600",
	});

	/** Done slots per book, oldest first, with who did them. */
	async function doneSlots(): Promise<Map<string, { slot: number; owner: string; time: string }[]>> {
		const r = await db.pool.query(`SELECT venue || '/' || symbol AS book, slot, owner, snapshot_time FROM book_poll_slots WHERE done_at IS NOT NULL AND source = 'rest' ORDER BY slot`);
		const m = new Map<string, { slot: number; owner: string; time: string }[]>(BOOKS.map((b) => [b, []]));
		for (const x of r.rows) m.get(x.book)?.push({ slot: x.slot.getTime(), owner: x.owner, time: x.snapshot_time.toISOString() });
		return m;
	}

	beforeAll(async () => {
		db = await freshDatabase("books_replicas");
		await migrate(db.pool);
		binance = await new FakeBinance().start();
		kraken = await new FakeKrakenRest().start();
		for (const n of ["poller-a", "poller-b"]) children.push(startService(env(n)));
		await Promise.all(children.map((c) => c.waitForOutput(/polling 4 order books \(from the config\)/, 60_000)));
	}, 90_000);

	afterAll(async () => {
		for (const c of children) await c.kill("SIGKILL");
		await binance?.stop();
		await kraken?.stop();
		await db?.drop();
	});

	it("stores every slot of every book once, shared by both, and the survivor covers a killed replica's slots", async () => {
		// Both replicas at work, several slots deep.
		await waitFor(
			async () => {
				const m = await doneSlots();
				const owners = new Set([...m.values()].flat().map((s) => s.owner.split("/")[0]));
				return BOOKS.every((b) => m.get(b)!.length >= 5) && owners.has("poller-a") && owners.has("poller-b");
			},
			{ timeoutMs: 60_000, intervalMs: 200, what: "five slots of each book, done by both replicas" },
		);
		await children[0].kill("SIGKILL");
		const killedAt = Date.now();
		await waitFor(
			async () => {
				const m = await doneSlots();
				return BOOKS.every((b) => m.get(b)!.filter((s) => s.slot > killedAt).length >= 3);
			},
			{ timeoutMs: 60_000, intervalMs: 200, what: "three more slots of each book after the kill" },
		);
		await children[1].kill("SIGTERM");

		const m = await doneSlots();
		const stored = await db.pool.query(`SELECT venue || '/' || symbol AS book, time, last_update_id::text, bids, asks, recv_time FROM book_snapshots WHERE source = 'rest'`);
		for (const book of BOOKS) {
			const slots = m.get(book)!;
			// None missed: from the first to the last done slot, one every interval.
			for (let i = 1; i < slots.length; i++) expect(slots[i].slot - slots[i - 1].slot).toBe(INTERVAL_MS);
			// None twice: one snapshot per done slot, and each slot's snapshot is there.
			const rows = stored.rows.filter((r) => r.book === book);
			expect(rows).toHaveLength(slots.length);
			expect(new Set(rows.map((r) => r.time.toISOString()))).toEqual(new Set(slots.map((s) => s.time)));
		}
		// A request per stored snapshot, plus at most the one the killed replica had in flight per book.
		const requests: Record<string, number> = {
			"kraken/BTC-USD-SPOT": kraken.depthRequests().filter((r) => r.query.pair === "XBTUSD").length,
			"kraken/ETH-USD-SPOT": kraken.depthRequests().filter((r) => r.query.pair === "ETHUSD").length,
			"binance/BTC-USDT-SPOT": binance.depthRequests("/api/v3/depth").filter((r) => r.query.symbol === "BTCUSDT").length,
			"binance/ETH-USDT-PERP": binance.depthRequests("/fapi/v1/depth").filter((r) => r.query.symbol === "ETHUSDT").length,
		};
		for (const book of BOOKS) {
			const n = m.get(book)!.length;
			expect(requests[book]).toBeGreaterThanOrEqual(n);
			expect(requests[book] - n).toBeLessThanOrEqual(1);
		}
		// Exact levels, Binance's lastUpdateId, depth asked for.
		const spot = stored.rows.find((r) => r.book === "binance/BTC-USDT-SPOT")!;
		expect(spot.bids).toEqual(REAL_DEPTH.bids);
		expect(spot.asks).toEqual(REAL_DEPTH.asks);
		expect(BigInt(spot.last_update_id)).toBeGreaterThanOrEqual(BigInt(REAL_DEPTH.lastUpdateId));
		expect(spot.time.getTime()).toBe(spot.recv_time.getTime()); // spot depth has no time: retrieval time
		const krakenRow = stored.rows.find((r) => r.book === "kraken/BTC-USD-SPOT")!;
		expect(krakenRow.asks[0]).toEqual(["105944.30000", "0.136"]);
		expect(krakenRow.last_update_id).toBeNull();
		expect(kraken.depthRequests()[0].query.count).toBe("100");
		expect(binance.depthRequests("/fapi/v1/depth")[0].query.limit).toBe("100");
	}, 150_000);
});
