import { runCli } from "../helpers/proc";
import { FakePulsar } from "../helpers/pulsar-ws-server";

/** bin/pulsar-topics.ts run as the real command against the fake broker's admin API. */
const TOKEN = "admin-token-value";


const run = (args: string[], env: Record<string, string>) => runCli("bin/pulsar-topics.ts", args, env);

describe("npm run pulsar:topics", () => {
	let broker: FakePulsar;
	beforeAll(async () => {
		broker = await FakePulsar.start({ token: TOKEN });
	});
	afterAll(() => broker.close());

	it("creates both namespaces with deduplication and the topics, then finds them existing", async () => {
		const env = { PULSAR_URL: "pulsar://127.0.0.1:6650", PULSAR_ADMIN_URL: broker.adminUrl, PULSAR_TOKEN: TOKEN, PULSAR_TENANT: "public", PULSAR_NAMESPACE: "default", PULSAR_HISTORICAL_NAMESPACE: "historical" };
		const first = await run(["--venue", "kraken", "--symbols", "BTC/USD,ETH/USD", "--channels", "trades,ticker", "--stream", "both"], env);
		expect(first.code).toBe(0);
		expect(first.out).toContain("namespace public/historical created");
		expect(first.out).toContain("persistent://public/default/market-data.crypto.raw.kraken.btcusd.trades created");
		expect(first.out).toContain("persistent://public/historical/market-data.crypto.historical.kraken.ethusd.ticker created");
		expect([...broker.topics.keys()]).toHaveLength(8);
		expect(broker.dedupOn("public/default") && broker.dedupOn("public/historical")).toBe(true);
		const again = await run(["market-data/crypto/raw/kraken/btcusd/trades"], env);
		expect(again.code).toBe(0);
		expect(again.out).toContain("namespace public/default exists");
		expect(again.out).toContain("market-data.crypto.raw.kraken.btcusd.trades exists");
		expect(first.out + again.out).not.toContain(TOKEN);
	}, 30_000);

	it("fails with the broker's answer and without the token when the token is wrong", async () => {
		const r = await run([], { PULSAR_URL: broker.adminUrl, PULSAR_TOKEN: "wrong-token-value" });
		expect(r.code).toBe(1);
		expect(r.out).toMatch(/HTTP 401.*check PULSAR_TOKEN/);
		expect(r.out).not.toContain("wrong-token-value");
		const bad = await run(["--stream", "sometimes"], { PULSAR_URL: broker.adminUrl });
		expect(bad.code).toBe(2);
		expect(bad.out).toMatch(/--stream sometimes: expected raw, historical or both/);
	}, 30_000);
});
