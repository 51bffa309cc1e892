import { getInstrument } from "../../lib/backfill/dukascopy/instruments";
import { Bi5Source } from "../../lib/backfill/dukascopy/source";
import { floorHour, HOUR_MS } from "../../lib/backfill/hours";
import { createJob, getJob, type JobStatus } from "../../lib/backfill/jobs";
import { BackfillWorker } from "../../lib/backfill/worker";
import { migrate } from "../../lib/store/migrate";
import { freshDatabase, waitFor, type TestDb } from "../helpers/db";
import { BTCUSD_BI5, FakeDukascopy } from "../helpers/fake-dukascopy";

/**
 * Dukascopy publishes an hour some time after it has ended: a 404 for a recent hour makes the hour wait
 * (the job stays running and says so), a 404 for an hour older than the publication window fails it.
 * Real PostgreSQL and the fake datafeed; the log is a stub that accepts everything.
 */
describe("backfill worker: hours not published yet", () => {
	let db: TestDb;
	let fake: FakeDukascopy;
	let worker: BackfillWorker | null = null;
	const BTC = getInstrument("BTCUSD");
	let ticksPublished = 0;
	const log = {
		async publish(_topic: string, _key: string, payloads: readonly Uint8Array[]) {
			ticksPublished += payloads.length;
		},
	};
	const startWorker = (o: { publishWindowMs: number; unpublishedRetryMs: number }) => {
		worker = new BackfillWorker({ pool: db.pool, source: new Bi5Source({ baseUrl: fake.datafeedUrl, retries: 0 }), log, owner: "test", concurrency: 2, pollMs: 50, ...o });
		worker.start();
	};
	const job = async (id: string) => (await getJob(db.pool, id)) as JobStatus;
	const asked = (hour: number) => fake.requests.filter((r) => r.instrument === "BTCUSD" && r.hourStartMs === hour).length;

	beforeAll(async () => {
		db = await freshDatabase("dukawait");
		await migrate(db.pool);
		fake = await FakeDukascopy.start();
	});
	afterEach(async () => {
		await worker?.stop();
		worker = null;
	});
	afterAll(async () => {
		await fake?.close();
		await db?.drop();
	});

	it("keeps a recent hour waiting (job running, shown in progress) and fetches it once it is published", async () => {
		const recent = floorHour(Date.now()) - HOUR_MS; // ended less than an hour ago
		fake.publishedUntil = recent;
		fake.serve("BTCUSD", recent, { bi5: BTCUSD_BI5 });
		const id = await createJob(db.pool, { instrument: "BTCUSD", hours: [recent], from: recent, to: recent + HOUR_MS });
		startWorker({ publishWindowMs: 24 * HOUR_MS, unpublishedRetryMs: 200 });

		// asked again and again, never failed
		await waitFor(async () => asked(recent) >= 3, { what: "the unpublished hour to be asked for three times", timeoutMs: 10_000 });
		const waiting = await job(id);
		expect(waiting.state).toBe("running");
		expect(waiting.progress).toMatchObject({ hoursDone: 0, hoursFailed: 0, hoursWaiting: 1, hoursTotal: 1 });
		expect(waiting.errors).toHaveLength(1);
		expect(waiting.errors[0]).toMatchObject({ hour: new Date(recent).toISOString(), state: "waiting", attempts: 0 });
		expect(waiting.errors[0].error).toMatch(/^not published by the source yet \(HTTP 404\); next try at /);
		expect(worker!.stats).toMatchObject({ hoursFailed: 0 });
		expect(worker!.stats.hoursWaiting).toBeGreaterThanOrEqual(2);

		fake.publishedUntil = Infinity; // Dukascopy publishes it
		const done = await waitFor(async () => ((await job(id)).state === "done" ? job(id) : null), { what: "the job to finish", timeoutMs: 10_000 });
		expect(done.progress).toMatchObject({ hoursDone: 1, hoursFailed: 0, hoursWaiting: 0, ticks: 8523 });
		expect(done.errors).toEqual([]);
		expect(ticksPublished).toBeGreaterThan(0);
	});

	it("fails an old hour the source does not have at once, naming it", async () => {
		const old = Date.parse("2019-03-05T07:00:00Z"); // no file in the fake: 404
		const id = await createJob(db.pool, { instrument: "BTCUSD", hours: [old], from: old, to: old + HOUR_MS });
		startWorker({ publishWindowMs: 24 * HOUR_MS, unpublishedRetryMs: 200 });
		const failed = await waitFor(async () => ((await job(id)).state === "failed" ? job(id) : null), { what: "the job to fail", timeoutMs: 10_000 });
		expect(failed.progress).toMatchObject({ hoursDone: 0, hoursFailed: 1, hoursWaiting: 0 });
		expect(failed.errors).toHaveLength(1);
		expect(failed.errors[0]).toMatchObject({ hour: "2019-03-05T07:00:00.000Z", state: "failed" });
		expect(failed.errors[0].error).toMatch(/^BTCUSD 2019-03-05T07:00:00\.000Z: not published by the source \(HTTP 404\) \d+ h after the hour ended$/);
		expect(asked(old)).toBe(1);
	});

	it("asks a waiting hour once more when its publication window closes, then fails it", async () => {
		const hour = floorHour(Date.now()) - 3 * HOUR_MS;
		fake.publishedUntil = hour; // never published in this test
		// the window closes about 1.5 s from now; the retry interval is far longer, so the last try is at the window's end
		const windowMs = Date.now() - (hour + HOUR_MS) + 1500;
		const id = await createJob(db.pool, { instrument: "BTCUSD", hours: [hour], from: hour, to: hour + HOUR_MS });
		startWorker({ publishWindowMs: windowMs, unpublishedRetryMs: 600_000 });
		await waitFor(async () => ((await job(id)).progress.hoursWaiting === 1 ? true : null), { what: "the hour to wait", timeoutMs: 10_000 });
		expect((await job(id)).state).toBe("running");
		const failed = await waitFor(async () => ((await job(id)).state === "failed" ? job(id) : null), { what: "the job to fail when the window closes", timeoutMs: 10_000 });
		expect(failed.errors[0]).toMatchObject({ state: "failed" });
		expect(failed.errors[0].error).toMatch(/not published by the source \(HTTP 404\) [23] h after the hour ended$/);
		// the first try, and the one at the window's end (a third only if the clocks disagree by a few ms)
		expect([2, 3]).toContain(asked(hour));
	});
});
