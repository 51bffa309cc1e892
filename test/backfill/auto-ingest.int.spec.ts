import fs from "node:fs";
import path from "node:path";
import { AutoIngester } from "../../lib/backfill/auto-ingest";
import { getInstrument } from "../../lib/backfill/dukascopy/instruments";
import { Bi5Source } from "../../lib/backfill/dukascopy/source";
import { findGaps } from "../../lib/backfill/gaps";
import { getJob, listJobs } from "../../lib/backfill/jobs";
import { LocalLease } from "../../lib/coordination/local-lease";
import { decodeEnvelope } from "../../lib/domain/codec";
import { migrate } from "../../lib/store/migrate";
import { freshDatabase, type TestDb } from "../helpers/db";
import { DUKASCOPY_FIXTURES, EMPTY_BI5, EURUSD_HOUR_FILES, FakeDukascopy } from "../helpers/fake-dukascopy";

/** The auto-ingester on a clock of our choosing: follows EURUSD hour by hour across an FX weekend. */
describe("auto-ingest", () => {
	let db: TestDb;
	let fake: FakeDukascopy;
	const H = (s: string) => Date.parse(s);
	const published: { topic: string; key: string; times: string[] }[] = [];
	const log = {
		async publish(topic: string, key: string, payloads: readonly Uint8Array[]) {
			for (const p of payloads) published.push({ topic, key, times: decodeEnvelope(p).quotes.map((q) => q.time) });
		},
	};

	beforeAll(async () => {
		db = await freshDatabase("dukaauto");
		await migrate(db.pool);
		fake = await FakeDukascopy.start();
		fake.fallback = (inst, hour) => (inst === "EURUSD" ? EURUSD_HOUR_FILES[(hour / 3_600_000) % 3] : null);
	});
	afterAll(async () => {
		await fake?.close();
		await db?.drop();
	});

	it("fetches each ended hour in order, skips the closed weekend without asking, and waits for unpublished hours", async () => {
		let now = H("2019-01-07T01:30:00Z"); // Monday 01:30 UTC; the last ended hour is 00:00
		const lease = new LocalLease({ nextToken: () => 1 });
		await lease.start();
		const file = fs.readFileSync(path.join(DUKASCOPY_FIXTURES, EURUSD_HOUR_FILES[0]));
		fake.serve("EURUSD", H("2019-01-06T23:00:00Z"), { bi5: file.subarray(0, 3000) }); // a truncated file on Sunday night
		fake.publishedUntil = H("2019-01-07T00:00:00Z"); // Monday 00:00 is not out yet
		const ingester = new AutoIngester({
			pool: db.pool,
			source: new Bi5Source({ baseUrl: fake.datafeedUrl, retries: 0 }),
			log,
			lease,
			instruments: [getInstrument("EURUSD")],
			intervalMs: 1000,
			lookbackHours: 53, // from Friday 2019-01-04 20:00 UTC
			now: () => now,
		});

		const [r1] = await ingester.runOnce();
		const hours = (xs: number[]) => xs.map((h) => new Date(h).toISOString().slice(0, 13));
		expect(hours(r1.fetched)).toEqual(["2019-01-04T20", "2019-01-04T21", "2019-01-06T22"]);
		expect(r1.skippedClosed).toBe(48); // Friday 22:00 to Sunday 22:00 UTC (winter)
		expect(r1.waitingFor).toBe(H("2019-01-07T00:00:00Z"));
		expect(r1.error).toMatch(/^EURUSD 2019-01-06T23:00Z: truncated or corrupt \.bi5 file \(3000 bytes\)/);
		// only open hours were asked for, in order
		expect(fake.requestsFor("EURUSD").map((r) => new Date(r.hourStartMs!).toISOString().slice(0, 13))).toEqual(["2019-01-04T20", "2019-01-04T21", "2019-01-06T22", "2019-01-06T23", "2019-01-07T00"]);
		expect(published.every((m) => m.topic === "market-data/fx/historical/dukascopy/eurusd/quotes" && m.key === "EUR-USD-SPOT")).toBe(true);
		const firstTimes = published.map((m) => m.times[0]);
		expect([...firstTimes].sort()).toEqual(firstTimes); // hours go out in order
		// the corrupt hour is not skipped silently: it is a job of its own, naming the hour
		const jobs = await listJobs(db.pool);
		expect(jobs.map((j) => [j.kind, j.from, j.progress.hoursTotal])).toEqual([["auto", "2019-01-06T23:00:00.000Z", 1]]);
		expect((await getJob(db.pool, jobs[0].id))?.state).toBe("queued");

		// Monday 00:00 is published: the next round takes it and nothing else (01:00 has not ended)
		fake.publishedUntil = Infinity;
		fake.requests.length = 0;
		const [r2] = await ingester.runOnce();
		expect(hours(r2.fetched)).toEqual(["2019-01-07T00"]);
		expect(r2.waitingFor).toBeNull();
		// an hour later, the next hour
		now += 3_600_000;
		const [r3] = await ingester.runOnce();
		expect(hours(r3.fetched)).toEqual(["2019-01-07T01"]);
		expect(fake.requests.map((r) => new Date(r.hourStartMs!).toISOString().slice(0, 13))).toEqual(["2019-01-07T00", "2019-01-07T01"]);
		const cursor = await db.pool.query("SELECT next_hour FROM backfill_cursors WHERE instrument = 'EURUSD'");
		expect(cursor.rows[0].next_hour.toISOString()).toBe("2019-01-07T02:00:00.000Z");

		// not the leader: no round
		await lease.stop();
		now += 3_600_000;
		expect(await ingester.runOnce()).toEqual([]);
	});

	it("records hours it found empty, so gap fill does not fetch them again", async () => {
		const lease = new LocalLease({ nextToken: () => 1 });
		await lease.start();
		fake.publishedUntil = Infinity;
		// USDCHF: two empty hours (a holiday) on a Wednesday
		const empty = [H("2019-01-09T10:00:00Z"), H("2019-01-09T11:00:00Z")];
		for (const h of empty) fake.serve("USDCHF", h, { bi5: EMPTY_BI5 });
		const inst = getInstrument("USDCHF");
		const ingester = new AutoIngester({ pool: db.pool, source: new Bi5Source({ baseUrl: fake.datafeedUrl, retries: 0 }), log, lease, instruments: [inst], intervalMs: 1000, lookbackHours: 2, now: () => H("2019-01-09T12:10:00Z") });
		const [r] = await ingester.runOnce();
		expect(r.fetched).toEqual(empty);
		expect(await findGaps(db.pool, inst, empty[0], empty[1] + 3_600_000, H("2019-01-09T12:10:00Z"))).toEqual([]);
		// an hour nobody fetched is still a gap
		expect(await findGaps(db.pool, inst, H("2019-01-09T09:00:00Z"), empty[1] + 3_600_000, H("2019-01-09T12:10:00Z"))).toEqual([H("2019-01-09T09:00:00Z")]);
		await lease.stop();
	});

	it("waits for a recent unpublished hour, and once it is older than the publication window fails it visibly and moves on", async () => {
		const lease = new LocalLease({ nextToken: () => 1 });
		await lease.start();
		fake.publishedUntil = Infinity;
		const missing = H("2019-01-08T12:00:00Z"); // GBPUSD answers 404 for this hour, forever
		fake.fallback = (inst, hour) => (inst === "EURUSD" ? EURUSD_HOUR_FILES[(hour / 3_600_000) % 3] : inst === "GBPUSD" && hour !== missing ? EURUSD_HOUR_FILES[0] : null);
		const errors: string[] = [];
		const logger = { info: () => undefined, warn: () => undefined, error: (...a: unknown[]) => errors.push(a.join(" ")) };
		let now = H("2019-01-09T12:30:00Z"); // the missing hour ended 23.5 h ago: maybe not published yet
		const ingester = new AutoIngester({ pool: db.pool, source: new Bi5Source({ baseUrl: fake.datafeedUrl, retries: 0 }), log, lease, instruments: [getInstrument("GBPUSD")], intervalMs: 1000, lookbackHours: 26, publishWindowMs: 24 * 3_600_000, now: () => now, logger });
		const before = (await listJobs(db.pool)).length;

		const [r1] = await ingester.runOnce();
		expect(r1.fetched).toEqual([H("2019-01-08T10:00:00Z"), H("2019-01-08T11:00:00Z")]);
		expect([r1.waitingFor, r1.failed, r1.error]).toEqual([missing, [], null]);
		expect(await listJobs(db.pool)).toHaveLength(before);

		now += 3_600_000; // 24.5 h after the hour ended: it is not coming
		const [r2] = await ingester.runOnce();
		expect(r2.failed).toEqual([missing]);
		expect(r2.waitingFor).toBeNull();
		expect(r2.error).toBe("GBPUSD 2019-01-08T12:00:00.000Z: not published by the source (HTTP 404) 24 h after the hour ended; auto-ingest moved on");
		expect(r2.fetched[0]).toBe(missing + 3_600_000); // the cursor went past it
		expect(r2.fetched).toHaveLength(24); // 13:00 yesterday .. 12:00 today
		expect(errors).toEqual([`auto-ingest: ${r2.error}; recorded as a failed job`]);
		const jobs = await listJobs(db.pool);
		expect(jobs).toHaveLength(before + 1);
		const job = await getJob(db.pool, jobs[0].id);
		expect(job).toMatchObject({ instrument: "GBPUSD", kind: "auto", state: "failed", from: "2019-01-08T12:00:00.000Z", progress: { hoursDone: 0, hoursFailed: 1, hoursTotal: 1 } });
		expect(job!.errors).toEqual([{ hour: "2019-01-08T12:00:00.000Z", state: "failed", attempts: 1, error: r2.error }]);
		const cursor = await db.pool.query("SELECT next_hour FROM backfill_cursors WHERE instrument = 'GBPUSD'");
		expect(cursor.rows[0].next_hour.toISOString()).toBe("2019-01-09T13:00:00.000Z");
		await lease.stop();
	});
});
