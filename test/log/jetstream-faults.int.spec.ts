import { connect } from "nats";
import { JetStreamLog } from "../../lib/log/jetstream";
import { startNatsServer, type ProcServer } from "../helpers/servers";

jest.setTimeout(90_000);

const TOPIC = "market-data/crypto/raw/test/x/trades";
const enc = new TextEncoder();
const quiet = () => {
	const lines: string[] = [];
	const rec = (...a: unknown[]) => lines.push(a.join(" "));
	return { lines, logger: { info: rec, warn: rec, error: (...a: unknown[]) => lines.push(`ERROR ${a.join(" ")}`) } };
};

describe("JetStream log with credentials (own nats-server with user and password)", () => {
	let nats: ProcServer;
	beforeAll(async () => {
		nats = await startNatsServer({ user: "mdp", password: "p@ss word" });
	});
	afterAll(async () => {
		await nats?.stop();
	});

	it("connects with NATS_USER/NATS_PASSWORD and with the credentials in the URL", async () => {
		const a = await JetStreamLog.connect({ servers: nats.url, stream: "AUTH_A", auth: { user: "mdp", password: "p@ss word" } });
		await a.ping();
		await a.close();
		const b = await JetStreamLog.connect({ servers: `nats://mdp:${encodeURIComponent("p@ss word")}@127.0.0.1:${nats.port}`, stream: "AUTH_A" });
		await b.ping();
		await b.close();
	});

	it("a wrong password is a clear error naming the credentials, logged, with no secret in it", async () => {
		const log = quiet();
		const err = await JetStreamLog.connect({ servers: nats.url, stream: "AUTH_B", auth: { user: "mdp", password: "wrong-secret" }, logger: log.logger }).catch((e) => e);
		expect(err).toBeInstanceOf(Error);
		expect(err.message).toMatch(/refused our credentials.*NATS_USER/);
		expect(err.message).not.toContain("wrong-secret");
		expect(log.lines.some((l) => /^ERROR .*refused our credentials/.test(l))).toBe(true);
		const none = await JetStreamLog.connect({ servers: nats.url, stream: "AUTH_B" }).catch((e) => e);
		expect(none.message).toMatch(/refused our credentials/);
	});
});

describe("JetStream publishes across a NATS restart (own nats-server, file store)", () => {
	let nats: ProcServer;
	beforeAll(async () => {
		nats = await startNatsServer();
	});
	afterAll(async () => {
		await nats?.stop();
	});

	it("a publish in flight when the server restarts completes soon after it is back, each message stored once", async () => {
		const log = await JetStreamLog.connect({ servers: nats.url, stream: "RESTART", publishTimeoutMs: 40_000 });
		try {
			const payloads = Array.from({ length: 20_000 }, (_, i) => enc.encode(`{"n":${i},"pad":"${"x".repeat(200)}"}`));
			const inFlight = log.publish(TOPIC, "k", payloads);
			let settled = false;
			void inFlight.then(() => (settled = true), () => (settled = true));
			await nats.kill("SIGKILL");
			expect(settled).toBe(false);
			await nats.start();
			// Resolves through the resend after the reconnect; without it the stall watchdog fails the batch.
			await expect(inFlight).resolves.toBeUndefined();
			// A publisher's retry of the same messages is dropped by the broker's duplicate window.
			await log.publish(TOPIC, "k", payloads.slice(0, 100));
			const nc = await connect({ servers: nats.url });
			const info = await (await nc.jetstreamManager()).streams.info("RESTART");
			await nc.close();
			expect(info.state.messages).toBe(payloads.length);
		} finally {
			await log.close();
		}
	});
});
