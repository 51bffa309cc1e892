import { loadConfig, logConfig } from "../../lib/config";
import { createMarketLog, MemoryLog } from "../../lib/log";

describe("createMarketLog and its configuration", () => {
	it("builds the memory log by default", async () => {
		const log = await createMarketLog();
		expect(log).toBeInstanceOf(MemoryLog);
		expect(log.driver).toBe("memory");
		await log.close();
		const fromEnv = await createMarketLog(logConfig(loadConfig({})));
		expect(fromEnv.driver).toBe("memory");
		await fromEnv.close();
	});

	it("says clearly that the pulsar driver is not built yet, and rejects unknown drivers", async () => {
		await expect(createMarketLog({ driver: "pulsar" })).rejects.toThrow(/pulsar.*not built yet/);
		await expect(createMarketLog({ driver: "kafka" })).rejects.toThrow(/unknown market log driver "kafka"/);
	});

	it("reads MARKET_LOG, NATS_URL, MARKET_LOG_STREAM and friends", () => {
		expect(logConfig(loadConfig({}))).toEqual({ driver: "memory", natsUrl: "nats://127.0.0.1:4222", stream: "MARKET_DATA", subjectPrefix: undefined, maxAgeMs: undefined });
		expect(
			logConfig(loadConfig({
				MARKET_LOG: "jetstream",
				NATS_URL: "nats://nats:4222",
				MARKET_LOG_STREAM: "MD",
				MARKET_LOG_SUBJECT_PREFIX: "staging.",
				MARKET_LOG_MAX_AGE_MS: "86400000",
			})),
		).toEqual({ driver: "jetstream", natsUrl: "nats://nats:4222", stream: "MD", subjectPrefix: "staging.", maxAgeMs: 86_400_000 });
		expect(() => loadConfig({ MARKET_LOG_MAX_AGE_MS: "soon" })).toThrow(/MARKET_LOG_MAX_AGE_MS/);
	});
});
