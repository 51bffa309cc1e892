import { ServiceBroker } from "moleculer";
import { migrate } from "../../lib/store/migrate";
import { freshDatabase, waitFor, type TestDb } from "../helpers/db";
import { startService, type Child } from "../helpers/proc";

/** Two cascade-refresher processes on one Redis lease: one leader at a time, takeover within the lease time. */
describe("cascade-refresher leader election across processes", () => {
	let db: TestDb;
	let broker: ServiceBroker;
	const children: Record<string, Child> = {};
	const ns = `leader${process.pid}${Date.now().toString(36)}`;
	const TTL = 2_000;

	beforeAll(async () => {
		db = await freshDatabase("leader");
		await migrate(db.pool);
		broker = new ServiceBroker({ namespace: ns, nodeID: `probe-${process.pid}`, transporter: { type: "NATS", options: { url: "nats://127.0.0.1:4222" } }, logger: false });
		await broker.start();
	});
	afterAll(async () => {
		for (const c of Object.values(children)) await c.kill();
		await broker?.stop();
		await db?.drop();
	});

	const start = (id: string) => {
		children[id] = startService({
			SERVICES: "cascade-refresher",
			NODE_ID: id,
			NAMESPACE: ns,
			TRANSPORTER: "nats://127.0.0.1:4222",
			DATABASE_URL: db.url,
			MARKET_LOG: "jetstream",
			REDIS_URL: "redis://127.0.0.1:6379",
			LEASE_TTL_MS: String(TTL),
			CASCADE_INTERVAL_MS: "100",
			METRICS_PORT: "0",
			MIGRATE_ON_START: "false",
		});
	};
	const status = async (id: string): Promise<{ leader: boolean; token: string | null } | null> => {
		try {
			return await broker.call("cascade-refresher.status", {}, { nodeID: id, timeout: 1000 });
		} catch {
			return null; // not reachable (dead or not yet up)
		}
	};

	it("never has two leaders, and the survivor takes over within the lease time", async () => {
		start("cr-a");
		start("cr-b");
		await waitFor(async () => (await status("cr-a")) && (await status("cr-b")), { what: "both instances up", timeoutMs: 40_000 });
		await waitFor(async () => {
			const [a, b] = await Promise.all([status("cr-a"), status("cr-b")]);
			return !!(a?.leader || b?.leader);
		}, { what: "a leader elected", timeoutMs: 10_000 });

		// sample both for a few lease periods: never both leaders
		const deadline = Date.now() + 3 * TTL;
		let samples = 0;
		while (Date.now() < deadline) {
			const [a, b] = await Promise.all([status("cr-a"), status("cr-b")]);
			expect(a?.leader && b?.leader).toBeFalsy();
			expect(!!a?.leader || !!b?.leader).toBe(true);
			samples++;
		}
		expect(samples).toBeGreaterThan(10);

		const [a, b] = await Promise.all([status("cr-a"), status("cr-b")]);
		const leaderId = a!.leader ? "cr-a" : "cr-b";
		const otherId = leaderId === "cr-a" ? "cr-b" : "cr-a";
		const oldToken = BigInt((a!.leader ? a : b)!.token!);
		// the leader has been writing with its token (fencing in the database); a holder is "<nodeID>-<6 hex>",
		// unique per process start, so a restarted node never passes for its former self
		const fenceHolder = async () => (await db.pool.query("SELECT holder FROM leader_fence WHERE name = 'cascade-refresher'")).rows[0]?.holder as string | undefined;
		await waitFor(async () => (await fenceHolder())?.startsWith(`${leaderId}-`), { what: "the leader's fence row" });

		const killedAt = Date.now();
		await children[leaderId].kill("SIGKILL");
		const next = await waitFor(async () => {
			const s = await status(otherId);
			return s?.leader ? s : null;
		}, { what: "takeover", timeoutMs: 3 * TTL, intervalMs: 20 }).catch((err) => {
			throw new Error(`${err.message}\nsurvivor output:\n${children[otherId].output().slice(-4000)}`);
		});
		const takeoverMs = Date.now() - killedAt;
		// lease time plus one acquisition retry (ttl/3) and the probe's own latency
		expect(takeoverMs).toBeLessThanOrEqual(TTL + TTL / 3 + 500);
		expect(BigInt(next.token!)).toBeGreaterThan(oldToken);
		await waitFor(async () => (await fenceHolder())?.startsWith(`${otherId}-`), { what: "the new leader writing with its fence" });
	});
});
