import { freshDatabase, type TestDb } from "../helpers/db";
import { migrate } from "../../lib/store/migrate";
import { claimSlots, queryBooks, releaseSlot, storeClaimedSnapshot, type SlotKey } from "../../lib/orderbook/store";
import type { BookSnapshot } from "../../lib/orderbook/types";

/** The slot claims of lib/orderbook/store.ts on a real PostgreSQL, step by step. */
describe("book snapshot slot claims", () => {
	let db: TestDb;
	const slot: SlotKey = { venue: "binance", symbol: "BTC-USDT-SPOT", source: "rest", slot: "2024-03-01T10:00:00.250Z" };
	const snap = (time: string, bid: string): BookSnapshot => ({
		venue: "binance",
		symbol: "BTC-USDT-SPOT",
		source: "rest",
		time,
		recvTime: time,
		lastUpdateId: "14527958487",
		checksum: null,
		bids: [[bid, "0.00213000"]],
		asks: [["60650.01000000", "0.5"]],
	});

	beforeAll(async () => {
		db = await freshDatabase("books_slots");
		await migrate(db.pool);
	});
	afterAll(() => db?.drop());

	it("one claimer at a time; a lapsed lease passes to another; only the current claimer stores", async () => {
		const a = await claimSlots(db.pool, "a", 60_000, [slot]);
		expect(a.claimed).toHaveLength(1);
		const b = await claimSlots(db.pool, "b", 60_000, [slot]);
		expect(b).toEqual({ claimed: [], done: [] }); // held by a

		// a's lease lapses (a went silent): b takes the slot over with a new token
		await db.pool.query("UPDATE book_poll_slots SET lease_until = now() - interval '1 second'");
		const b2 = await claimSlots(db.pool, "b", 60_000, [slot]);
		expect(b2.claimed).toHaveLength(1);
		expect(b2.claimed[0].token).not.toBe(a.claimed[0].token);

		// a wakes up and tries to store: refused, nothing written
		expect(await storeClaimedSnapshot(db.pool, a.claimed[0], snap("2024-03-01T10:00:00.300Z", "60650.00000000"))).toBe(false);
		expect(await storeClaimedSnapshot(db.pool, b2.claimed[0], snap("2024-03-01T10:00:00.400Z", "60649.00000000"))).toBe(true);
		const rows = await queryBooks(db.pool, { venue: "binance", symbol: "BTC-USDT-SPOT", from: null, to: null, source: null, limit: 10 });
		expect(rows.map((r) => r.bids)).toEqual([[["60649.00000000", "0.00213000"]]]);

		// done: nobody claims it again, everybody learns it is done
		await db.pool.query("UPDATE book_poll_slots SET lease_until = now() - interval '1 second'");
		expect(await claimSlots(db.pool, "a", 60_000, [slot])).toEqual({ claimed: [], done: [slot] });
	});

	it("a released claim (failed fetch) can be claimed again at once", async () => {
		const s2 = { ...slot, slot: "2024-03-01T10:00:01.250Z" };
		const a = await claimSlots(db.pool, "a", 60_000, [s2]);
		await releaseSlot(db.pool, a.claimed[0]);
		const b = await claimSlots(db.pool, "b", 60_000, [s2]);
		expect(b.claimed).toHaveLength(1);
		const { rows } = await db.pool.query("SELECT owner, attempts FROM book_poll_slots WHERE slot = $1", [s2.slot]);
		expect(rows).toEqual([{ owner: "b", attempts: 2 }]);
	});
});
