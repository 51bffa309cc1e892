import Redis from "ioredis";
import { currentFenceToken, FencedOutError, runCascadeCycle } from "../../lib/candles/cascade";
import { RedisLease } from "../../lib/coordination/redis-lease";
import { migrate } from "../../lib/store/migrate";
import { freshDatabase, waitFor, type TestDb } from "../helpers/db";
import { startPipeline } from "../../bin/pipeline";
import { loadConfig } from "../../lib/config";
import { freePort } from "../helpers/net";
import { startRedisServer, type ProcServer } from "../helpers/servers";

jest.setTimeout(60_000);

const FENCE = "cascade-refresher";
const quiet = () => {
	const lines: string[] = [];
	const rec = (...a: unknown[]) => lines.push(a.join(" "));
	return { lines, logger: { info: rec, warn: rec, error: (...a: unknown[]) => lines.push(`ERROR ${a.join(" ")}`), debug: () => undefined } };
};

describe("Redis lease under Redis faults (own redis-server with a password)", () => {
	let redis: ProcServer;
	let db: TestDb;
	const stops: (() => Promise<unknown>)[] = [];
	beforeAll(async () => {
		redis = await startRedisServer({ password: "s3cret pass" });
		db = await freshDatabase("redisfaults");
		await migrate(db.pool);
	});
	afterEach(async () => {
		while (stops.length) await stops.pop()!().catch(() => undefined);
	});
	afterAll(async () => {
		await redis?.stop();
		await db?.drop();
	});

	function lease(holderId: string, url = redis.url, log = quiet()) {
		const l = new RedisLease({ redis: url, key: "lease:test", ttlMs: 1_000, holderId, logger: log.logger, tokenFloor: () => currentFenceToken(db.pool, FENCE) });
		stops.push(() => l.stop());
		return l;
	}

	it("after FLUSHALL the next token is above every token the database has seen, and the deposed token is refused", async () => {
		const a = lease("a");
		await a.start();
		await waitFor(() => a.isLeader(), { what: "a leads" });
		const first = a.token()!;
		await runCascadeCycle(db.pool, { fenceToken: first, holder: "a", fenceName: FENCE });
		// Redis loses everything (restart without persistence, FLUSHALL): the counter starts from nothing
		const admin = new Redis(redis.url);
		await admin.flushall();
		await admin.quit();
		const b = lease("b");
		await b.start();
		await waitFor(() => b.isLeader(), { what: "b leads" });
		expect(b.token()! > first).toBe(true);
		await runCascadeCycle(db.pool, { fenceToken: b.token()!, holder: "b", fenceName: FENCE });
		// a still believes it leads until its renewal fails; whatever it writes now is refused
		await expect(runCascadeCycle(db.pool, { fenceToken: first, holder: "a", fenceName: FENCE })).rejects.toBeInstanceOf(FencedOutError);
		expect(await currentFenceToken(db.pool, FENCE)).toBe(b.token());
	});

	it("a wrong password is an error line and a problem state, never a silent follower", async () => {
		const log = quiet();
		const l = lease("wrong", `redis://:not-the-password@127.0.0.1:${redis.port}`, log);
		await l.start();
		await waitFor(() => l.problem() === "redis-auth-failed", { what: "auth failure reported" });
		expect(l.isLeader()).toBe(false);
		expect(log.lines.some((x) => /^ERROR .*refused our credentials/.test(x))).toBe(true);
		expect(log.lines.join("\n")).not.toContain("not-the-password");
		const ok = lease("right");
		await ok.start();
		await waitFor(() => ok.isLeader(), { what: "the right password leads" });
		expect(ok.problem()).toBeNull();
	});

	it("while Redis is down nobody leads (the documented pause); when it is back one leader resumes with a larger token", async () => {
		const a = lease("a2");
		await a.start();
		await waitFor(() => a.isLeader(), { what: "a2 leads" });
		const before = a.token()!;
		await runCascadeCycle(db.pool, { fenceToken: before, holder: "a2", fenceName: FENCE });
		await redis.kill("SIGKILL");
		await waitFor(() => !a.isLeader(), { what: "leadership given up while Redis is down" });
		expect(a.problem()).toBe("redis-unreachable");
		await redis.start(); // empty: no persistence
		await waitFor(() => a.isLeader(), { what: "leadership back after Redis returned" });
		expect(a.token()! > before).toBe(true);
	});

	it("/api/ready names the redis check failing on a wrong password (no internal text), and ok with the right one", async () => {
		const ready = async (redisUrl: string) => {
			const port = await freePort();
			const p = await startPipeline(loadConfig({ DATABASE_URL: db.url, SERVICES: "api", REDIS_URL: redisUrl, PORT: String(port), METRICS_PORT: "0", LOG_LEVEL: "fatal", MIGRATE_ON_START: "false" }));
			try {
				return await waitFor(
					async () => {
						const res = await fetch(`http://127.0.0.1:${port}/api/ready`);
						const body = JSON.stringify(await res.json());
						// the client needs a moment to connect (or be refused) before the check is settled
						return /"redis":"unreachable"/.test(body) ? null : { status: res.status, body };
					},
					{ what: "a settled readiness answer" },
				);
			} finally {
				await p.stop();
			}
		};
		const wrong = await ready(`redis://:wrong-pass@127.0.0.1:${redis.port}`);
		expect(wrong.status).toBe(503);
		expect(wrong.body).toContain('"redis":"auth-failed"');
		expect(wrong.body).not.toMatch(/WRONGPASS|wrong-pass/);
		const right = await ready(redis.url);
		expect(right.status).toBe(200);
		expect(right.body).toContain('"redis":"ok"');
	});
});
