import fs from "node:fs";
import path from "node:path";
import { lzma } from "@napi-rs/lzma";
import { startPipeline, type Pipeline } from "../../bin/pipeline";
import { loadConfig } from "../../lib/config";
import type { Timeframe } from "../../lib/domain/timeframes";
import type { Candle } from "../../lib/domain/types";
import { freshDatabase, waitFor, type TestDb } from "../helpers/db";
import { BTCUSD_BI5, DUKASCOPY_FIXTURES, EMPTY_BI5, EURUSD_HOUR_FILES, FakeDukascopy } from "../helpers/fake-dukascopy";
import { freePort } from "../helpers/net";
import { normalizeCandle, referenceCandles } from "../helpers/trades";

/**
 * Dukascopy history through the whole pipeline on real parts: the fake datafeed serving the recorded
 * files -> dukascopy-backfill -> market-data log (historical stream) -> tick-writer -> PostgreSQL ->
 * cascade -> REST API, driven through the REST routes.
 */
const H = (s: string) => Date.parse(s);
const HOUR = 3_600_000;
const SYMBOL = "EUR-USD-SPOT";

/** Ticks in a recorded file, counted without our decoder: decompressed bytes / 20. */
function ticksIn(rel: string): number {
	const f = fs.readFileSync(path.join(DUKASCOPY_FIXTURES, rel));
	return f.length === 0 ? 0 : lzma.decompressSync(f).length / 20;
}

/**
 * Bid candles straight from the stored quotes with the tests' decimal.js reference (helpers/trades),
 * a quote read as a trade at its bid with its bid size, ordered by (time, seq): independent of the cascade's SQL.
 */
function bidCandles(rows: { time: Date; seq: string; bid: string; bid_qty: string }[], tf: Timeframe): Candle[] {
	const asTrades = rows.map((r) => ({ tradeId: r.seq, price: r.bid, qty: r.bid_qty, side: null, time: r.time.toISOString(), recvTime: r.time.toISOString() }));
	return [...referenceCandles(asTrades, tf).values()].map(normalizeCandle);
}

describe("dukascopy-backfill through the pipeline (fake datafeed, memory log, PostgreSQL, API)", () => {
	let db: TestDb;
	let fake: FakeDukascopy;
	let p: Pipeline;
	let api: string;
	// The hour the auto-ingester waits for: the last complete hour, "published" only later in the test.
	const newHour = Math.floor(Date.now() / HOUR) * HOUR - HOUR;
	// Hours (outside the fixtures' own dates) that have real ticks in the fake: recorded EURUSD hours re-served.
	const ticked = new Map<number, string>([
		[H("2019-01-04T00:00:00Z"), EURUSD_HOUR_FILES[0]],
		[H("2019-01-04T01:00:00Z"), EURUSD_HOUR_FILES[1]],
		[H("2019-01-04T02:00:00Z"), EURUSD_HOUR_FILES[2]],
		[H("2019-01-06T22:00:00Z"), EURUSD_HOUR_FILES[0]],
	]);

	beforeAll(async () => {
		db = await freshDatabase("dukabackfill");
		fake = await FakeDukascopy.start();
		fake.fallback = (inst, hour) => (inst === "EURUSD" ? ticked.get(hour) ?? EMPTY_BI5 : inst === "BTCUSD" ? EMPTY_BI5 : null);
		fake.publishedUntil = newHour;
		fake.serve("BTCUSD", newHour, { bi5: BTCUSD_BI5 });
		const port = await freePort();
		p = await startPipeline(
			loadConfig({
				DATABASE_URL: db.url,
				MARKET_LOG: "memory",
				SERVICES: "tick-writer,cascade-refresher,api,dukascopy-backfill",
				PORT: String(port),
				METRICS_PORT: "0",
				CASCADE_INTERVAL_MS: "200",
				DUKASCOPY_URL: fake.datafeedUrl,
				DUKASCOPY_JSON_URL: fake.jsonUrl,
				BACKFILL_CONCURRENCY: "4",
				BACKFILL_RATE_PER_SEC: "500",
				AUTO_INGEST_INSTRUMENTS: "BTCUSD",
				AUTO_INGEST_INTERVAL_MS: "300",
				LOG_LEVEL: "fatal",
			}),
		);
		api = `http://127.0.0.1:${port}/api`;
	});
	afterAll(async () => {
		await p?.stop();
		await fake?.close();
		await db?.drop();
	});

	const post = async (route: string, body: unknown) => {
		const res = await fetch(api + route, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
		return { status: res.status, body: (await res.json()) as any };
	};
	const get = async (route: string) => {
		const res = await fetch(api + route);
		return { status: res.status, body: (await res.json()) as any };
	};
	const finished = (id: string) =>
		waitFor(
			async () => {
				const r = await get(`/backfill/${id}`);
				return ["done", "failed", "cancelled"].includes(r.body.state) ? r.body : null;
			},
			{ what: `backfill job ${id} to finish`, timeoutMs: 30_000 },
		);
	const quotes = async (fromIso: string, toIso: string, symbol = SYMBOL) =>
		(await db.pool.query("SELECT count(*)::int AS n, count(DISTINCT (time, seq))::int AS d FROM quotes WHERE venue = 'dukascopy' AND symbol = $1 AND time >= $2 AND time < $3", [symbol, fromIso, toIso])).rows[0];
	const writerStats = () => p.broker.call("tick-writer.stats") as Promise<{ duplicates: number; insertedQuotes: number }>;

	const FROM = "2019-02-04T00:00:00Z";
	const TO = "2019-02-04T03:00:00Z";
	const fileTicks = EURUSD_HOUR_FILES.map(ticksIn);
	const total = fileTicks.reduce((a, b) => a + b, 0);

	it("runs a job (POST /api/backfill), reports its progress (GET /api/backfill/:id) and stores every tick once", async () => {
		expect(fileTicks.every((n) => n > 1000)).toBe(true);
		const started = await post("/backfill", { source: "dukascopy", instrument: "EURUSD", from: FROM, to: TO });
		expect(started.status).toBe(200);
		expect(started.body).toMatchObject({ instrument: "EURUSD", symbol: SYMBOL, from: "2019-02-04T00:00:00.000Z", to: "2019-02-04T03:00:00.000Z" });
		expect(started.body.progress.hoursTotal).toBe(3);
		const job = await finished(started.body.id);
		expect(job.state).toBe("done");
		expect(job.progress).toMatchObject({ hoursDone: 3, hoursFailed: 0, hoursTotal: 3, ticks: total, etaSeconds: null });
		expect(job.progress.ticksPerSec).toBeGreaterThan(0);
		expect(job.errors).toEqual([]);
		// the real URL layout, month 0-based
		expect(fake.requestsFor("EURUSD").map((r) => r.path).sort()).toEqual(["00", "01", "02"].map((h) => `/datafeed/EURUSD/2019/01/04/${h}h_ticks.bi5`));
		await waitFor(async () => (await quotes(FROM, TO)).n >= total, { what: `${total} quotes stored` });
		expect(await quotes(FROM, TO)).toEqual({ n: total, d: total });
		const list = await get("/backfill");
		expect(list.body.items.map((j: any) => j.id)).toContain(started.body.id);
	});

	it("stores nothing more when the same job runs again", async () => {
		const dupsBefore = (await writerStats()).duplicates;
		const again = await post("/backfill", { source: "dukascopy", instrument: "EURUSD", from: FROM, to: TO });
		const job = await finished(again.body.id);
		expect(job.progress).toMatchObject({ hoursDone: 3, ticks: total });
		// the writer has seen every re-sent tick and skipped it as a duplicate
		await waitFor(async () => (await writerStats()).duplicates - dupsBefore >= total, { what: "the re-run's ticks to reach the tick-writer" });
		expect((await writerStats()).duplicates - dupsBefore).toBe(total);
		expect(await quotes(FROM, TO)).toEqual({ n: total, d: total });
	});

	it("builds bid candles that match an aggregation of the stored quotes", async () => {
		await waitFor(async () => (await db.pool.query("SELECT count(*)::int AS n FROM dirty_buckets WHERE venue = 'dukascopy' AND symbol = $1", [SYMBOL])).rows[0].n === 0, { what: "the cascade to catch up" });
		const { rows } = await db.pool.query("SELECT time, seq::text, bid, bid_qty FROM quotes WHERE venue = 'dukascopy' AND symbol = $1 AND time >= $2 AND time < $3 ORDER BY time, seq", [SYMBOL, FROM, TO]);
		expect(rows).toHaveLength(total);
		for (const [tf, n] of [["1m", 180], ["15m", 12], ["1h", 3]] as const) {
			const res = await get(`/candles?venue=dukascopy&symbol=${SYMBOL}&timeframe=${tf}&price=bid&from=${FROM}&to=${TO}`);
			expect(res.status).toBe(200);
			const expected = bidCandles(rows, tf);
			expect(expected.length).toBeGreaterThanOrEqual(n - 2);
			expect((res.body as Candle[]).map(normalizeCandle)).toEqual(expected);
		}
	});

	it("retries a failing hour and reports a truncated file with its hour", async () => {
		const bad = H("2019-02-05T05:00:00Z");
		const flaky = H("2019-02-05T06:00:00Z");
		const file = fs.readFileSync(path.join(DUKASCOPY_FIXTURES, EURUSD_HOUR_FILES[1]));
		fake.serve("EURUSD", bad, { bi5: file.subarray(0, file.length - 700) });
		fake.serve("EURUSD", flaky, { bi5: EURUSD_HOUR_FILES[2] });
		fake.fail(503, 2, { instrument: "EURUSD", hourStartMs: flaky });
		const started = await post("/backfill", { instrument: "EURUSD", from: "2019-02-05T04:00:00Z", to: "2019-02-05T07:00:00Z" });
		const job = await finished(started.body.id);
		expect(job.state).toBe("failed");
		expect(job.progress).toMatchObject({ hoursDone: 2, hoursFailed: 1, hoursTotal: 3, ticks: fileTicks[2] });
		expect(job.errors).toEqual([{ hour: "2019-02-05T05:00:00.000Z", state: "failed", attempts: 1, error: expect.stringMatching(/^EURUSD 2019-02-05T05:00Z: truncated or corrupt \.bi5 file/) }]);
		expect(fake.requests.filter((r) => r.hourStartMs === flaky).map((r) => r.status)).toEqual([503, 503, 200]);
		// the file is fixed upstream: `retry` (REPL: call dukascopy-backfill.retry --id) queues the failed hour again
		fake.serve("EURUSD", bad, { bi5: EURUSD_HOUR_FILES[1] });
		const retried = (await p.broker.call("dukascopy-backfill.retry", { id: started.body.id })) as any;
		expect(retried.requeued).toBe(1);
		const again = await finished(started.body.id);
		expect(again.state).toBe("done");
		expect(again.progress).toMatchObject({ hoursDone: 3, hoursFailed: 0, ticks: fileTicks[1] + fileTicks[2] });
	});

	it("cancels a job: no hour is started after the cancel", async () => {
		fake.latencyMs = 150;
		try {
			const started = await post("/backfill", { instrument: "EURUSD", from: "2019-02-11T00:00:00Z", to: "2019-02-12T00:00:00Z" });
			await waitFor(async () => (await get(`/backfill/${started.body.id}`)).body.progress.hoursDone >= 2, { what: "the job to get going" });
			const c = await post(`/backfill/${started.body.id}/cancel`, {});
			expect(c.body).toMatchObject({ cancelled: true, job: { state: "cancelled" } });
			const doneAtCancel = c.body.job.progress.hoursDone;
			// the hours in flight finish (at most BACKFILL_CONCURRENCY = 4 of them), nothing new starts
			const units = async () => {
				const out: Record<string, number> = {};
				for (const r of (await db.pool.query("SELECT state, count(*)::int AS n FROM backfill_units WHERE job_id = $1 GROUP BY state", [started.body.id])).rows) out[r.state] = r.n;
				return out;
			};
			const settled = await waitFor(async () => {
				const u = await units();
				return u.running ? null : u;
			}, { what: "the hours in flight to finish" });
			const job = (await get(`/backfill/${started.body.id}`)).body;
			expect(job.state).toBe("cancelled");
			expect(settled.done).toBe(job.progress.hoursDone);
			expect(settled.done - doneAtCancel).toBeLessThanOrEqual(4);
			expect(settled.pending).toBe(24 - settled.done);
			const fetched = new Set(fake.requestsFor("EURUSD").filter((r) => r.hourStartMs! >= H("2019-02-11T00:00:00Z") && r.hourStartMs! < H("2019-02-12T00:00:00Z")).map((r) => r.hourStartMs));
			expect(fetched.size).toBe(settled.done);
			expect((await post(`/backfill/${started.body.id}/cancel`, {})).body.cancelled).toBe(false);
		} finally {
			fake.latencyMs = 0;
		}
	});

	it("answers bad parameters with a 400 naming the parameter", async () => {
		const cases: [unknown, string, RegExp][] = [
			[{ instrument: "FOOBAR", from: FROM, to: TO }, "instrument", /unknown Dukascopy instrument "FOOBAR" \(known: EURUSD, /],
			[{ from: FROM, to: TO }, "instrument", /instrument is required/],
			[{ instrument: "EURUSD", from: "2019-13-45", to: TO }, "from", /from="2019-13-45" is not a date/],
			[{ instrument: "EURUSD", from: TO, to: FROM }, "from", /must be before to/],
			[{ instrument: "EURUSD", from: FROM }, "to", /to is required/],
			[{ source: "binance", instrument: "EURUSD", from: FROM, to: TO }, "source", /source "binance" is not supported/],
		];
		for (const [body, param, msg] of cases) {
			const r = await post("/backfill", body);
			expect([r.status, r.body.data?.param]).toEqual([400, param]);
			expect(r.body.message).toMatch(msg);
		}
		expect((await post("/backfill/gaps", { instrument: "NOPE", from: FROM, to: TO })).status).toBe(400);
		const notANumber = await get("/backfill/abc");
		expect([notANumber.status, notANumber.body.data?.param]).toEqual([400, "id"]);
		expect((await get("/backfill/987654321")).status).toBe(404);
	});

	it("fills exactly the missing hours of a range, skipping the FX weekend", async () => {
		const first = await post("/backfill", { instrument: "EURUSD", from: "2019-01-04T00:00:00Z", to: "2019-01-04T03:00:00Z" });
		expect((await finished(first.body.id)).state).toBe("done");
		const t = (h: string) => ticksIn(ticked.get(H(h))!);
		await waitFor(async () => (await quotes("2019-01-04T00:00:00Z", "2019-01-04T03:00:00Z")).n === t("2019-01-04T00:00:00Z") + t("2019-01-04T01:00:00Z") + t("2019-01-04T02:00:00Z"), { what: "Friday's first hours stored" });
		// lose one hour
		await db.pool.query("DELETE FROM quotes WHERE venue = 'dukascopy' AND symbol = $1 AND time >= '2019-01-04T01:00:00Z' AND time < '2019-01-04T02:00:00Z'", [SYMBOL]);
		fake.requests.length = 0;

		const range = { instrument: "EURUSD", from: "2019-01-04T00:00:00Z", to: "2019-01-07T01:00:00Z" };
		// Friday 2019-01-04 is winter time: the market closes at 22:00 UTC and opens Sunday 22:00 UTC.
		const expected = [
			"2019-01-04T01",
			...Array.from({ length: 19 }, (_, i) => `2019-01-04T${String(i + 3).padStart(2, "0")}`),
			"2019-01-06T22",
			"2019-01-06T23",
			"2019-01-07T00",
		].map((h) => `${h}:00:00.000Z`);
		const dry = await post("/backfill/gaps", { ...range, dryRun: true });
		expect(dry.status).toBe(200);
		expect(dry.body).toEqual({ instrument: "EURUSD", gaps: expected, job: null });

		const fill = await post("/backfill/gaps", range);
		expect(fill.body.gaps).toEqual(expected);
		expect(fill.body.job.progress.hoursTotal).toBe(expected.length);
		const job = await finished(fill.body.job.id);
		expect(job).toMatchObject({ state: "done", kind: "gaps" });
		expect(job.progress.hoursDone).toBe(expected.length);
		// exactly the gap hours were fetched: nothing from the weekend, nothing already stored
		expect(fake.requestsFor("EURUSD").map((r) => new Date(r.hourStartMs!).toISOString()).sort()).toEqual(expected);
		await waitFor(async () => (await quotes("2019-01-04T01:00:00Z", "2019-01-04T02:00:00Z")).n === t("2019-01-04T01:00:00Z"), { what: "the lost hour refilled" });
		await waitFor(async () => (await quotes("2019-01-06T22:00:00Z", "2019-01-06T23:00:00Z")).n === t("2019-01-06T22:00:00Z"), { what: "Sunday's first open hour" });
		// the hours that came back empty are known now: no gaps left
		expect((await post("/backfill/gaps", { ...range, dryRun: true })).body.gaps).toEqual([]);
	});

	it("auto-ingests a newly published hour", async () => {
		const stats = () => p.broker.call("dukascopy-backfill.stats") as Promise<any>;
		// the ingester has caught up to the hour the source does not have yet, and waits there
		await waitFor(async () => (await stats()).autoIngest?.lastRound?.[0]?.waitingFor === newHour, { what: "the auto-ingester to wait for the new hour" });
		expect((await quotes(new Date(newHour).toISOString(), new Date(newHour + HOUR).toISOString(), "BTC-USD-SPOT")).n).toBe(0);
		// Dukascopy publishes the hour, and only that hour: should the wall clock cross an hour while this runs,
		// the next one stays unpublished and the cursor stops right after newHour either way
		fake.publishedUntil = newHour + HOUR;
		await waitFor(async () => (await quotes(new Date(newHour).toISOString(), new Date(newHour + HOUR).toISOString(), "BTC-USD-SPOT")).n === 8523, { what: "the new hour's 8523 BTCUSD ticks" });
		const btcHours = fake.requestsFor("BTCUSD").filter((r) => r.status === 200).map((r) => r.hourStartMs!);
		expect(btcHours.filter((h) => h === newHour)).toHaveLength(1); // fetched once, after it was published
		// the cursor has moved past it; a new instrument started 24 hours back
		const cursor = await db.pool.query("SELECT next_hour FROM backfill_cursors WHERE source = 'dukascopy' AND instrument = 'BTCUSD'");
		expect(cursor.rows[0].next_hour.getTime()).toBe(newHour + HOUR);
		expect((await stats()).autoIngest.hours).toBe(24);
	});
});
