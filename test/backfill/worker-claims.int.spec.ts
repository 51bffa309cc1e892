import type { DukascopySource, FetchedHour } from "../../lib/backfill/dukascopy/source";
import { emptyHour } from "../../lib/backfill/dukascopy/ticks";
import { HOUR_MS } from "../../lib/backfill/hours";
import { cancelJob, createJob, getJob } from "../../lib/backfill/jobs";
import { BackfillWorker } from "../../lib/backfill/worker";
import { migrate } from "../../lib/store/migrate";
import { freshDatabase, waitFor, type TestDb } from "../helpers/db";

/**
 * The worker claims up to `concurrency` hours in one statement and keeps the ones its loops have not
 * started in a queue: their leases are renewed with the running ones', and a cancelled job's queued hours
 * are handed back instead of run. Real PostgreSQL; the source is a stub whose hours answer when the test
 * releases them.
 */
describe("backfill worker: batched claims", () => {
	let db: TestDb;
	let worker: BackfillWorker | null = null;
	const FROM = Date.parse("2021-06-07T00:00:00Z");
	const hour = (i: number) => FROM + i * HOUR_MS;

	/** Every fetch waits until its hour is released (or the worker aborts it, as the real sources do). */
	class GatedSource implements DukascopySource {
		readonly name = "bi5" as const;
		readonly asked: number[] = [];
		private gates = new Map<number, () => void>();
		private released = new Set<number>();
		async fetchHour(_inst: unknown, hourStartMs: number, signal?: AbortSignal): Promise<FetchedHour> {
			this.asked.push(hourStartMs);
			if (!this.released.has(hourStartMs)) {
				await new Promise<void>((resolve, reject) => {
					this.gates.set(hourStartMs, resolve);
					signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
				});
			}
			return { published: true, hour: emptyHour("EURUSD", hourStartMs, "millions"), bytes: 0 };
		}
		release(h: number): void {
			this.released.add(h);
			this.gates.get(h)?.();
		}
	}

	beforeAll(async () => {
		db = await freshDatabase("dukaclaims");
		await migrate(db.pool);
	});
	afterEach(async () => {
		await worker?.stop();
		worker = null;
	});
	afterAll(async () => {
		await db?.drop();
	});

	const units = async (jobId: string) =>
		(
			await db.pool.query(
				`SELECT unit_start, state, owner, attempts, lease_until > now() AS leased FROM backfill_units WHERE job_id = $1 ORDER BY unit_start`,
				[jobId],
			)
		).rows.map((r) => ({ hour: (r.unit_start as Date).getTime(), state: r.state as string, owner: r.owner as string | null, attempts: Number(r.attempts), leased: r.leased as boolean | null }));

	it("renews the leases of claimed hours not started yet, and hands them back when their job is cancelled", async () => {
		const source = new GatedSource();
		const id = await createJob(db.pool, { instrument: "EURUSD", hours: Array.from({ length: 9 }, (_, i) => hour(i)), from: hour(0), to: hour(9) });
		worker = new BackfillWorker({ pool: db.pool, source, log: { publish: async () => undefined }, owner: "w1", concurrency: 3, leaseMs: 400, pollMs: 50 });
		worker.start();

		// one claim of three hours, one per loop
		await waitFor(() => source.asked.length === 3, { what: "three hours fetched at once" });
		expect(source.asked).toEqual([hour(0), hour(1), hour(2)]);
		// the loop that finishes first claims three more: it starts one, two wait in its queue
		source.release(hour(0));
		await waitFor(() => source.asked.includes(hour(3)), { what: "hour 3 started" });
		let u = await units(id);
		expect(u.filter((x) => x.state === "running").map((x) => x.hour)).toEqual([hour(1), hour(2), hour(3), hour(4), hour(5)]);
		expect(u.filter((x) => x.state === "pending").map((x) => x.hour)).toEqual([hour(6), hour(7), hour(8)]);

		// more than two lease periods later, every held hour (started or queued) is still leased to this worker
		const lateBy = Date.now() + 1_000;
		await waitFor(() => Date.now() > lateBy, { what: "two and a half lease periods", intervalMs: 100 });
		u = await units(id);
		expect(u.filter((x) => x.state === "running").every((x) => x.owner === "w1" && x.leased === true)).toBe(true);

		// cancelled: the two queued hours go back to pending (their claim's attempt given back); the three in flight finish
		expect(await cancelJob(db.pool, id)).toBe(true);
		expect(await worker.dropJob(id)).toBe(2);
		for (const i of [1, 2, 3]) source.release(hour(i));
		await waitFor(async () => (await units(id)).filter((x) => x.state === "done").length === 4, { what: "the hours in flight to finish" });
		u = await units(id);
		expect(u.filter((x) => x.state === "done").map((x) => x.hour)).toEqual([hour(0), hour(1), hour(2), hour(3)]);
		expect(u.filter((x) => x.hour === hour(4) || x.hour === hour(5))).toEqual([
			{ hour: hour(4), state: "pending", owner: null, attempts: 0, leased: null },
			{ hour: hour(5), state: "pending", owner: null, attempts: 0, leased: null },
		]);
		expect(source.asked).toEqual([0, 1, 2, 3].map(hour));
		expect((await getJob(db.pool, id))?.state).toBe("cancelled");

		// queued again right after the cancel (as `retry` does): the worker runs the rest, not hands it back
		await db.pool.query(`UPDATE backfill_jobs SET state = 'running', finished_at = NULL WHERE id = $1`, [id]);
		worker.jobRequeued(id);
		worker.wake();
		for (const i of [4, 5, 6, 7, 8]) source.release(hour(i));
		await waitFor(async () => (await getJob(db.pool, id))?.state === "done", { what: "the requeued job to finish" });
		expect((await units(id)).map((x) => x.state)).toEqual(Array(9).fill("done"));
		expect(source.asked.slice(4).sort((a, b) => a - b)).toEqual([4, 5, 6, 7, 8].map(hour));
	});

	it("renews only the hours it holds, and on stop hands back queued hours with their attempt", async () => {
		const source = new GatedSource();
		const id = await createJob(db.pool, { instrument: "EURUSD", hours: Array.from({ length: 7 }, (_, i) => hour(100 + i)), from: hour(100), to: hour(107) });
		// an hour left running under the same owner name by an earlier process that died (not held by this worker)
		await db.pool.query(`UPDATE backfill_units SET state = 'running', owner = 'w2', attempts = 1, lease_until = now() + interval '300 ms' WHERE job_id = $1 AND unit_start = $2`, [id, new Date(hour(106))]);
		worker = new BackfillWorker({ pool: db.pool, source, log: { publish: async () => undefined }, owner: "w2", concurrency: 3, leaseMs: 400, pollMs: 50 });
		worker.start();
		await waitFor(() => source.asked.length === 3, { what: "three hours fetched at once" });
		source.release(hour(100));
		await waitFor(() => source.asked.includes(hour(103)), { what: "hour 103 started" });
		const lateBy = Date.now() + 1_000;
		await waitFor(() => Date.now() > lateBy, { what: "two and a half lease periods", intervalMs: 100 });
		let u = await units(id);
		// held: 101-103 running, 104-105 queued, all leased; the dead process's 106 has lapsed
		expect(u.filter((x) => x.state === "running" && x.leased).map((x) => x.hour)).toEqual([101, 102, 103, 104, 105].map(hour));
		expect(u.find((x) => x.hour === hour(106))).toMatchObject({ state: "running", leased: false });

		await worker.stop();
		worker = null;
		u = await units(id);
		// queued 104 and 105 never started: pending with their attempt given back; 101-103 were aborted in flight
		expect(u.filter((x) => x.hour >= hour(101) && x.hour <= hour(105))).toEqual([
			...[101, 102, 103].map((i) => ({ hour: hour(i), state: "pending", owner: null, attempts: 1, leased: null })),
			...[104, 105].map((i) => ({ hour: hour(i), state: "pending", owner: null, attempts: 0, leased: null })),
		]);
	});
});
