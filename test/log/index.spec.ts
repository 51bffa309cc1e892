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

	it("says clearly when pulsar cannot be reached or configured, and rejects unknown drivers", async () => {
		const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
		await expect(createMarketLog({ driver: "pulsar", logger: quiet })).rejects.toThrow(/needs PULSAR_URL/);
		// nothing listens on port 1
		await expect(createMarketLog({ driver: "pulsar", pulsarUrl: "http://127.0.0.1:1", pulsarClient: "websocket", logger: quiet })).rejects.toThrow(/pulsar unreachable/);
		await expect(createMarketLog({ driver: "pulsar", pulsarUrl: "http://127.0.0.1:1", pulsarClient: "native", logger: quiet })).rejects.toThrow(/PULSAR_CLIENT=native but pulsar-client/);
		await expect(createMarketLog({ driver: "kafka" })).rejects.toThrow(/unknown market log driver "kafka"/);
	});

	it("reads the PULSAR_* settings only for the pulsar log", () => {
		expect(
			logConfig(loadConfig({
				MARKET_LOG: "pulsar",
				PULSAR_URL: "pulsar://broker:6650",
				PULSAR_ADMIN_URL: "http://broker:8080",
				PULSAR_TOKEN: "jwt",
				PULSAR_TENANT: "mdp",
				PULSAR_NAMESPACE: "realtime",
				PULSAR_HISTORICAL_NAMESPACE: "stored",
				PULSAR_CLIENT: "websocket",
				PULSAR_SUBSCRIPTION_TYPE: "key_shared",
			})),
		).toMatchObject({
			driver: "pulsar",
			pulsarUrl: "pulsar://broker:6650",
			pulsarAdminUrl: "http://broker:8080",
			pulsarToken: "jwt",
			pulsarTenant: "mdp",
			pulsarNamespace: "realtime",
			pulsarHistoricalNamespace: "stored",
			pulsarClient: "websocket",
			pulsarSubscriptionType: "Key_Shared",
		});
		expect(logConfig(loadConfig({ MARKET_LOG: "pulsar" }))).toMatchObject({ pulsarUrl: "http://127.0.0.1:8080", pulsarTenant: "public", pulsarNamespace: "default", pulsarHistoricalNamespace: "historical", pulsarClient: "auto", pulsarSubscriptionType: "Shared" });
		expect(() => loadConfig({ MARKET_LOG: "pulsar", PULSAR_CLIENT: "grpc" })).toThrow(/PULSAR_CLIENT="grpc": expected one of auto, native, websocket/);
		expect(() => loadConfig({ PULSAR_SUBSCRIPTION_TYPE: "Exclusive" })).toThrow(/PULSAR_SUBSCRIPTION_TYPE/);
	});

	it("reads MARKET_LOG, NATS_URL, MARKET_LOG_STREAM and friends", () => {
		expect(logConfig(loadConfig({}))).toEqual({ driver: "memory", natsUrl: "nats://127.0.0.1:4222", natsAuth: {}, stream: "MARKET_DATA", subjectPrefix: undefined, maxAgeMs: undefined });
		expect(
			logConfig(loadConfig({
				MARKET_LOG: "jetstream",
				NATS_URL: "nats://nats:4222",
				MARKET_LOG_STREAM: "MD",
				MARKET_LOG_SUBJECT_PREFIX: "staging.",
				MARKET_LOG_MAX_AGE_MS: "86400000",
			})),
		).toEqual({ driver: "jetstream", natsUrl: "nats://nats:4222", natsAuth: {}, stream: "MD", subjectPrefix: "staging.", maxAgeMs: 86_400_000 });
		expect(logConfig(loadConfig({ MARKET_LOG: "jetstream", NATS_USER: "u", NATS_PASSWORD: "p", NATS_TLS_CA: "/ca.pem" })).natsAuth).toEqual({ user: "u", password: "p", tlsCaFile: "/ca.pem" });
		expect(() => loadConfig({ NATS_PASSWORD: "p" })).toThrow(/NATS_PASSWORD is set without NATS_USER/);
		expect(() => loadConfig({ NATS_USER: "u", NATS_TOKEN: "t" })).toThrow(/only one of/);
		expect(() => loadConfig({ MARKET_LOG_MAX_AGE_MS: "soon" })).toThrow(/MARKET_LOG_MAX_AGE_MS/);
	});
});
