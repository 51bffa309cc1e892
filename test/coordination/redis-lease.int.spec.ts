import net from "node:net";
import Redis from "ioredis";
import type { LeaderElector } from "../../lib/coordination/lease";
import { RedisLease, type RedisLeaseOptions } from "../../lib/coordination/redis-lease";
import { waitFor } from "../helpers/db";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const TTL = 1000;

let admin: Redis;
let seq = 0;
const cleanup: (() => Promise<unknown>)[] = [];

function uniqueKey(): string {
	const key = `test:lease:${process.pid}:${Date.now().toString(36)}:${seq++}`;
	cleanup.push(() => admin.del(key, `${key}:fence`));
	return key;
}

interface Recorded {
	events: { who: string; what: "elected" | "revoked"; token?: bigint; reason?: string; at: number }[];
}

function lease(rec: Recorded, who: string, opts: Partial<RedisLeaseOptions> & { key: string }): RedisLease {
	const l = new RedisLease({ redis: REDIS_URL, ttlMs: TTL, holderId: who, ...opts });
	l.on("elected", (token) => rec.events.push({ who, what: "elected", token, at: Date.now() }));
	l.on("revoked", (reason) => rec.events.push({ who, what: "revoked", reason, at: Date.now() }));
	cleanup.push(() => l.stop());
	return l;
}

function nextEvent(l: LeaderElector, what: "elected" | "revoked"): Promise<{ at: number; value: bigint | string }> {
	return new Promise((resolve) => l.once(what, (v: bigint | string) => resolve({ at: Date.now(), value: v })));
}

/** Leadership intervals from the events must never overlap, and tokens must strictly increase. */
function checkHistory(rec: Recorded): void {
	let current: string | null = null;
	let lastToken = -1n;
	for (const e of rec.events) {
		if (e.what === "elected") {
			expect({ at: e.at, who: e.who, current }).toEqual({ at: e.at, who: e.who, current: null });
			expect(e.token! > lastToken).toBe(true);
			lastToken = e.token!;
			current = e.who;
		} else {
			expect(e.who).toBe(current);
			current = null;
		}
	}
}

beforeAll(() => {
	admin = new Redis(REDIS_URL);
});

afterEach(async () => {
	while (cleanup.length) await cleanup.pop()!().catch(() => undefined);
});

afterAll(async () => {
	await admin.quit();
});

describe("RedisLease", () => {
	it("elects exactly one of two instances at a time, with strictly increasing tokens", async () => {
		const key = uniqueKey();
		const rec: Recorded = { events: [] };
		const a = lease(rec, "a", { key });
		const b = lease(rec, "b", { key });
		await Promise.all([a.start(), b.start()]);
		await waitFor(() => a.isLeader() || b.isLeader(), { what: "a leader" });
		// sample both for ~3 s while leadership keeps moving: resign the leader every 400 ms
		let both = 0;
		let samples = 0;
		let handovers = 0;
		const end = Date.now() + 3000;
		let nextResign = Date.now() + 400;
		while (Date.now() < end) {
			const la = a.isLeader();
			const lb = b.isLeader();
			samples++;
			if (la && lb) both++;
			if (Date.now() >= nextResign) {
				const leader = la ? a : lb ? b : null;
				if (leader) {
					await leader.resign();
					handovers++;
				}
				nextResign = Date.now() + 400;
			}
			await new Promise((r) => setTimeout(r, 5));
		}
		expect(samples).toBeGreaterThan(200);
		expect(both).toBe(0);
		expect(handovers).toBeGreaterThanOrEqual(5);
		checkHistory(rec);
		// the token a leader reports is its election's
		const leader = await waitFor(() => (a.isLeader() ? a : b.isLeader() ? b : null), { what: "a leader" });
		const elections = rec.events.filter((e) => e.what === "elected");
		expect(elections.length).toBeGreaterThanOrEqual(5);
		expect(elections[elections.length - 1].who).toBe(leader.holderId);
		expect(leader.token()).toBe(elections[elections.length - 1].token);
		expect((a.isLeader() ? b : a).token()).toBeNull();
	});

	it("hands over within the ttl when the leader stops, with a higher token", async () => {
		const key = uniqueKey();
		const rec: Recorded = { events: [] };
		const a = lease(rec, "a", { key });
		await a.start();
		expect(a.isLeader()).toBe(true);
		const first = a.token()!;
		const b = lease(rec, "b", { key });
		await b.start();
		expect(b.isLeader()).toBe(false);
		// renewals keep the lease well past its ttl
		const stillA = Date.now() + 2.5 * TTL;
		await waitFor(() => Date.now() > stillA, { what: "time to pass", intervalMs: 20 });
		expect(a.isLeader()).toBe(true);
		expect(b.isLeader()).toBe(false);

		const elected = nextEvent(b, "elected");
		const stoppedAt = Date.now();
		await a.stop();
		expect(a.isLeader()).toBe(false);
		const e = await elected;
		expect(e.at - stoppedAt).toBeLessThan(TTL);
		expect(e.value as bigint).toBeGreaterThan(first);
		expect(b.token()).toBe(e.value);
		expect(await admin.get(key)).toBe(`b#${e.value}`);
		checkHistory(rec);
	});

	it("revokes itself at once when its Redis connection is closed, before the lease expires", async () => {
		const key = uniqueKey();
		const rec: Recorded = { events: [] };
		const conn = new Redis(REDIS_URL);
		cleanup.push(async () => conn.disconnect());
		const a = lease(rec, "a", { key, redis: conn });
		await a.start();
		expect(a.isLeader()).toBe(true);
		const tokenA = a.token()!;
		const b = lease(rec, "b", { key });
		await b.start();

		const revoked = new Promise<{ at: number; pttl: number; value: string | null; reason: string }>((resolve) =>
			a.once("revoked", (reason) => {
				const at = Date.now();
				void Promise.all([admin.pttl(key), admin.get(key)]).then(([pttl, value]) => resolve({ at, pttl, value, reason }));
			}),
		);
		const elected = nextEvent(b, "elected");
		const killedAt = Date.now();
		conn.disconnect();
		const r = await revoked;
		expect(r.reason).toMatch(/renewal failed/);
		expect(r.at - killedAt).toBeLessThan(TTL / 3 + 100); // at the next renewal, not at expiry
		expect(r.value).toBe(`a#${tokenA}`); // the lease was still there: a gave up before it could expire
		expect(r.pttl).toBeGreaterThan(0);
		expect(a.isLeader()).toBe(false);
		const e = await elected;
		expect(e.at).toBeGreaterThan(r.at);
		expect(e.value as bigint).toBeGreaterThan(tokenA);
		checkHistory(rec);
	});

	it("revokes itself before its lease can expire when its connection hangs", async () => {
		const key = uniqueKey();
		const proxy = await freezableProxy(6379);
		cleanup.push(() => proxy.close());
		const rec: Recorded = { events: [] };
		const a = lease(rec, "a", { key, redis: `redis://127.0.0.1:${proxy.port}` });
		await a.start();
		expect(a.isLeader()).toBe(true);
		const tokenA = a.token()!;
		const b = lease(rec, "b", { key });
		await b.start();
		expect(b.isLeader()).toBe(false);

		const revoked = new Promise<{ at: number; pttl: number; value: string | null }>((resolve) =>
			a.once("revoked", () => {
				const at = Date.now();
				void Promise.all([admin.pttl(key), admin.get(key)]).then(([pttl, value]) => resolve({ at, pttl, value }));
			}),
		);
		const elected = nextEvent(b, "elected");
		proxy.freeze(); // packets stop flowing both ways; the socket stays open
		const r = await revoked;
		expect(r.value).toBe(`a#${tokenA}`);
		expect(r.pttl).toBeGreaterThan(0); // still held in Redis when a stopped leading
		expect(a.isLeader()).toBe(false);
		const e = await elected; // b only after the key expired by itself
		expect(e.at).toBeGreaterThan(r.at);
		expect(e.value as bigint).toBeGreaterThan(tokenA);
		expect(await admin.get(key)).toBe(`b#${e.value}`);
		checkHistory(rec);
	});

	it("advanceFence and resign(minToken) push the next token past one the database has seen", async () => {
		const key = uniqueKey();
		const rec: Recorded = { events: [] };
		const a = lease(rec, "a", { key, retryEveryMs: 50 });
		await a.start();
		const t1 = a.token()!;
		// Redis lost its counter (flushed): the next leadership would reuse small tokens
		await admin.del(`${key}:fence`);
		const again = nextEvent(a, "elected");
		await a.resign(t1 + 1000n);
		const e = await again;
		expect(e.value).toBe(t1 + 1001n);
		expect(await a.advanceFence(5n)).toBe(t1 + 1001n); // never lowers it
		expect(await a.advanceFence(t1 + 5000n)).toBe(t1 + 5000n);
		checkHistory(rec);
	});

	it("rejects inconsistent timing options", () => {
		expect(() => new RedisLease({ redis: REDIS_URL, key: "x", ttlMs: 1000, renewEveryMs: 900 })).toThrow(RangeError);
		expect(() => new RedisLease({ redis: REDIS_URL, key: "x", ttlMs: 10 })).toThrow(RangeError);
	});
});

/** A TCP proxy to Redis that can stop forwarding (a hung network path) without closing anything. */
async function freezableProxy(targetPort: number): Promise<{ port: number; freeze(): void; close(): Promise<void> }> {
	let frozen = false;
	const sockets = new Set<net.Socket>();
	const server = net.createServer((client) => {
		const upstream = net.connect(targetPort, "127.0.0.1");
		sockets.add(client).add(upstream);
		client.on("data", (d) => void (frozen || upstream.write(d)));
		upstream.on("data", (d) => void (frozen || client.write(d)));
		const end = () => {
			client.destroy();
			upstream.destroy();
		};
		client.on("error", end).on("close", end);
		upstream.on("error", end).on("close", end);
	});
	await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
	return {
		port: (server.address() as net.AddressInfo).port,
		freeze: () => void (frozen = true),
		close: async () => {
			for (const s of sockets) s.destroy();
			await new Promise((r) => server.close(r));
		},
	};
}
