import { createPulsarLog } from "../../lib/log/pulsar";
import { PulsarNativeLog, type NativeClient, type NativeConsumer, type NativeMessage, type NativeProducer, type PulsarClientModule } from "../../lib/log/pulsar/native";

/**
 * The native driver's use of pulsar-client's API, with a recording stand-in for the package (the
 * real one needs libpulsar, which these machines cannot install). This checks what the driver asks of
 * the client (names, patterns, options, keys, sequence ids, acks) and its own buffering; it cannot
 * check the client or a broker.
 */
type Call = { what: string; arg: any };

function stubModule() {
	const calls: Call[] = [];
	const queues: NativeMessage[][] = [];
	let ledger = 0;
	class Client implements NativeClient {
		constructor(cfg: any) {
			calls.push({ what: "client", arg: cfg });
		}
		async createProducer(cfg: any): Promise<NativeProducer> {
			calls.push({ what: "createProducer", arg: cfg });
			return {
				send: async (m) => {
					calls.push({ what: "send", arg: { ...m, data: m.data.toString(), topic: cfg.topic } });
					const id = `${ledger}:${calls.length}:-1:-1`;
					for (const q of queues) {
						q.push({
							getTopicName: () => cfg.topic,
							getData: () => m.data,
							getMessageId: () => ({ toString: () => id }),
							getPublishTimestamp: () => Date.now(),
							getRedeliveryCount: () => 0,
							getPartitionKey: () => m.partitionKey ?? "",
						});
					}
					return { toString: () => id };
				},
				flush: async () => (calls.push({ what: "flush", arg: cfg.topic }), null),
				close: async () => (calls.push({ what: "closeProducer", arg: cfg.topic }), null),
			};
		}
		async subscribe(cfg: any): Promise<NativeConsumer> {
			calls.push({ what: "subscribe", arg: cfg });
			const q: NativeMessage[] = [];
			queues.push(q);
			const re = cfg.topicsPattern ? new RegExp(`^${cfg.topicsPattern}$`) : null;
			return {
				receive: async (timeout?: number) => {
					const deadline = Date.now() + (timeout ?? 1000);
					for (;;) {
						const i = q.findIndex((m) => (re ? re.test(m.getTopicName()) : m.getTopicName() === cfg.topic));
						if (i >= 0) return q.splice(i, 1)[0];
						if (Date.now() > deadline) throw new Error("Timeout");
						await new Promise((r) => setTimeout(r, 5));
					}
				},
				acknowledge: async (m) => (calls.push({ what: "ack", arg: m.getMessageId().toString() }), null),
				negativeAcknowledge: (m) => void calls.push({ what: "nack", arg: m.getMessageId().toString() }),
				close: async () => (calls.push({ what: "closeConsumer", arg: cfg.subscription }), null),
			};
		}
		async close() {
			calls.push({ what: "closeClient", arg: null });
			return null;
		}
	}
	class AuthenticationToken {
		constructor(readonly p: { token: string }) {}
	}
	const module = { Client, AuthenticationToken } as unknown as PulsarClientModule;
	return { module, calls };
}

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const enc = new TextEncoder();

describe("PulsarNativeLog against pulsar-client's API (recording stand-in)", () => {
	it("is picked by auto when pulsar-client loads, with token auth on the binary service URL", async () => {
		const { module, calls } = stubModule();
		const log = await createPulsarLog({ url: "pulsar://broker:6650", token: "jwt", logger: quiet }, async () => ({ module }));
		expect(log).toBeInstanceOf(PulsarNativeLog);
		const client = calls.find((c) => c.what === "client")!.arg;
		expect(client.serviceUrl).toBe("pulsar://broker:6650");
		expect(client.authentication.p).toEqual({ token: "jwt" });
		await log.close();
		expect(calls.at(-1)!.what).toBe("closeClient");
	});

	it("publishes through one named, batching, LZ4 producer per topic with key and increasing sequence ids", async () => {
		const { module, calls } = stubModule();
		const log = await PulsarNativeLog.connect(module, { url: "pulsar://b:6650", logger: quiet });
		await log.publish("market-data/crypto/raw/kraken/btcusd/trades", "BTC-USD-SPOT", [enc.encode("a"), enc.encode("b")]);
		await log.publish("market-data/crypto/raw/kraken/btcusd/trades", "BTC-USD-SPOT", [enc.encode("c")]);
		const producers = calls.filter((c) => c.what === "createProducer").map((c) => c.arg);
		expect(producers).toHaveLength(1);
		expect(producers[0]).toMatchObject({ topic: "persistent://public/default/market-data.crypto.raw.kraken.btcusd.trades", compressionType: "LZ4", batchingEnabled: true, blockIfQueueFull: true });
		expect(producers[0].producerName).toMatch(new RegExp(`^mdp-.+-${process.pid}-[0-9a-f]{6}-0$`));
		expect(calls.filter((c) => c.what === "send").map((c) => [c.arg.data, c.arg.partitionKey, c.arg.sequenceId])).toEqual([
			["a", "BTC-USD-SPOT", 0],
			["b", "BTC-USD-SPOT", 1],
			["c", "BTC-USD-SPOT", 2],
		]);
		await log.close();
		expect(calls.filter((c) => c.what === "flush" || c.what === "closeProducer")).toHaveLength(2);
	});

	it("subscribes one topicsPattern consumer per namespace, Shared from Earliest, and acks/nacks the messages", async () => {
		const { module, calls } = stubModule();
		const log = await PulsarNativeLog.connect(module, { url: "pulsar://b:6650", logger: quiet });
		const c = await log.consumer({ subscription: "tick-writer", topics: ["market-data/*/*/*/*/trades", "market-data/*/raw/*/*/quotes"], ackTimeoutMs: 5_000, maxInFlight: 100 });
		const subs = calls.filter((x) => x.what === "subscribe").map((x) => x.arg);
		expect(subs.map((s) => s.topicsPattern).sort()).toEqual([
			"persistent://public/default/(market-data\\.[^.]+\\.[^.]+\\.[^.]+\\.[^.]+\\.trades|market-data\\.[^.]+\\.raw\\.[^.]+\\.[^.]+\\.quotes)",
			"persistent://public/historical/(market-data\\.[^.]+\\.[^.]+\\.[^.]+\\.[^.]+\\.trades)",
		]);
		for (const s of subs) expect(s).toMatchObject({ subscription: "tick-writer", subscriptionType: "Shared", subscriptionInitialPosition: "Earliest", ackTimeoutMs: 5_000, nAckRedeliverTimeoutMs: 100, receiverQueueSize: 100, regexSubscriptionMode: "PersistentOnly" });
		await log.publish("market-data/crypto/raw/kraken/btcusd/trades", "BTC-USD-SPOT", [enc.encode("t1"), enc.encode("t2")]);
		const got = await c.pull(10, 2_000);
		const more = got.length < 2 ? await c.pull(10, 2_000) : [];
		const all = [...got, ...more];
		expect(all.map((d) => [d.topic, d.key, new TextDecoder().decode(d.payload), d.deliveryCount])).toEqual([
			["market-data/crypto/raw/kraken/btcusd/trades", "BTC-USD-SPOT", "t1", 1],
			["market-data/crypto/raw/kraken/btcusd/trades", "BTC-USD-SPOT", "t2", 1],
		]);
		await c.ack([all[0]]);
		await c.nack([all[1]]);
		expect(calls.filter((x) => x.what === "ack" || x.what === "nack").map((x) => x.what)).toEqual(["ack", "nack"]);
		await c.close();
		expect(calls.filter((x) => x.what === "closeConsumer")).toHaveLength(2);
		await log.close();
	});

	it("keeps both namespaces' pumps going when in-flight room is smaller than the backlog", async () => {
		// A broker with five messages already waiting in each namespace: both pumps fill the room at once
		// and then both wait for it.
		let n = 0;
		const message = (topic: string): NativeMessage => {
			const id = String(n++);
			return { getTopicName: () => topic, getData: () => Buffer.from(`${topic.includes("historical") ? "h" : "l"}${id}`), getMessageId: () => ({ toString: () => id }), getPublishTimestamp: () => Date.now(), getRedeliveryCount: () => 0, getPartitionKey: () => "k" };
		};
		class Client {
			async subscribe(cfg: any): Promise<NativeConsumer> {
				const ns = String(cfg.topicsPattern).split("/")[3];
				const q = Array.from({ length: 5 }, () => message(`persistent://public/${ns}/market-data.crypto.${ns === "default" ? "raw" : "historical"}.kraken.btcusd.trades`));
				return {
					receive: async (t?: number) => {
						if (q.length) return q.shift()!;
						await new Promise((r) => setTimeout(r, t ?? 100));
						throw new Error("Timeout");
					},
					acknowledge: async () => null,
					negativeAcknowledge: () => undefined,
					close: async () => null,
				};
			}
			async createProducer(): Promise<NativeProducer> {
				throw new Error("not used");
			}
			async close() {
				return null;
			}
		}
		const module = { Client, AuthenticationToken: class {} } as unknown as PulsarClientModule;
		const log = await PulsarNativeLog.connect(module, { url: "pulsar://b:6650", logger: quiet });
		const c = await log.consumer({ subscription: "tick-writer", topics: ["market-data/*/*/*/*/trades"], maxInFlight: 2 });
		const seen: string[] = [];
		const deadline = Date.now() + 10_000;
		while (seen.length < 10 && Date.now() < deadline) {
			const got = await c.pull(2, 700);
			seen.push(...got.map((d) => d.topic));
			await c.ack(got);
		}
		expect(seen.filter((t) => t.includes("/raw/"))).toHaveLength(5);
		expect(seen.filter((t) => t.includes("/historical/"))).toHaveLength(5);
		await c.close();
		await log.close();
	});
});
