import { MemoryLog } from "../../lib/log/memory";
import { logContract } from "./contract";

logContract("memory", async () => {
	const log = new MemoryLog();
	return { log, cleanup: () => log.close() };
});

describe("MemoryLog", () => {
	const enc = new TextEncoder();
	const dec = new TextDecoder();
	let log: MemoryLog;
	afterEach(() => log.close());

	it("retains at most maxMessages, dropping the oldest first", async () => {
		log = new MemoryLog({ maxMessages: 10 });
		const topic = "market-data/test/retain/btcusd/trades";
		await log.publish(topic, "k", Array.from({ length: 25 }, (_, i) => enc.encode(String(i))));
		const c = await log.consumer({ subscription: "retain", topics: [topic] });
		const got = await c.pull(100, 0);
		expect(got.map((d) => dec.decode(d.payload))).toEqual(Array.from({ length: 10 }, (_, i) => String(15 + i)));
	});

	it("deleteSubscription forgets a finished subscription's position, and refuses while a consumer is open", async () => {
		log = new MemoryLog();
		const topic = "market-data/test/delete/btcusd/trades";
		await log.publish(topic, "k", [enc.encode("a"), enc.encode("b")]);
		const c = await log.consumer({ subscription: "finished", topics: [topic] });
		await c.ack(await c.pull(10, 0));
		await expect(log.deleteSubscription("finished")).rejects.toThrow(/open consumers/);
		await c.close();
		await log.deleteSubscription("finished");
		await log.deleteSubscription("finished"); // gone already: no error
		// a subscription of the same name starts over at the oldest message
		const again = await log.consumer({ subscription: "finished", topics: [topic] });
		expect((await again.pull(10, 0)).map((d) => dec.decode(d.payload))).toEqual(["a", "b"]);
	});

	it("retains at most maxBytes, but always the newest message", async () => {
		log = new MemoryLog({ maxBytes: 10 });
		const topic = "market-data/test/bytes/btcusd/trades";
		await log.publish(topic, "k", [enc.encode("aaaa"), enc.encode("bbbb"), enc.encode("cccc"), enc.encode("0123456789abc")]);
		const c = await log.consumer({ subscription: "bytes", topics: [topic] });
		expect((await c.pull(100, 0)).map((d) => dec.decode(d.payload))).toEqual(["0123456789abc"]);
	});

	it("skips messages dropped while a subscription lagged behind", async () => {
		log = new MemoryLog({ maxMessages: 5 });
		const topic = "market-data/test/lag/btcusd/trades";
		const c = await log.consumer({ subscription: "lag", topics: [topic] });
		await log.publish(topic, "k", [enc.encode("0")]);
		expect((await c.pull(1, 0)).map((d) => dec.decode(d.payload))).toEqual(["0"]);
		await log.publish(topic, "k", Array.from({ length: 12 }, (_, i) => enc.encode(String(i + 1))));
		expect((await c.pull(100, 0)).map((d) => dec.decode(d.payload))).toEqual(["8", "9", "10", "11", "12"]);
	});

	it("copies payloads, so a publisher may reuse its buffer", async () => {
		log = new MemoryLog();
		const topic = "market-data/test/copy/btcusd/trades";
		const buf = enc.encode("before");
		await log.publish(topic, "k", [buf]);
		buf.set(enc.encode("AFTER!"));
		const c = await log.consumer({ subscription: "copy", topics: [topic] });
		expect(dec.decode((await c.pull(1, 0))[0].payload)).toBe("before");
	});

	it("moves 300,000 messages through publish, pull and ack in linear time", async () => {
		log = new MemoryLog();
		const topic = "market-data/test/fast/btcusd/trades";
		const N = 300_000;
		const payload = enc.encode("x".repeat(64));
		const c = await log.consumer({ subscription: "fast", topics: [topic, "market-data/test/fast/*/quotes"] });
		const t0 = Date.now();
		let got = 0;
		const consuming = (async () => {
			while (got < N) {
				const ds = await c.pull(1_000, 1_000);
				if (!ds.length) break;
				got += ds.length;
				await c.ack(ds);
			}
		})();
		for (let i = 0; i < N; i += 100) await log.publish(topic, "k", Array.from({ length: 100 }, () => payload));
		await consuming;
		expect(got).toBe(N);
		// quadratic behaviour (array shifts per message) would take minutes here
		expect(Date.now() - t0).toBeLessThan(10_000);
	});
});
