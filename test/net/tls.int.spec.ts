import { rmSync } from "node:fs";
import { RedisLease } from "../../lib/coordination/redis-lease";
import { JetStreamLog } from "../../lib/log/jetstream";
import { waitFor } from "../helpers/db";
import { startNatsServer, startRedisServer, type ProcServer } from "../helpers/servers";
import { makeTestCerts, type TestCerts } from "../helpers/tls";

jest.setTimeout(60_000);

describe("TLS to NATS (NATS_TLS_CA) and Redis (rediss:// with REDIS_TLS_CA), with credentials", () => {
	let certs: TestCerts;
	let nats: ProcServer;
	let redis: ProcServer;
	beforeAll(async () => {
		certs = makeTestCerts();
		nats = await startNatsServer({ user: "mdp", password: "tls-pass", tls: { certFile: certs.certFile, keyFile: certs.keyFile } });
		redis = await startRedisServer({ password: "tls-redis-pass", tls: { ...certs } });
	});
	afterAll(async () => {
		await nats?.stop();
		await redis?.stop();
		if (certs) rmSync(certs.dir, { recursive: true, force: true });
	});

	it("the JetStream log connects over TLS with the CA file, and not without it", async () => {
		const log = await JetStreamLog.connect({ servers: nats.url, stream: "TLS_T", auth: { user: "mdp", password: "tls-pass", tlsCaFile: certs.caFile } });
		await log.ping();
		await log.close();
		await expect(JetStreamLog.connect({ servers: nats.url, stream: "TLS_T", auth: { user: "mdp", password: "tls-pass" } })).rejects.toThrow(/cannot connect to NATS|certificate|TLS/i);
	});

	it("the Redis lease leads over rediss:// with the CA file; without it the problem is reported", async () => {
		const ok = new RedisLease({ redis: redis.url, tlsCaFile: certs.caFile, key: "tls:lease", ttlMs: 1_000 });
		const untrusted = new RedisLease({ redis: redis.url, key: "tls:lease2", ttlMs: 1_000 });
		try {
			await ok.start();
			await waitFor(() => ok.isLeader(), { what: "leader over TLS" });
			expect(ok.problem()).toBeNull();
			await untrusted.start();
			await waitFor(() => untrusted.problem() === "redis-unreachable", { what: "untrusted certificate reported" });
			expect(untrusted.isLeader()).toBe(false);
		} finally {
			await ok.stop();
			await untrusted.stop();
		}
	});
});
