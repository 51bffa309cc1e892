import type { Consumer, ConsumerOptions, Delivery, MarketLog } from "../../lib/log/types";

/**
 * The behaviour every market-log driver must show, run against each driver by its own spec file.
 * Driver-agnostic on purpose: only the MarketLog interface is used here.
 */
export interface LogUnderTest {
	log: MarketLog;
	cleanup(): Promise<void>;
	/**
	 * The broker pushes a message to consumers on its own, after it has answered the publisher (Pulsar):
	 * "consumable once publish resolves" then means "arrives without any further publish", within a
	 * few seconds, rather than "already buffered".
	 */
	asyncDispatch?: boolean;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const text = (d: Delivery) => dec.decode(d.payload);
const msgs = (prefix: string, n: number, from = 0) => Array.from({ length: n }, (_, i) => enc.encode(`${prefix}:${from + i}`));

let counter = 0;
/** Unique per test and per run, so persistent drivers never see an earlier run's topics or subscriptions. */
const unique = () => `${Date.now().toString(36)}${process.pid.toString(36)}n${(counter++).toString(36)}`;

/** Pull (acking when asked) until `n` deliveries arrived or `timeoutMs` passed; never sleeps, pull itself waits. */
async function collect(c: Consumer, n: number, { ack = true, max = 500, timeoutMs = 20_000 } = {}): Promise<Delivery[]> {
	const out: Delivery[] = [];
	const deadline = Date.now() + timeoutMs;
	while (out.length < n && Date.now() < deadline) {
		const got = await c.pull(Math.min(max, n - out.length), Math.min(1_000, Math.max(1, deadline - Date.now())));
		if (ack && got.length) await c.ack(got);
		out.push(...got);
	}
	return out;
}

export function logContract(name: string, make: () => Promise<LogUnderTest>): void {
	describe(`market log contract: ${name}`, () => {
		let t: LogUnderTest;
		let opened: Consumer[];
		let id: string;
		let topic: (suffix?: string) => string;

		beforeEach(async () => {
			t = await make();
			opened = [];
			id = unique();
			topic = (suffix = "btcusd/trades") => `market-data/test/${id}/${suffix}`;
		});
		afterEach(async () => {
			for (const c of opened) await c.close();
			await t.cleanup();
		});

		async function consumer(opts: Partial<ConsumerOptions> = {}): Promise<Consumer> {
			const c = await t.log.consumer({ subscription: `sub-${id}`, topics: [topic()], ...opts });
			opened.push(c);
			return c;
		}

		it("delivers everything published, once, in publish order per key, with topic, key and publish time", async () => {
			const before = Date.now();
			for (let b = 0; b < 10; b++) {
				await t.log.publish(topic(), "k1", msgs("k1", 3, b * 3));
				await t.log.publish(topic(), "k2", msgs("k2", 2, b * 2));
			}
			const after = Date.now();
			const c = await consumer();
			const got = await collect(c, 50);
			expect(got).toHaveLength(50);
			expect(new Set(got.map((d) => d.id)).size).toBe(50);
			for (const key of ["k1", "k2"]) {
				const mine = got.filter((d) => d.key === key);
				expect(mine.map(text)).toEqual(Array.from({ length: key === "k1" ? 30 : 20 }, (_, i) => `${key}:${i}`));
			}
			for (const d of got) {
				expect(d.topic).toBe(topic());
				expect(d.deliveryCount).toBe(1);
				expect(d.payload).toBeInstanceOf(Uint8Array);
				// the log's clock may be another process's: allow a little skew
				expect(d.publishTime).toBeGreaterThanOrEqual(before - 1_000);
				expect(d.publishTime).toBeLessThanOrEqual(after + 1_000);
			}
			expect(await c.pull(10, 200)).toEqual([]);
		});

		it("gives a consumer only the topics its patterns match, each message once", async () => {
			const want = ["kraken/btcusd/trades", "kraken/ethusd/trades", "oanda/eurusd/quotes", "oanda/eurusd/book/l2"];
			const other = ["kraken/btcusd/book", "oanda/eurusd", "binance/btcusd/trades/extra"];
			for (const s of [...want, ...other]) await t.log.publish(topic(s), "k", [enc.encode(s)]);
			await t.log.publish(`market-data/elsewhere/${id}/kraken/btcusd/trades`, "k", [enc.encode("elsewhere")]);
			// the last two patterns overlap on oanda/eurusd/quotes: it must still come once
			const c = await consumer({ topics: [topic("*/*/trades"), topic("oanda/eurusd/>"), topic("*/eurusd/quotes")] });
			const got = await collect(c, want.length);
			expect(got.map(text).sort()).toEqual([...want].sort());
			expect(got.map((d) => d.topic).sort()).toEqual(want.map((s) => topic(s)).sort());
			expect(await c.pull(10, 300)).toEqual([]);
		});

		it("splits one subscription's messages between its consumers, none lost or doubled", async () => {
			const N = 1_000;
			for (let b = 0; b < 10; b++) await t.log.publish(topic(), `k${b % 3}`, msgs(`b${b}`, N / 10));
			const [a, b] = [await consumer(), await consumer()];
			const seen = new Map<string, number>();
			const perConsumer = [0, 0];
			let total = 0;
			const deadline = Date.now() + 20_000;
			const run = async (c: Consumer, i: number) => {
				while (total < N && Date.now() < deadline) {
					const got = await c.pull(20, 200);
					for (const d of got) seen.set(text(d), (seen.get(text(d)) ?? 0) + 1);
					perConsumer[i] += got.length;
					total += got.length;
					await c.ack(got);
				}
			};
			await Promise.all([run(a, 0), run(b, 1)]);
			expect(total).toBe(N);
			expect(seen.size).toBe(N);
			expect([...seen.values()].every((n) => n === 1)).toBe(true);
			expect(perConsumer[0]).toBeGreaterThan(0);
			expect(perConsumer[1]).toBeGreaterThan(0);
			expect(await a.pull(10, 200)).toEqual([]);
		});

		it("gives each subscription every message", async () => {
			await t.log.publish(topic(), "k", msgs("m", 200));
			const s1 = await consumer({ subscription: `one-${id}` });
			const s2 = await consumer({ subscription: `two-${id}` });
			const [g1, g2] = await Promise.all([collect(s1, 200), collect(s2, 200)]);
			expect(g1.map(text)).toEqual(msgs("m", 200).map((m) => dec.decode(m)));
			expect(g2.map(text)).toEqual(g1.map(text));
		});

		it("starts a new subscription at the oldest retained message", async () => {
			await t.log.publish(topic(), "k", msgs("early", 5));
			const c = await consumer();
			await t.log.publish(topic(), "k", msgs("late", 5));
			const got = await collect(c, 10);
			expect(got.map(text)).toEqual([...msgs("early", 5), ...msgs("late", 5)].map((m) => dec.decode(m)));
		});

		it("never redelivers an acked message", async () => {
			await t.log.publish(topic(), "k", msgs("m", 5));
			const c = await consumer({ ackTimeoutMs: 1_000 });
			const got = await collect(c, 5);
			expect(got).toHaveLength(5);
			// well past the ack timeout: nothing comes back
			expect(await c.pull(10, 1_800)).toEqual([]);
			await c.close();
			const again = await consumer({ ackTimeoutMs: 1_000 });
			expect(await again.pull(10, 300)).toEqual([]);
		});

		it("redelivers a nacked message with the same id and a higher deliveryCount, after the delay asked", async () => {
			await t.log.publish(topic(), "k", msgs("m", 3));
			const c = await consumer();
			const first = await collect(c, 3, { ack: false });
			expect(first.map((d) => d.deliveryCount)).toEqual([1, 1, 1]);
			await c.nack(first);
			const second = await collect(c, 3, { ack: false });
			expect(second.map((d) => d.id).sort()).toEqual(first.map((d) => d.id).sort());
			expect(second.map((d) => d.deliveryCount)).toEqual([2, 2, 2]);
			expect(second.map(text).sort()).toEqual(first.map(text).sort());

			const t0 = Date.now();
			await c.nack(second, 800);
			expect(await c.pull(10, 300)).toEqual([]);
			const third = await collect(c, 3);
			expect(Date.now() - t0).toBeGreaterThanOrEqual(750);
			expect(third.map((d) => d.id).sort()).toEqual(first.map((d) => d.id).sort());
			expect(third.map((d) => d.deliveryCount)).toEqual([3, 3, 3]);
		});

		it("redelivers what is not acked within the ack timeout", async () => {
			await t.log.publish(topic(), "k", msgs("m", 2));
			const c = await consumer({ ackTimeoutMs: 1_000 });
			const t0 = Date.now();
			const first = await collect(c, 2, { ack: false });
			expect(first).toHaveLength(2);
			// Both come back, counted as redeliveries. On a loaded machine a pull or an ack can come later than a
			// second ack timeout, and then a message is (rightly, at least once) delivered a third time; and a first
			// delivery that reached the client after its pull had given up on it may still be handed out late (it
			// is the same message, at least once). What must hold: each comes back with a count of 2 or more.
			const wanted = new Set(first.map((d) => d.id));
			const missing = () => [...wanted].filter((id) => !again.some((d) => d.id === id && d.deliveryCount >= 2));
			const again = await collect(c, 2, { timeoutMs: 10_000 });
			const deadline = Date.now() + 10_000;
			while (missing().length && Date.now() < deadline) again.push(...(await collect(c, missing().length, { timeoutMs: 1_000 })));
			expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
			expect([...new Set(again.map((d) => d.id))].sort()).toEqual([...wanted].sort());
			expect(missing()).toEqual([]);
			const late = await c.pull(10, 1_500);
			expect(late.filter((d) => !wanted.has(d.id) || d.deliveryCount < 3)).toEqual([]);
		});

		it("hands a closed consumer's un-acked messages to another consumer at once", async () => {
			await t.log.publish(topic(), "k", msgs("m", 5));
			const a = await consumer({ ackTimeoutMs: 30_000 });
			const got = await collect(a, 5, { ack: false });
			expect(got).toHaveLength(5);
			await a.ack(got.slice(0, 2));
			const b = await consumer({ ackTimeoutMs: 30_000 });
			const t0 = Date.now();
			await a.close();
			const taken = await collect(b, 3, { timeoutMs: 10_000 });
			expect(Date.now() - t0).toBeLessThan(10_000);
			expect(taken.map((d) => d.id).sort()).toEqual(got.slice(2).map((d) => d.id).sort());
			expect(taken.every((d) => d.deliveryCount === 2)).toBe(true);
			expect(await b.pull(10, 300)).toEqual([]);
		});

		it("waits the full waitMs when nothing comes, and returns early when something does", async () => {
			const c = await consumer();
			let t0 = Date.now();
			expect(await c.pull(10, 400)).toEqual([]);
			const waited = Date.now() - t0;
			expect(waited).toBeGreaterThanOrEqual(390);
			expect(waited).toBeLessThan(3_000);

			t0 = Date.now();
			const pending = c.pull(10, 10_000);
			await t.log.publish(topic(), "k", msgs("m", 1));
			const got = await pending;
			expect(got.map(text)).toEqual(["m:0"]);
			expect(Date.now() - t0).toBeLessThan(5_000);
		});

		it("makes a message consumable by the time publish resolves", async () => {
			const c = await consumer();
			await t.log.publish(topic(), "k", msgs("m", 3));
			// waitMs 0: only what is already there
			const got = t.asyncDispatch ? await collect(c, 3, { ack: false, timeoutMs: 5_000 }) : await c.pull(10, 0);
			expect(got.map(text)).toEqual(["m:0", "m:1", "m:2"]);
		});

		it("keeps no more than maxInFlight un-acked deliveries per consumer", async () => {
			await t.log.publish(topic(), "k", msgs("m", 20));
			const c = await consumer({ maxInFlight: 5 });
			const first = await c.pull(100, 500);
			expect(first.length).toBeGreaterThan(0);
			expect(first.length).toBeLessThanOrEqual(5);
			const held = [...first, ...(await c.pull(100, 300))];
			expect(held.length).toBeLessThanOrEqual(5);
			await c.ack(held);
			const rest = await collect(c, 20 - held.length, { max: 5 });
			expect([...held, ...rest].map(text)).toEqual(msgs("m", 20).map((m) => dec.decode(m)));
		});

		it("answers ping and flush while open, and ping fails once closed", async () => {
			await expect(t.log.ping()).resolves.toBeUndefined();
			await t.log.publish(topic(), "k", msgs("m", 1));
			await expect(t.log.flush()).resolves.toBeUndefined();
			expect(typeof t.log.driver).toBe("string");
			await t.log.close();
			await expect(t.log.ping()).rejects.toThrow();
			await expect(t.log.publish(topic(), "k", msgs("m", 1))).rejects.toThrow();
			opened = [];
		});

		it("rejects topics that cannot be mapped onto every driver", async () => {
			await expect(t.log.publish("market-data/a.b/c", "k", msgs("m", 1))).rejects.toThrow(/invalid topic/);
			await expect(t.log.publish("market-data//c", "k", msgs("m", 1))).rejects.toThrow(/invalid topic/);
			await expect(t.log.consumer({ subscription: `s-${id}`, topics: ["market-data/>/x"] })).rejects.toThrow(/pattern/);
		});

		it("moves a large batch (20,000 messages) through without loss or duplicates", async () => {
			const N = 20_000;
			const keys = ["k0", "k1", "k2", "k3"];
			const per = N / keys.length;
			// keys publish concurrently, each key's batches one after the other (order is only defined per publisher)
			await Promise.all(
				keys.map(async (k) => {
					for (let j = 0; j < 5; j++) await t.log.publish(topic(), k, msgs(k, per / 5, (j * per) / 5));
				}),
			);
			const c = await consumer({ maxInFlight: 5_000 });
			const got = await collect(c, N, { max: 1_000, timeoutMs: 40_000 });
			expect(got).toHaveLength(N);
			expect(new Set(got.map((d) => d.id)).size).toBe(N);
			for (const k of keys) {
				const mine = got.filter((d) => d.key === k).map((d) => Number(text(d).split(":")[1]));
				expect(mine).toEqual(Array.from({ length: per }, (_, i) => i));
			}
			expect(await c.pull(10, 200)).toEqual([]);
		}, 60_000);
	});
}
