import { markHoursDone } from "../../lib/backfill/completions";
import { createJob, getJob } from "../../lib/backfill/jobs";
import { migrate } from "../../lib/store/migrate";
import { freshDatabase, type TestDb } from "../helpers/db";

const HOUR = 3_600_000;
const FROM = Date.parse("2019-03-04T00:00:00Z");
const hours = (n: number, from = FROM) => Array.from({ length: n }, (_, i) => from + i * HOUR);

/** Batched hour completion against real PostgreSQL: one transaction marks many hours of several jobs. */
describe("markHoursDone (PostgreSQL)", () => {
	let db: TestDb;
	beforeAll(async () => {
		db = await freshDatabase("dukacompl");
		await migrate(db.pool);
	});
	afterAll(async () => {
		await db?.drop();
	});

	/** Lease these hours to `owner`, as a worker's claim does. */
	const lease = (jobId: string, hs: number[], owner: string) =>
		db.pool.query(`UPDATE backfill_units SET state = 'running', owner = $3, attempts = 1 WHERE job_id = $1 AND unit_start = ANY($2::timestamptz[])`, [jobId, hs.map((h) => new Date(h)), owner]);

	it("marks the hours, counts them per job, finishes a job exactly once, and leaves hours it does not own alone", async () => {
		const a = await createJob(db.pool, { instrument: "EURUSD", hours: hours(3), from: FROM, to: FROM + 3 * HOUR });
		const b = await createJob(db.pool, { instrument: "EURUSD", hours: hours(2), from: FROM, to: FROM + 2 * HOUR });
		await lease(a, hours(3), "w1");
		await lease(b, hours(1), "w1");
		await lease(b, [FROM + HOUR], "w2"); // another worker's hour

		const first = await markHoursDone(db.pool, "w1", [
			{ jobId: a, hour: FROM, ticks: 10 },
			{ jobId: b, hour: FROM, ticks: 5 },
			{ jobId: a, hour: FROM + HOUR, ticks: 11 },
			{ jobId: b, hour: FROM + HOUR, ticks: 7 }, // leased by w2: not ours to count
		]);
		expect(first).toEqual([
			{ counted: true, jobFinished: null },
			{ counted: true, jobFinished: null },
			{ counted: true, jobFinished: null },
			{ counted: false, jobFinished: null },
		]);
		expect((await getJob(db.pool, a))?.progress).toMatchObject({ hoursDone: 2, ticks: 21 });
		expect((await getJob(db.pool, b))?.progress).toMatchObject({ hoursDone: 1, ticks: 5 });
		expect((await db.pool.query(`SELECT state, owner FROM backfill_units WHERE job_id = $1 AND unit_start = $2`, [b, new Date(FROM + HOUR)])).rows).toEqual([{ state: "running", owner: "w2" }]);

		// the last hour of a, and w2's hour of b: both jobs finish, each reported once
		const second = await markHoursDone(db.pool, "w1", [{ jobId: a, hour: FROM + 2 * HOUR, ticks: 12 }]);
		expect(second).toEqual([{ counted: true, jobFinished: "done" }]);
		const third = await markHoursDone(db.pool, "w2", [{ jobId: b, hour: FROM + HOUR, ticks: 7 }]);
		expect(third).toEqual([{ counted: true, jobFinished: "done" }]);
		expect(await getJob(db.pool, a)).toMatchObject({ state: "done", progress: { hoursDone: 3, ticks: 33 } });
		expect(await getJob(db.pool, b)).toMatchObject({ state: "done", progress: { hoursDone: 2, ticks: 12 } });

		// marking again changes nothing: the hours are done, not running
		expect(await markHoursDone(db.pool, "w1", [{ jobId: a, hour: FROM, ticks: 10 }])).toEqual([{ counted: false, jobFinished: null }]);
		expect((await getJob(db.pool, a))?.progress).toMatchObject({ hoursDone: 3, ticks: 33 });
	});

	it("reports a finished job on one of its hours only, when one batch completes it", async () => {
		const c = await createJob(db.pool, { instrument: "EURUSD", hours: hours(3, FROM + 100 * HOUR), from: FROM + 100 * HOUR, to: FROM + 103 * HOUR });
		await lease(c, hours(3, FROM + 100 * HOUR), "w1");
		const r = await markHoursDone(
			db.pool,
			"w1",
			hours(3, FROM + 100 * HOUR).map((h) => ({ jobId: c, hour: h, ticks: 1 })),
		);
		expect(r.filter((x) => x.jobFinished === "done")).toHaveLength(1);
		expect(r.every((x) => x.counted)).toBe(true);
		expect(await getJob(db.pool, c)).toMatchObject({ state: "done", progress: { hoursDone: 3, hoursTotal: 3, ticks: 3 } });
	});
});
