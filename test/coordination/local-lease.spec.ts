import { LocalLease } from "../../lib/coordination/local-lease";

describe("LocalLease", () => {
	it("leads from start to stop with the token the caller supplies", async () => {
		let stored = 41n; // e.g. leader_fence.token
		const events: string[] = [];
		const l = new LocalLease({ holderId: "solo", nextToken: async () => stored + 1n });
		l.on("elected", (t) => events.push(`elected ${t}`));
		l.on("revoked", (r) => events.push(`revoked ${r}`));
		expect(l.isLeader()).toBe(false);
		expect(l.token()).toBeNull();
		await l.start();
		expect(l.isLeader()).toBe(true);
		expect(l.token()).toBe(42n);
		await l.start(); // idempotent
		// fenced out by a token it never saw: the next leadership goes past it
		stored = 42n;
		await l.resign(100n);
		expect(l.token()).toBe(101n);
		await l.resign(null);
		expect(l.token()).toBe(43n);
		await l.stop();
		expect(l.isLeader()).toBe(false);
		expect(l.token()).toBeNull();
		await l.resign(5n); // not running: stays down
		expect(l.isLeader()).toBe(false);
		expect(events).toEqual(["elected 42", "revoked resigned", "elected 101", "revoked resigned", "elected 43", "revoked stopped"]);
	});

	it("accepts numeric and string tokens and rejects garbage", async () => {
		const a = new LocalLease({ nextToken: () => "7" });
		await a.start();
		expect(a.token()).toBe(7n);
		const b = new LocalLease({ nextToken: () => "seven" });
		await expect(b.start()).rejects.toThrow(RangeError);
	});

	it("a throwing listener does not break it", async () => {
		const l = new LocalLease({ nextToken: () => 1, logger: { info() {}, warn() {}, error() {} } });
		l.on("elected", () => {
			throw new Error("boom");
		});
		await l.start();
		expect(l.isLeader()).toBe(true);
	});
});
