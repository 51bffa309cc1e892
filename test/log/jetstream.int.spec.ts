import { connect, StorageType, type JetStreamManager, type NatsConnection } from "nats";
import { JetStreamLog, KEY_HEADER } from "../../lib/log/jetstream";
import type { Consumer, Delivery } from "../../lib/log/types";
import { logContract } from "./contract";

/**
 * The contract on the machine's NATS JetStream, plus what only JetStream has: the stream and durable
 * consumers on the server, several connections (processes) sharing one subscription, a crashed one.
 * Each log gets its own stream and subject prefix (streams may not overlap) and the stream is deleted after.
 */
const SERVERS = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const run = `${process.pid.toString(36)}${Date.now().toString(36)}`.toUpperCase();
let n = 0;
let admin: NatsConnection | null = null;

async function jsm(): Promise<JetStreamManager> {
	admin ??= await connect({ servers: SERVERS });
	return admin.jetstreamManager();
}

async function freshLog(extra: Partial<Parameters<typeof JetStreamLog.connect>[0]> = {}) {
	const id = `${run}_${n++}`;
	const stream = `MDP_TEST_${id}`;
	const opts = { servers: SERVERS, stream, subjectPrefix: `t${id}.`, ...extra };
	const log = await JetStreamLog.connect(opts);
	return {
		log,
		opts,
		stream,
		async cleanup() {
			await log.close();
			await (await jsm()).streams.delete(stream).catch(() => undefined);
		},
	};
}

afterAll(async () => {
	await admin?.close();
});

logContract("jetstream", freshLog);

describe("JetStreamLog on the server", () => {
	const enc = new TextEncoder();
	const dec = new TextDecoder();
	let t: Awaited<ReturnType<typeof freshLog>>;
	const extra: { cleanup(): Promise<void> }[] = [];
	afterEach(async () => {
		for (const e of extra.splice(0)) await e.cleanup();
		await t?.cleanup();
	});

	async function drain(c: Consumer, want: number, timeoutMs = 15_000): Promise<Delivery[]> {
		const out: Delivery[] = [];
		const deadline = Date.now() + timeoutMs;
		while (out.length < want && Date.now() < deadline) {
			const got = await c.pull(want - out.length, 500);
			await c.ack(got);
			out.push(...got);
		}
		return out;
	}

	it("creates a file-backed limits stream over market-data.> and updates its max age on reconnect", async () => {
		t = await freshLog({ maxAgeMs: 3_600_000 });
		const info = await (await jsm()).streams.info(t.stream);
		expect(info.config.subjects).toEqual([`${t.opts.subjectPrefix}market-data.>`]);
		expect(info.config.storage).toBe(StorageType.File);
		expect(info.config.retention).toBe("limits");
		expect(info.config.max_age).toBe(3_600_000 * 1e6);

		const again = await JetStreamLog.connect({ ...t.opts, maxAgeMs: 7_200_000 });
		await again.close();
		expect((await (await jsm()).streams.info(t.stream)).config.max_age).toBe(7_200_000 * 1e6);
	});

	it("stores topic as subject, key in a header, id as the stream sequence", async () => {
		t = await freshLog();
		const topic = "market-data/crypto/raw/kraken/btcusd/trades";
		await t.log.publish(topic, "BTC-USD-SPOT", [enc.encode("a"), enc.encode("b")]);
		const m = await (await jsm()).streams.getMessage(t.stream, { seq: 2 });
		expect(m.subject).toBe(`${t.opts.subjectPrefix}market-data.crypto.raw.kraken.btcusd.trades`);
		expect(m.header.get(KEY_HEADER)).toBe("BTC-USD-SPOT");
		expect(dec.decode(m.data)).toBe("b");

		const c = await t.log.consumer({ subscription: "ids", topics: ["market-data/crypto/>"] });
		const got = await drain(c, 2);
		expect(got.map((d) => d.id)).toEqual(["1", "2"]);
		expect(got.map((d) => d.key)).toEqual(["BTC-USD-SPOT", "BTC-USD-SPOT"]);
		await c.close();
	});

	it("makes one durable pull consumer per pattern, named after subscription and pattern", async () => {
		t = await freshLog();
		const patterns = ["market-data/*/*/*/*/trades", "market-data/*/*/*/*/quotes"];
		const c = await t.log.consumer({ subscription: "tick-writer", topics: patterns, ackTimeoutMs: 4_000, maxInFlight: 3_000 });
		const names: string[] = [];
		for await (const ci of (await jsm()).consumers.list(t.stream)) names.push(ci.name);
		const expected = patterns.map((p) => JetStreamLog.durableName("tick-writer", p));
		expect(names.sort()).toEqual([...expected].sort());
		expect(new Set(expected).size).toBe(2);
		expect(JetStreamLog.durableName("tick-writer", patterns[0])).toBe(expected[0]);
		const ci = await (await jsm()).consumers.info(t.stream, expected[1]);
		expect(ci.config.filter_subject).toBe(`${t.opts.subjectPrefix}market-data.*.*.*.*.quotes`);
		expect(ci.config.ack_policy).toBe("explicit");
		expect(ci.config.ack_wait).toBe(4_000 * 1e6);
		expect(ci.config.max_ack_pending).toBeGreaterThanOrEqual(3_000);
		expect(ci.config.deliver_subject).toBeUndefined();
		await c.close();
	});

	it("shares one subscription between two connections, as between two processes", async () => {
		t = await freshLog();
		const other = await JetStreamLog.connect(t.opts);
		extra.push({ cleanup: () => other.close() });
		const topic = "market-data/crypto/raw/kraken/btcusd/trades";
		const opts = { subscription: "shared", topics: [topic], ackTimeoutMs: 30_000 };
		const a = await t.log.consumer(opts);
		const b = await other.consumer(opts);
		await t.log.publish(topic, "k", Array.from({ length: 400 }, (_, i) => enc.encode(String(i))));

		// b holds some without acking, then goes away cleanly: a gets them at once, not after 30 s
		const held = await b.pull(50, 2_000);
		expect(held.length).toBeGreaterThan(0);
		const t0 = Date.now();
		await b.close();
		const got = await drain(a, 400);
		expect(Date.now() - t0).toBeLessThan(15_000);
		expect(new Set(got.map((d) => dec.decode(d.payload))).size).toBe(400);
		const again = new Set(held.map((d) => d.id));
		expect(got.filter((d) => again.has(d.id)).every((d) => d.deliveryCount === 2)).toBe(true);
		await a.close();
	});

	it("redelivers after ack_wait what a crashed process held", async () => {
		t = await freshLog();
		const crashing = await JetStreamLog.connect(t.opts);
		const topic = "market-data/crypto/raw/kraken/btcusd/trades";
		const opts = { subscription: "crash", topics: [topic], ackTimeoutMs: 1_000 };
		await t.log.publish(topic, "k", [enc.encode("x"), enc.encode("y")]);
		const doomed = await crashing.consumer(opts);
		const held = await doomed.pull(10, 2_000);
		expect(held).toHaveLength(2);
		// no close, no nak: the connection just disappears
		await crashing.nc.close();
		const survivor = await t.log.consumer(opts);
		const t0 = Date.now();
		const got = await drain(survivor, 2);
		expect(got.map((d) => d.id).sort()).toEqual(held.map((d) => d.id).sort());
		expect(got.every((d) => d.deliveryCount === 2)).toBe(true);
		expect(Date.now() - t0).toBeLessThan(5_000);
		await survivor.close();
	});

	it("rejects a publish nobody stores, with a clear error", async () => {
		t = await freshLog();
		await (await jsm()).streams.delete(t.stream);
		await expect(t.log.publish("market-data/crypto/raw/kraken/btcusd/trades", "k", [enc.encode("x")])).rejects.toThrow(/no stream/);
		await expect(t.log.ping()).rejects.toThrow(/unreachable/);
	});

	it("explains a stream whose subjects overlap another stream's", async () => {
		t = await freshLog();
		await expect(JetStreamLog.connect({ ...t.opts, stream: `${t.stream}_TWIN` })).rejects.toThrow(new RegExp(t.stream));
	});
});

describe("createMarketLog with driver jetstream", () => {
	it("connects to NATS_URL and the named stream", async () => {
		const { createMarketLog } = await import("../../lib/log");
		const stream = `MDP_TEST_${run}_FACTORY`;
		const log = await createMarketLog({ driver: "jetstream", natsUrl: SERVERS, stream, subjectPrefix: `f${run}.` });
		try {
			expect(log.driver).toBe("jetstream");
			expect(log).toBeInstanceOf(JetStreamLog);
			await log.ping();
			expect((await (await jsm()).streams.info(stream)).config.subjects).toEqual([`f${run}.market-data.>`]);
		} finally {
			await log.close();
			await (await jsm()).streams.delete(stream).catch(() => undefined);
		}
	});
});
