import { ServiceBroker } from "moleculer";
import { loadConfig } from "../../lib/config";
import { JetStreamLog } from "../../lib/log/jetstream";
import { brokerOptions } from "../../moleculer.config";
import { dbUrl } from "../helpers/db";
import { startService } from "../helpers/proc";
import { startNatsServer, type ProcServer } from "../helpers/servers";

jest.setTimeout(60_000);

describe("NATS credentials for the Moleculer transporter and the log (own nats-server with a password)", () => {
	let nats: ProcServer;
	const brokers: ServiceBroker[] = [];
	beforeAll(async () => {
		nats = await startNatsServer({ user: "mdp", password: "transport-pass" });
	});
	afterAll(async () => {
		for (const b of brokers) await b.stop().catch(() => undefined);
		await nats?.stop();
	});

	function broker(env: Record<string, string>, nodeID: string): ServiceBroker {
		const c = loadConfig({ TRANSPORTER: nats.url, MARKET_LOG: "jetstream", SERVICES: "api", NAMESPACE: "natsauth", NODE_ID: nodeID, METRICS_PORT: "0", LOG_LEVEL: "error", ...env });
		const b = new ServiceBroker({ ...brokerOptions(c), logger: false });
		brokers.push(b);
		return b;
	}

	it("two nodes with NATS_USER/NATS_PASSWORD (and one with them in TRANSPORTER's URL) reach each other", async () => {
		const server = broker({ NATS_USER: "mdp", NATS_PASSWORD: "transport-pass" }, "server");
		server.createService({ name: "echo", actions: { hi: { params: {}, handler: () => "hello" } } });
		await server.start();
		const client = broker({ TRANSPORTER: `nats://mdp:transport-pass@127.0.0.1:${nats.port}` }, "client");
		await client.start();
		await client.waitForServices("echo", 10_000);
		expect(await client.call("echo.hi")).toBe("hello");
	});

	it("a wrong password is an error line naming the credentials, over and over, never silence (npm start as a process)", async () => {
		const child = startService({ SERVICES: "api", TRANSPORTER: nats.url, NATS_USER: "mdp", NATS_PASSWORD: "wrong-transport-pass", MARKET_LOG: "jetstream", NATS_URL: nats.url, DATABASE_URL: dbUrl("postgres"), METRICS_PORT: "0", PORT: "0" });
		try {
			await child.waitForOutput(/Moleculer transporter: NATS at nats:\/\/127\.0\.0\.1:\d+ refused our credentials.*NATS_USER/, 30_000);
			expect(child.output()).not.toContain("wrong-transport-pass");
		} finally {
			await child.kill("SIGKILL");
		}
	});

	it("deleteSubscription removes the durable consumers of a finished subscription", async () => {
		const log = await JetStreamLog.connect({ servers: nats.url, stream: "DELSUB", auth: { user: "mdp", password: "transport-pass" } });
		try {
			const topics = ["market-data/a/b/c/d/trades", "market-data/a/b/c/d/quotes"];
			const c = await log.consumer({ subscription: "finished-replay", topics });
			await c.close();
			const names = async () => {
				const out: string[] = [];
				for await (const ci of (await log.nc.jetstreamManager()).consumers.list("DELSUB")) out.push(ci.name);
				return out;
			};
			expect(await names()).toHaveLength(2);
			await log.deleteSubscription("finished-replay", topics);
			expect(await names()).toEqual([]);
			await log.deleteSubscription("finished-replay", topics); // already gone: no error
		} finally {
			await log.close();
		}
	});
});
