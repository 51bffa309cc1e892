import { loadConfig, ConfigError } from "../../lib/config";

describe("configuration", () => {
	it("runs embedded with nothing set", () => {
		const c = loadConfig({});
		expect(c).toMatchObject({ databaseUrl: null, marketLog: "memory", transporter: null, redisUrl: null, port: 3000, services: ["tick-writer", "cascade-refresher", "api"] });
		expect(c.cascadeIntervalMs).toBeLessThanOrEqual(5000);
	});
	it("switches to cluster mode from the environment", () => {
		const c = loadConfig({ DATABASE_URL: "postgres://x/y", TRANSPORTER: "nats://127.0.0.1:4222", MARKET_LOG: "jetstream", REDIS_URL: "redis://127.0.0.1:6379", SERVICES: "tick-writer" });
		expect(c).toMatchObject({ databaseUrl: "postgres://x/y", marketLog: "jetstream", services: ["tick-writer"], redisUrl: "redis://127.0.0.1:6379" });
	});
	it("refuses what cannot work", () => {
		expect(() => loadConfig({ MARKET_LOG: "kafka" })).toThrow(ConfigError);
		expect(() => loadConfig({ SERVICES: "tick-writer,nope" })).toThrow(/unknown service "nope"/);
		expect(() => loadConfig({ TRANSPORTER: "nats://x", SERVICES: "api" })).toThrow(/cannot span processes/);
		expect(() => loadConfig({ PORT: "http" })).toThrow(/PORT/);
	});
});
