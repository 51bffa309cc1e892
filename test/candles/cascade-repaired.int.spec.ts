/**
 * Repaired candles through the cascade (sql/009): a 1m candle filled from venue candles for a feed gap has no
 * ticks; the cascade keeps it when its minute is rebuilt, and flags every level above whose window holds one.
 * The cycle probes once whether any repaired 1m candle exists and skips the repaired-minutes work when none does,
 * so these tests also cover the switch between the two paths.
 */
import { runCascadeCycle, type CycleResult } from "../../lib/candles/cascade";
import { fillRepairedMinutes, storeRepairCandles } from "../../lib/candles/repair";
import { TIMEFRAMES, CANDLE_TABLE } from "../../lib/domain/timeframes";
import type { TestDb } from "../helpers/db";
import { candleDb, markDirty, writeQuotes, type Q } from "./fixtures";

const VENUE = "oanda";
const SYM = "REP-USD-SPOT";
const OTHER = "TICK-USD-SPOT";

let db: TestDb;

async function cycle(): Promise<CycleResult> {
	return runCascadeCycle(db.pool, { fenceToken: 1, holder: "repair-test" });
}

function quote(symbol: string, time: string, bid: string, ask: string): Q {
	return { venue: VENUE, symbol, time, seq: "0", bid, ask, bidQty: "1", askQty: "1" };
}

/** repaired flag and high per level for the window containing `at`, of one symbol and price type. */
async function flags(symbol: string, priceType: string, at: string): Promise<Record<string, { repaired: boolean; high: string } | null>> {
	const out: Record<string, { repaired: boolean; high: string } | null> = {};
	for (const tf of TIMEFRAMES) {
		const r = await db.pool.query<{ repaired: boolean; high: string }>(
			`SELECT repaired, high::text AS high FROM ${CANDLE_TABLE[tf]} WHERE venue = $1 AND symbol = $2 AND price_type = $3 AND bucket <= $4 ORDER BY bucket DESC LIMIT 1`,
			[VENUE, symbol, priceType, at],
		);
		out[tf] = r.rows[0] ?? null;
	}
	return out;
}

beforeAll(async () => {
	db = await candleDb("cascade_repaired");
});

afterAll(async () => {
	await db?.drop();
});

describe("repaired candles in the cascade", () => {
	it("without any repaired candle nothing is flagged", async () => {
		await writeQuotes(db.pool, [quote(SYM, "2024-03-04T10:00:10Z", "1.10", "1.12"), quote(OTHER, "2024-03-04T10:00:20Z", "2.10", "2.12")]);
		const r = await cycle();
		expect(r.claimed).toBe(2);
		for (const tf of TIMEFRAMES) expect(r.perLevel[tf]).toBe(6); // bid, ask, mid of two symbols
		const f = await flags(SYM, "mid", "2024-03-04T10:00:00Z");
		for (const tf of TIMEFRAMES) expect({ tf, repaired: f[tf]?.repaired }).toEqual({ tf, repaired: false });
	});

	it("a repaired minute flags every level above it and enters their values; other windows stay unflagged", async () => {
		const target = { venue: VENUE, symbol: SYM, granularity: "S5", gapId: null };
		const stored = await storeRepairCandles(db.pool, target, [
			{ time: "2024-03-04T10:01:00Z", bid: { open: "1.11", high: "1.30", low: "1.05", close: "1.12" }, ask: { open: "1.13", high: "1.32", low: "1.07", close: "1.14" }, volume: "3" },
			{ time: "2024-03-04T10:01:05Z", bid: { open: "1.12", high: "1.20", low: "1.10", close: "1.15" }, ask: { open: "1.14", high: "1.22", low: "1.12", close: "1.17" }, volume: "2" },
		]);
		expect(stored).toBe(6);
		expect(await fillRepairedMinutes(db.pool, target, "2024-03-04T10:01:00Z", "2024-03-04T10:02:00Z")).toEqual(["2024-03-04T10:01:00.000Z"]);

		const r = await cycle();
		expect(r.claimed).toBe(1);
		// the repaired minute's three candles are listed at 1m (kept, not deleted), and their parents rewritten
		expect(r.perLevel).toEqual(Object.fromEntries(TIMEFRAMES.map((tf) => [tf, 3])));

		for (const p of ["bid", "ask", "mid"]) {
			const f = await flags(SYM, p, "2024-03-04T10:01:00Z");
			for (const tf of TIMEFRAMES) expect({ tf, p, repaired: f[tf]?.repaired }).toEqual({ tf, p, repaired: true });
		}
		// the repaired bid high (1.30) is above the ticks' 1.10: every level from 5m up carries it
		const bid = await flags(SYM, "bid", "2024-03-04T10:01:00Z");
		for (const tf of TIMEFRAMES) expect({ tf, high: bid[tf]?.high }).toEqual({ tf, high: "1.30" });
		// the minute with ticks keeps its own candle, unflagged, and so does the other symbol at every level
		expect((await flags(SYM, "bid", "2024-03-04T10:00:00Z"))["1m"]).toEqual({ repaired: false, high: "1.10" });
		const other = await flags(OTHER, "mid", "2024-03-04T10:01:00Z");
		for (const tf of TIMEFRAMES) expect({ tf, repaired: other[tf]?.repaired }).toEqual({ tf, repaired: false });
	});

	it("rebuilding a repaired minute that still has no ticks keeps it and its flags", async () => {
		await markDirty(db.pool, "quotes", [{ venue: VENUE, symbol: SYM, time: "2024-03-04T10:01:30Z" }]);
		const r = await cycle();
		expect(r.claimed).toBe(1);
		// listed at 1m so the levels above are rebuilt over it; they come out the same, so nothing is written there
		expect(r.perLevel).toEqual(Object.fromEntries(TIMEFRAMES.map((tf) => [tf, tf === "1m" ? 3 : 0])));
		const n = await db.pool.query("SELECT count(*)::int AS n FROM candles_1m WHERE venue = $1 AND symbol = $2 AND repaired", [VENUE, SYM]);
		expect(n.rows[0].n).toBe(3);
		for (const p of ["bid", "ask", "mid"]) {
			const f = await flags(SYM, p, "2024-03-04T10:01:00Z");
			for (const tf of TIMEFRAMES) expect({ tf, p, repaired: f[tf]?.repaired }).toEqual({ tf, p, repaired: true });
		}
	});

	it("new ticks in a flagged window keep the flag while the repaired minute is there", async () => {
		await writeQuotes(db.pool, [quote(SYM, "2024-03-04T10:02:10Z", "1.09", "1.11")]);
		const r = await cycle();
		expect(r.claimed).toBe(1);
		const f = await flags(SYM, "bid", "2024-03-04T10:02:00Z");
		expect(f["1m"]).toEqual({ repaired: false, high: "1.09" });
		for (const tf of TIMEFRAMES.slice(1)) expect({ tf, repaired: f[tf]?.repaired, high: f[tf]?.high }).toEqual({ tf, repaired: true, high: "1.30" });
	});
});
