import fs from "node:fs";
import path from "node:path";
import { lzma } from "@napi-rs/lzma";
import { createJob, getJob } from "../../lib/backfill/jobs";
import { migrate } from "../../lib/store/migrate";
import { freshDatabase, waitFor, type TestDb } from "../helpers/db";
import { DUKASCOPY_FIXTURES, EURUSD_HOUR_FILES, FakeDukascopy } from "../helpers/fake-dukascopy";
import { deleteStream } from "../helpers/nats";
import { startService, type Child } from "../helpers/proc";

/**
 * A dukascopy-backfill process killed with SIGKILL in the middle of a job: a new process resumes the
 * job from the hours not done, and every tick ends up stored exactly once (JetStream log, real
 * tick-writer, PostgreSQL).
 */
const HOUR = 3_600_000;
const FROM = Date.parse("2019-03-04T00:00:00Z");
const HOURS = 60;

describe("dukascopy-backfill crash (SIGKILL) mid-job", () => {
	let db: TestDb;
	let fake: FakeDukascopy;
	const children: Child[] = [];
	const stream = `MDP_DUKA_CRASH_${process.pid}_${Date.now().toString(36)}`.toUpperCase();
	const fileTicks = EURUSD_HOUR_FILES.map((f) => lzma.decompressSync(fs.readFileSync(path.join(DUKASCOPY_FIXTURES, f))).length / 20);
	const fileFor = (hour: number) => (hour / HOUR) % 3;
	let total = 0;
	for (let i = 0; i < HOURS; i++) total += fileTicks[fileFor(FROM + i * HOUR)];

	beforeAll(async () => {
		db = await freshDatabase("dukacrash");
		await migrate(db.pool);
		fake = await FakeDukascopy.start();
		fake.fallback = (inst, hour) => (inst === "EURUSD" ? EURUSD_HOUR_FILES[fileFor(hour)] : null);
		fake.latencyMs = 40; // a job that takes a few seconds, so the kill lands in its middle
	});
	afterAll(async () => {
		for (const c of children) await c.kill();
		await fake?.close();
		await deleteStream(stream);
		await db?.drop();
	});

	const env = () => ({
		SERVICES: "tick-writer,dukascopy-backfill",
		DATABASE_URL: db.url,
		MARKET_LOG: "jetstream",
		MARKET_LOG_STREAM: stream,
		MARKET_LOG_SUBJECT_PREFIX: stream.toLowerCase() + ".",
		METRICS_PORT: "0",
		MIGRATE_ON_START: "false",
		DUKASCOPY_URL: fake.datafeedUrl,
		BACKFILL_CONCURRENCY: "2",
		BACKFILL_RATE_PER_SEC: "20",
		BACKFILL_LEASE_MS: "2000",
		WRITER_ACK_TIMEOUT_MS: "3000",
	});
	const stored = async () => (await db.pool.query("SELECT count(*)::int AS n, count(DISTINCT (time, seq))::int AS d FROM quotes WHERE venue = 'dukascopy' AND symbol = 'EUR-USD-SPOT'")).rows[0];

	it("finishes the job after a restart, with every tick stored once and counted once", async () => {
		const id = await createJob(db.pool, { instrument: "EURUSD", hours: Array.from({ length: HOURS }, (_, i) => FROM + i * HOUR), from: FROM, to: FROM + HOURS * HOUR });
		const first = startService(env());
		children.push(first);
		await first.waitForOutput(/pipeline up/);
		await waitFor(async () => ((await getJob(db.pool, id))!.progress.hoursDone >= 15 ? true : null), { what: "15 hours done by the first process", timeoutMs: 30_000 });
		await first.kill("SIGKILL");
		const atKill = (await getJob(db.pool, id))!;
		expect(atKill.state).toBe("running");
		expect(atKill.progress.hoursDone).toBeLessThan(HOURS);
		const requestsAtKill = fake.requests.length;

		const second = startService(env());
		children.push(second);
		const done = await waitFor(async () => {
			const j = (await getJob(db.pool, id))!;
			return j.state === "done" ? j : null;
		}, { what: "the job to finish in the second process", timeoutMs: 45_000 });
		expect(done.progress).toMatchObject({ hoursDone: HOURS, hoursFailed: 0, hoursTotal: HOURS, ticks: total });
		await waitFor(async () => (await stored()).n >= total, { what: `${total} quotes stored`, timeoutMs: 45_000 });
		expect(await stored()).toEqual({ n: total, d: total });
		// nothing more arrives later
		await second.kill("SIGTERM");
		expect(await stored()).toEqual({ n: total, d: total });
		// the second process fetched exactly the hours that were not done: it resumed, it did not start over
		const after = fake.requests.slice(requestsAtKill).map((r) => r.hourStartMs!);
		expect(new Set(after).size).toBe(after.length);
		expect(after.length).toBe(HOURS - atKill.progress.hoursDone);
	});
});
