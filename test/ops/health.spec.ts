import { startHealthServer, HEALTH_PATHS, type HealthServer } from "../../lib/ops/health";

describe("probe endpoints (HEALTH_PORT)", () => {
	let server: HealthServer;
	let checks: Record<string, string> = { database: "ok", log: "ok" };
	let readyCalls = 0;

	beforeAll(async () => {
		server = await startHealthServer(0, async () => {
			readyCalls++;
			return checks;
		}, "127.0.0.1");
	});
	afterAll(() => server.close());

	const get = async (p: string) => {
		const r = await fetch(`http://127.0.0.1:${server.port}${p}`);
		return { status: r.status, body: (await r.json()) as { status: string; checks?: Record<string, string> } };
	};

	it("readiness runs the checks: 200 when all pass, 503 with them when one fails", async () => {
		expect(await get(HEALTH_PATHS.ready)).toEqual({ status: 200, body: { status: "ready", checks: { database: "ok", log: "ok" } } });
		checks = { database: "connect ECONNREFUSED", log: "ok" };
		expect(await get(HEALTH_PATHS.ready)).toEqual({ status: 503, body: { status: "not ready", checks } });
	});

	it("liveness answers without asking the database or the log", async () => {
		const before = readyCalls;
		checks = { database: "down", log: "down" };
		const r = await get(HEALTH_PATHS.live);
		expect(r.status).toBe(200);
		expect(r.body.status).toBe("ok");
		expect(readyCalls).toBe(before);
	});

	it("anything else is 404", async () => {
		expect((await get("/metrics")).status).toBe(404);
	});
});
