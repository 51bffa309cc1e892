import type { PoolClient } from "pg";
import { FencedOutError, currentFenceToken, levelRebuildSql, minuteRebuildSql, rebuildAll, runCascadeCycle, type CycleResult } from "../../lib/candles/cascade";
import { TIMEFRAMES, CANDLE_TABLE, type Timeframe } from "../../lib/domain/timeframes";
import type { PriceType } from "../../lib/domain/types";
import { waitFor, type TestDb } from "../helpers/db";
import { candleDb, directCandles, randomQuotes, randomTrades, storedCandles, updatedAt, writeQuotes, writeTrades, isoMicro } from "./fixtures";

const START = Date.parse("2024-01-15T09:13:00Z"); // 5.5 hours across the 12:00 (12h, 4h) boundary
const MINUTES = 330;
const TOKEN = 5n;
const HOLDER = "test-leader";

let db: TestDb;

async function cycle(extra: { maxDirty?: number } = {}): Promise<CycleResult> {
	return runCascadeCycle(db.pool, { fenceToken: TOKEN, holder: HOLDER, ...extra });
}

async function expectAllLevelsMatchTicks(prices: PriceType[]): Promise<void> {
	for (const p of prices) {
		for (const tf of TIMEFRAMES) {
			const direct = await directCandles(db.pool, tf, p);
			const stored = await storedCandles(db.pool, tf, p);
			expect(direct.length).toBeGreaterThan(0);
			// toEqual on rows of strings: every column exactly, in bucket order
			expect({ tf, p, rows: stored }).toEqual({ tf, p, rows: direct });
		}
	}
}

async function dirtyCount(): Promise<number> {
	return Number((await db.pool.query("SELECT count(*) AS n FROM dirty_buckets")).rows[0].n);
}

async function snapshotUpdatedAt(): Promise<Record<Timeframe, Map<string, string>>> {
	const out = {} as Record<Timeframe, Map<string, string>>;
	for (const tf of TIMEFRAMES) out[tf] = await updatedAt(db.pool, tf);
	return out;
}

beforeAll(async () => {
	db = await candleDb("cascade");
});

afterAll(async () => {
	await db?.drop();
});

describe("runCascadeCycle", () => {
	it("builds every level from trades and quotes exactly as a direct aggregation of the ticks", async () => {
		const btc = randomTrades(1, "kraken", "BTC-USD-SPOT", START, MINUTES, 5);
		const eth = randomTrades(2, "kraken", "ETH-USD-SPOT", START + 7 * 60_000, MINUTES - 20, 9);
		const eur = randomQuotes(3, "dukascopy", "EUR-USD-SPOT", START, MINUTES, 7);
		expect(btc.length).toBeGreaterThan(1000);
		await writeTrades(db.pool, btc);
		await writeTrades(db.pool, eth);
		await writeQuotes(db.pool, eur);
		const marked = await dirtyCount();

		// a small maxDirty splits the work over many cycles, re-deriving shared parents each time
		let claimed = 0;
		let cycles = 0;
		for (;;) {
			const r = await cycle({ maxDirty: 97 });
			if (!r.claimed) break;
			expect(r.claimed).toBeLessThanOrEqual(97);
			claimed += r.claimed;
			cycles++;
		}
		expect(claimed).toBe(marked);
		expect(cycles).toBe(Math.ceil(marked / 97));
		expect(await dirtyCount()).toBe(0);
		await expectAllLevelsMatchTicks(["trade", "bid", "ask", "mid"]);

		// mid is exactly (bid + ask) / 2 and its volume half the summed sizes, checked by value with NUMERIC division
		const bad = await db.pool.query(
			`SELECT count(*) AS n FROM candles_1m m
			 JOIN candles_1m b ON b.venue = m.venue AND b.symbol = m.symbol AND b.bucket = m.bucket AND b.price_type = 'bid'
			 JOIN candles_1m a ON a.venue = m.venue AND a.symbol = m.symbol AND a.bucket = m.bucket AND a.price_type = 'ask'
			 WHERE m.price_type = 'mid' AND (m.open <> (b.open + a.open) / 2 OR m.close <> (b.close + a.close) / 2 OR m.volume <> (b.volume + a.volume) / 2
				OR m.trades <> b.trades OR m.trades <> a.trades)`,
		);
		expect(Number(bad.rows[0].n)).toBe(0);
		const mids = await db.pool.query("SELECT count(*) AS n FROM candles_1m WHERE price_type = 'mid'");
		expect(Number(mids.rows[0].n)).toBeGreaterThan(250);
	});

	it("cuts days at 00:00 UTC and weeks at Monday 00:00 UTC, across a Sunday-to-Monday boundary", async () => {
		// 2024-01-21 is a Sunday: 23:40 Sunday .. 00:20 Monday crosses a day and an ISO week boundary
		const xrp = randomTrades(11, "kraken", "XRP-USD-SPOT", Date.parse("2024-01-21T23:40:00Z"), 40, 4);
		const gbp = randomQuotes(12, "dukascopy", "GBP-USD-SPOT", Date.parse("2024-01-21T23:40:00Z"), 40, 7);
		await writeTrades(db.pool, xrp);
		await writeQuotes(db.pool, gbp);
		const r = await cycle();
		expect(r.perLevel["1d"]).toBe(2 + 2 * 3); // two days of trade candles, two of bid/ask/mid
		expect(r.perLevel["1w"]).toBe(2 + 2 * 3);
		const weeks = r.windows.find((w) => w.timeframe === "1w" && w.symbol === "XRP-USD-SPOT");
		expect(weeks).toEqual({ venue: "kraken", symbol: "XRP-USD-SPOT", timeframe: "1w", priceTypes: ["trade"], from: "2024-01-15T00:00:00.000Z", to: "2024-01-29T00:00:00.000Z" });
		const buckets = await db.pool.query(`SELECT DISTINCT bucket FROM candles_1w WHERE symbol = 'XRP-USD-SPOT' ORDER BY 1`);
		expect(buckets.rows.map((x) => x.bucket.toISOString())).toEqual(["2024-01-15T00:00:00.000Z", "2024-01-22T00:00:00.000Z"]);
		await expectAllLevelsMatchTicks(["trade", "bid", "ask", "mid"]);
		// and the full rebuild cuts them the same way
		const incremental = { d: await storedCandles(db.pool, "1d", "mid"), w: await storedCandles(db.pool, "1w", "trade") };
		await rebuildAll(db.pool, { fence: { token: TOKEN, holder: HOLDER } });
		expect({ d: await storedCandles(db.pool, "1d", "mid"), w: await storedCandles(db.pool, "1w", "trade") }).toEqual(incremental);
	});

	it("reports what it wrote: counts per level and a compact window summary", async () => {
		const t = randomTrades(4, "kraken", "SOL-USD-SPOT", Date.parse("2024-01-15T11:58:00Z"), 4, 3);
		await writeTrades(db.pool, t);
		const minutes = new Set(t.map((x) => x.time.slice(0, 16))).size;
		const r = await cycle();
		expect(r.claimed).toBe(minutes);
		expect(r.perLevel["1m"]).toBe(minutes);
		// 11:58..12:01 spans two 5m, 15m, 1h, 4h and 12h buckets
		for (const tf of ["5m", "15m", "1h", "4h", "12h"] as const) expect(r.perLevel[tf]).toBe(2);
		expect(r.perLevel["1d"]).toBe(1);
		expect(r.perLevel["1w"]).toBe(1);
		const w12 = r.windows.find((w) => w.timeframe === "12h");
		expect(w12).toEqual({ venue: "kraken", symbol: "SOL-USD-SPOT", timeframe: "12h", priceTypes: ["trade"], from: "2024-01-15T00:00:00.000Z", to: "2024-01-16T00:00:00.000Z" });
		expect(r.windows.filter((w) => w.timeframe === "1m")).toHaveLength(1);
		expect(r.durationMs).toBeGreaterThan(0);
	});

	it("a late trade in an old bucket rewrites that bucket at every level and nothing else", async () => {
		const before = await snapshotUpdatedAt();
		const late = { venue: "kraken", symbol: "BTC-USD-SPOT", time: isoMicro(Date.parse("2024-01-15T10:22:17.500Z"), 250), tradeId: "1", price: "1.00001", qty: "0.000000000001" };
		await writeTrades(db.pool, [late]);
		const r = await cycle();
		expect(r.claimed).toBe(1);
		const after = await snapshotUpdatedAt();
		const expected: Record<Timeframe, string> = {
			"1m": "2024-01-15T10:22:00Z",
			"5m": "2024-01-15T10:20:00Z",
			"15m": "2024-01-15T10:15:00Z",
			"1h": "2024-01-15T10:00:00Z",
			"4h": "2024-01-15T08:00:00Z",
			"12h": "2024-01-15T00:00:00Z",
			"1d": "2024-01-15T00:00:00Z",
			"1w": "2024-01-15T00:00:00Z", // that Monday starts the ISO week
		};
		for (const tf of TIMEFRAMES) {
			expect(r.perLevel[tf]).toBe(1);
			const key = `kraken/BTC-USD-SPOT/trade/${Date.parse(expected[tf]) / 1000}`;
			const changed = [...after[tf].entries()].filter(([k, u]) => before[tf].get(k) !== u).map(([k]) => k);
			expect({ tf, changed }).toEqual({ tf, changed: [key] });
			// only an empty minute gains a row; the levels above already had one
			expect(before[tf].has(key) || tf === "1m").toBe(true);
			expect(after[tf].size).toBe(before[tf].size + (before[tf].has(key) ? 0 : 1));
		}
		await expectAllLevelsMatchTicks(["trade"]);
		// the late trade is the new low at every level
		const low = await db.pool.query(`SELECT count(*) AS n FROM (${TIMEFRAMES.map((tf) => `SELECT low FROM ${CANDLE_TABLE[tf]} WHERE symbol = 'BTC-USD-SPOT' AND low = 1.00001`).join(" UNION ALL ")}) x`);
		expect(Number(low.rows[0].n)).toBe(TIMEFRAMES.length);
	});

	it("a second cycle with nothing dirty does nothing", async () => {
		const before = await snapshotUpdatedAt();
		const r = await cycle();
		expect(r.claimed).toBe(0);
		for (const tf of TIMEFRAMES) expect(r.perLevel[tf]).toBe(0);
		expect(r.windows).toEqual([]);
		expect(await snapshotUpdatedAt()).toEqual(before);
	});

	it("re-marking minutes whose ticks did not change writes nothing above 1m", async () => {
		const before = await snapshotUpdatedAt();
		await db.pool.query(`INSERT INTO dirty_buckets (venue, symbol, source, bucket) VALUES ('kraken', 'BTC-USD-SPOT', 'trades', '2024-01-15T10:30:00Z'), ('dukascopy', 'EUR-USD-SPOT', 'quotes', '2024-01-15T10:31:00Z')`);
		const r = await cycle();
		expect(r.claimed).toBe(2);
		for (const tf of TIMEFRAMES) expect(r.perLevel[tf]).toBe(0);
		expect(await snapshotUpdatedAt()).toEqual(before);
	});

	it("deletes the candles of a window whose ticks are all gone, at every level that becomes empty", async () => {
		// SOL has ticks only in 11:58..12:01; drop the 12:00 and 12:01 ones, as retention or a correction would
		await db.pool.query(`DELETE FROM trades WHERE symbol = 'SOL-USD-SPOT' AND time >= '2024-01-15T12:00:00Z'`);
		await db.pool.query(`INSERT INTO dirty_buckets (venue, symbol, source, bucket) VALUES ('kraken', 'SOL-USD-SPOT', 'trades', '2024-01-15T12:00:00Z'), ('kraken', 'SOL-USD-SPOT', 'trades', '2024-01-15T12:01:00Z')`);
		const r = await cycle();
		expect(r.claimed).toBe(2);
		for (const tf of ["5m", "15m", "1h", "4h", "12h"] as const) {
			expect(r.perLevel[tf]).toBe(1);
			const n = await db.pool.query(`SELECT count(*) AS n FROM ${CANDLE_TABLE[tf]} WHERE symbol = 'SOL-USD-SPOT'`);
			expect(Number(n.rows[0].n)).toBe(1); // only the 11:xx side is left
		}
		await expectAllLevelsMatchTicks(["trade"]);
	});

	it("a stale fencing token throws FencedOutError and changes nothing", async () => {
		const t = { venue: "kraken", symbol: "BTC-USD-SPOT", time: isoMicro(Date.parse("2024-01-15T11:00:05Z"), 0), tradeId: "2", price: "41000.5", qty: "2" };
		await writeTrades(db.pool, [t]);
		const before = await snapshotUpdatedAt();
		const err = await runCascadeCycle(db.pool, { fenceToken: TOKEN - 1n, holder: "old-leader" }).catch((e) => e);
		expect(err).toBeInstanceOf(FencedOutError);
		expect(err.currentToken).toBe(TOKEN);
		expect(err.currentHolder).toBe(HOLDER);
		expect(await dirtyCount()).toBe(1);
		expect(await snapshotUpdatedAt()).toEqual(before);
		const f = await db.pool.query("SELECT token, holder FROM leader_fence WHERE name = 'cascade-refresher'");
		expect(f.rows[0]).toEqual({ token: String(TOKEN), holder: HOLDER });
		expect(await currentFenceToken(db.pool)).toBe(TOKEN);
		// the same token again, or a newer one, is accepted
		const r = await cycle();
		expect(r.claimed).toBe(1);
		await expectAllLevelsMatchTicks(["trade"]);
	});

	it("the fence is strict: the same token from another holder is refused, the holder's own token and a newer one pass", async () => {
		const err = await runCascadeCycle(db.pool, { fenceToken: TOKEN, holder: "other-leader-same-token" }).catch((e) => e);
		expect(err).toBeInstanceOf(FencedOutError);
		expect(err.currentHolder).toBe(HOLDER);
		await expect(rebuildAll(db.pool, { fence: { token: TOKEN, holder: "other-leader-same-token" } })).rejects.toBeInstanceOf(FencedOutError);
		expect((await cycle()).claimed).toBeGreaterThanOrEqual(0);
		await runCascadeCycle(db.pool, { fenceToken: TOKEN + 1n, holder: "next-leader" });
		expect(await currentFenceToken(db.pool)).toBe(TOKEN + 1n);
		await expect(cycle()).rejects.toBeInstanceOf(FencedOutError);
		// the later tests lead with TOKEN again
		await db.pool.query("UPDATE leader_fence SET token = $1, holder = $2 WHERE name = 'cascade-refresher'", [TOKEN.toString(), HOLDER]);
	});

	it("a fence of another name is created on first use and fences independently", async () => {
		const r = await runCascadeCycle(db.pool, { fenceToken: "3", holder: "x", fenceName: "other-fence" });
		expect(r.claimed).toBe(0);
		await expect(runCascadeCycle(db.pool, { fenceToken: 2, holder: "y", fenceName: "other-fence" })).rejects.toBeInstanceOf(FencedOutError);
		expect(await currentFenceToken(db.pool, "other-fence")).toBe(3n);
	});

	it("skips a mark that a writer still holds, and picks it up after the writer commits", async () => {
		// a committed mark for 11:10 already exists when a second writer touches the same minute
		const first = { venue: "kraken", symbol: "BTC-USD-SPOT", time: isoMicro(Date.parse("2024-01-15T11:10:01Z"), 0), tradeId: "3", price: "41001", qty: "1" };
		await writeTrades(db.pool, [first]);
		const writer: PoolClient = await db.pool.connect();
		try {
			await writer.query("BEGIN");
			await writeTrades(writer, [{ ...first, tradeId: "4", price: "45000.123", qty: "3.5" }]);
			const r1 = await cycle(); // must not block on the writer, nor claim the minute it holds
			expect(r1.claimed).toBe(0);
			await writer.query("COMMIT");
		} finally {
			writer.release();
		}
		expect(await dirtyCount()).toBe(1);
		const r2 = await cycle();
		expect(r2.claimed).toBe(1);
		await expectAllLevelsMatchTicks(["trade"]);
	});

	it("keeps a mark made while a cycle runs on the same minute", async () => {
		const minute = "2024-01-15T11:20:00Z";
		await writeTrades(db.pool, [{ venue: "kraken", symbol: "BTC-USD-SPOT", time: isoMicro(Date.parse(minute) + 1000, 0), tradeId: "5", price: "41002", qty: "1" }]);
		// hold the 1h candle the cycle will rewrite, so the cycle stops mid-way with its claim done
		const blocker = await db.pool.connect();
		const writer = await db.pool.connect();
		try {
			await blocker.query("BEGIN");
			await blocker.query(`SELECT 1 FROM candles_1h WHERE symbol = 'BTC-USD-SPOT' AND bucket = '2024-01-15T11:00:00Z' FOR UPDATE`);
			const running = cycle();
			const lockWaiters = async () =>
				Number((await db.pool.query(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).rows[0].n);
			await waitFor(async () => (await lockWaiters()) === 1, { what: "the cycle to wait on the held 1h candle" });
			// a writer commits a new trade in the minute the running cycle has claimed
			await writer.query("BEGIN");
			const writing = writeTrades(writer, [{ venue: "kraken", symbol: "BTC-USD-SPOT", time: isoMicro(Date.parse(minute) + 2000, 0), tradeId: "6", price: "47000", qty: "9" }]).then(() =>
				writer.query("COMMIT"),
			);
			await waitFor(async () => (await lockWaiters()) === 2, { what: "the writer to wait on the claimed mark" });
			await blocker.query("COMMIT");
			const r = await running;
			await writing;
			expect(r.claimed).toBe(1);
		} finally {
			blocker.release();
			writer.release();
		}
		expect(await dirtyCount()).toBe(1);
		const stale = await db.pool.query(`SELECT high FROM candles_1m WHERE symbol = 'BTC-USD-SPOT' AND bucket = $1`, [minute]);
		expect(stale.rows[0].high).not.toBe("47000"); // not in the candles yet ...
		expect((await cycle()).claimed).toBe(1);
		await expectAllLevelsMatchTicks(["trade"]); // ... but after the next cycle
		const fresh = await db.pool.query(`SELECT high FROM candles_1m WHERE symbol = 'BTC-USD-SPOT' AND bucket = $1`, [minute]);
		expect(fresh.rows[0].high).toBe("47000");
	});
});

describe("rebuildAll", () => {
	it("does not wait for readers, and readers keep the old candles until it commits", async () => {
		const before = (await db.pool.query(`SELECT count(*)::int AS n FROM ${CANDLE_TABLE["1h"]}`)).rows[0].n as number;
		expect(before).toBeGreaterThan(0);
		// A reader inside a transaction holds ACCESS SHARE locks on the candle tables it read: TRUNCATE would wait
		// for it (and this test would time out); rebuildAll must finish while the reader is still open.
		const reader = await db.pool.connect();
		try {
			await reader.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
			for (const tf of TIMEFRAMES) await reader.query(`SELECT count(*) FROM ${CANDLE_TABLE[tf]}`);
			await rebuildAll(db.pool, { fence: { token: TOKEN, holder: HOLDER } });
			// Its snapshot still shows every old candle: no reader ever sees empty tables.
			expect((await reader.query(`SELECT count(*)::int AS n FROM ${CANDLE_TABLE["1h"]}`)).rows[0].n).toBe(before);
			await reader.query("COMMIT");
		} finally {
			reader.release();
		}
	}, 30_000);

	it("rebuilds exactly what the incremental cascade built", async () => {
		const dump = async () => {
			const out: Record<string, unknown[]> = {};
			for (const tf of TIMEFRAMES) {
				out[tf] = (await db.pool.query(`SELECT venue, symbol, price_type, bucket, open::text, high::text, low::text, close::text, volume::text, trades FROM ${CANDLE_TABLE[tf]} ORDER BY 1, 2, 3, 4`)).rows;
			}
			return out;
		};
		const incremental = await dump();
		await db.pool.query(`INSERT INTO dirty_buckets (venue, symbol, source, bucket) VALUES ('kraken', 'BTC-USD-SPOT', 'trades', '2024-01-15T10:30:00Z')`);
		const r = await rebuildAll(db.pool, { fence: { token: TOKEN, holder: HOLDER } });
		expect(r.clearedDirty).toBe(1);
		for (const tf of TIMEFRAMES) expect(r.perLevel[tf]).toBe(incremental[tf].length);
		expect(await dump()).toEqual(incremental);
		await expect(rebuildAll(db.pool, { fence: { token: 1n, holder: "old" } })).rejects.toBeInstanceOf(FencedOutError);
	});
});

type PlanNode = { "Node Type": string; "Relation Name"?: string; "Index Name"?: string; Plans?: PlanNode[] };

function planNodes(n: PlanNode, out: PlanNode[] = []): PlanNode[] {
	out.push(n);
	for (const c of n.Plans ?? []) planNodes(c, out);
	return out;
}

/** The plan of a statement; `rangeOnly` hides sequential scans, to show a range scan exists where the planner would rightly scan a tiny table whole. */
async function explain(sql: string, params: unknown[], rangeOnly = false): Promise<PlanNode[]> {
	const client = await db.pool.connect();
	try {
		await client.query("BEGIN");
		if (rangeOnly) await client.query("SET LOCAL enable_seqscan = off");
		const r = await client.query(`EXPLAIN (FORMAT JSON) ${sql}`, params);
		return planNodes(r.rows[0]["QUERY PLAN"][0].Plan);
	} finally {
		await client.query("ROLLBACK");
		client.release();
	}
}

function scansOf(nodes: PlanNode[], table: string): string[] {
	// a Bitmap Heap Scan is fed by a Bitmap Index Scan on the key (which carries no Relation Name): a range scan too
	return nodes.filter((n) => n["Relation Name"] === table && n["Node Type"].endsWith("Scan")).map((n) => n["Node Type"]);
}

describe("cost follows the dirty windows, not the history", () => {
	it("uses primary-key range scans on a large history", async () => {
		// 200k trades, one every 20 s (~46 days), then their candles via the full rebuild
		await db.pool.query(`INSERT INTO trades (venue, symbol, time, trade_id, price, qty, side, recv_time)
			SELECT 'kraken', 'BIG-USD-SPOT', t, i, 100 + (i % 97) * 0.01, 0.001 * (i % 13 + 1), NULL, t
			FROM generate_series(1, 200000) AS i, LATERAL (SELECT timestamptz '2023-06-01 00:00:00+00' + i * interval '20 seconds' AS t) x`);
		await db.pool.query(`INSERT INTO quotes (venue, symbol, time, seq, bid, ask, bid_qty, ask_qty, recv_time)
			SELECT 'dukascopy', 'BIG-JPY-SPOT', t, 0, 150 + (i % 89) * 0.001, 150.002 + (i % 89) * 0.001, 1000000, NULL, t
			FROM generate_series(1, 150000) AS i, LATERAL (SELECT timestamptz '2023-06-01 00:00:00+00' + i * interval '20 seconds' AS t) x`);
		await rebuildAll(db.pool);
		await db.pool.query("ANALYZE");
		const n1m = Number((await db.pool.query("SELECT count(*) AS n FROM candles_1m")).rows[0].n);
		expect(n1m).toBeGreaterThan(100_000);

		const minutes = ["2023-06-20T10:00:00Z", "2023-06-20T10:01:00Z", "2023-07-02T23:59:00Z"];
		for (const source of ["trades", "quotes"] as const) {
			const sym = source === "trades" ? "BIG-USD-SPOT" : "BIG-JPY-SPOT";
			const params = [minutes.map(() => "kraken"), minutes.map(() => sym), minutes];
			for (const stmt of [minuteRebuildSql(source, false), minuteRebuildSql(source, true)]) {
				const nodes = await explain(stmt, params);
				const scans = [...scansOf(nodes, source), ...scansOf(nodes, "candles_1m")];
				expect(scans.length).toBeGreaterThan(0);
				expect(scans.filter((s) => !/^(Index( Only)? Scan|Bitmap Heap Scan)$/.test(s))).toEqual([]);
			}
		}
		for (const tf of TIMEFRAMES.slice(1)) {
			const params = [["kraken"], ["BIG-USD-SPOT"], ["trade"], ["2023-06-20T00:00:00Z"]];
			// 46 days make only ~90 12h and ~46 1d rows: a whole-table scan is the planner's right choice there
			const tiny = tf === "1d" || tf === "1w";
			const nodes = await explain(levelRebuildSql(tf), params, tiny);
			const child = CANDLE_TABLE[TIMEFRAMES[TIMEFRAMES.indexOf(tf) - 1]];
			const scans = [...scansOf(nodes, child), ...scansOf(nodes, CANDLE_TABLE[tf])];
			expect(scans.length).toBeGreaterThan(0);
			expect({ tf, bad: scans.filter((s) => !/^(Index( Only)? Scan|Bitmap Heap Scan)$/.test(s)) }).toEqual({ tf, bad: [] });
		}

		// and a cycle over a few minutes of that history stays small and correct
		await writeTrades(db.pool, [{ venue: "kraken", symbol: "BIG-USD-SPOT", time: "2023-06-20T10:00:30.000001Z", tradeId: "9999999", price: "99.5", qty: "1" }]);
		const r = await cycle();
		expect(r.claimed).toBe(1);
		for (const tf of TIMEFRAMES) expect(r.perLevel[tf]).toBe(1);
		await expectAllLevelsMatchTicks(["trade", "bid", "ask", "mid"]);
	}, 180_000); // 350k ticks and their rebuild: slow on a shared, loaded machine
});
