import net from "node:net";
import WebSocket from "ws";
import { createMarketLog } from "../../lib/log";
import { loadConfig, logConfig } from "../../lib/config";
import { createPulsarLog, PulsarAdmin } from "../../lib/log/pulsar";
import { formatMessageId } from "../../lib/log/pulsar/message-id";
import { PulsarWsLog } from "../../lib/log/pulsar/websocket";
import type { Consumer, Delivery } from "../../lib/log/types";
import { waitFor } from "../helpers/db";
import { FakePulsar } from "../helpers/pulsar-ws-server";

/**
 * What the contract does not cover: the fake broker's protocol seen through raw WebSockets (so the
 * driver is not checking itself), and the driver's Pulsar-only behaviour: producer names, sequence ids
 * and deduplicated resends, LZ4 and batching, namespaces, discovery, token handling, client choice.
 */
const TOKEN = "s3cr3t-jwt-value.eyJzdWIiOiJtZHAifQ.sig";
const enc = new TextEncoder();
const dec = new TextDecoder();
const text = (d: Delivery) => dec.decode(d.payload);
const TOPIC = "market-data/crypto/raw/kraken/btcusd/trades";
const FULL = "persistent://public/default/market-data.crypto.raw.kraken.btcusd.trades";
const PATH = "persistent/public/default/market-data.crypto.raw.kraken.btcusd.trades";

function capture() {
	const lines: string[] = [];
	const f = (m: string, ...a: unknown[]) => void lines.push([m, ...a.map(String)].join(" "));
	return { lines, logger: { info: f, warn: f, error: f } };
}

/** A raw WebSocket on the fake, answering with its frames as parsed JSON. */
async function raw(url: string, token = TOKEN) {
	const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
	const frames: any[] = [];
	let notify: (() => void) | null = null;
	ws.on("message", (d) => {
		frames.push(JSON.parse(d.toString()));
		notify?.();
	});
	await new Promise<void>((resolve, reject) => {
		ws.once("open", () => resolve());
		ws.once("unexpected-response", (_q, res) => reject(new Error(`HTTP ${res.statusCode}`)));
		ws.once("error", reject);
	});
	return {
		ws,
		frames,
		send: (o: unknown) => ws.send(JSON.stringify(o)),
		/** Wait for the n-th frame (1-based) with a deadline; never a bare sleep. */
		async frame(n: number, timeoutMs = 5_000): Promise<any> {
			const deadline = Date.now() + timeoutMs;
			while (frames.length < n) {
				if (Date.now() > deadline) throw new Error(`frame ${n} did not come (have ${frames.length})`);
				await new Promise<void>((r) => {
					notify = r;
					setTimeout(r, 50);
				});
			}
			return frames[n - 1];
		},
		close: () => new Promise<void>((r) => (ws.readyState === WebSocket.CLOSED ? r() : (ws.once("close", () => r()), ws.close()))),
	};
}

const pulsarTopicPath = (full: string) => full.replace("://", "/");

async function drain(c: Consumer, n: number, timeoutMs = 10_000): Promise<Delivery[]> {
	const out: Delivery[] = [];
	const deadline = Date.now() + timeoutMs;
	while (out.length < n && Date.now() < deadline) {
		const got = await c.pull(n - out.length, 500);
		await c.ack(got);
		out.push(...got);
	}
	return out;
}

/** The masking keys (hex) of the client frames in `b`, the bytes a client sent after its upgrade request. */
function clientFrameMasks(b: Buffer): string[] {
	const masks: string[] = [];
	let at = 0;
	while (at + 2 <= b.length) {
		let len = b[at + 1] & 0x7f;
		let head = 2;
		if (len === 126) {
			len = b.readUInt16BE(at + 2);
			head = 4;
		} else if (len === 127) {
			len = Number(b.readBigUInt64BE(at + 2));
			head = 10;
		}
		if (!(b[at + 1] & 0x80)) throw new Error("a client frame without the mask bit");
		masks.push(b.subarray(at + head, at + head + 4).toString("hex"));
		at += head + 4 + len;
	}
	return masks;
}

describe("fake Pulsar broker, spoken to over raw WebSockets", () => {
	let broker: FakePulsar;
	const open: { close(): Promise<void> }[] = [];
	beforeEach(async () => {
		broker = await FakePulsar.start({ token: TOKEN });
	});
	afterEach(async () => {
		for (const o of open.splice(0)) await o.close();
		await broker.close();
	});
	const producerUrl = (q = "") => `${broker.url}/ws/v2/producer/${PATH}${q}`;
	const consumerUrl = (sub: string, q: string) => `${broker.url}/ws/v2/consumer/${PATH}/${sub}?${q}`;

	it("acks a publish with a base64 MessageIdData and the request's context, and rejects bad payloads", async () => {
		const p = await raw(producerUrl());
		open.push(p);
		p.send({ payload: Buffer.from("hello").toString("base64"), properties: { a: "1" }, context: "c1", key: "BTC-USD-SPOT" });
		const ack = await p.frame(1);
		expect(ack.result).toBe("ok");
		expect(ack.context).toBe("c1");
		expect(formatMessageId(ack.messageId)).toMatch(/^\d+:0:-1:-1$/);
		p.send({ payload: "not base64!", context: "c2" });
		expect(await p.frame(2)).toMatchObject({ result: "send-error:7", context: "c2" });
		p.ws.send("{oops");
		expect((await p.frame(3)).result).toBe("send-error:3");
		expect(broker.messages(FULL).map((m) => [m.payload.toString(), m.key, m.properties])).toEqual([["hello", "BTC-USD-SPOT", { a: "1" }]]);
	});

	it("reads a send request as JSON does: escapes in the payload, a repeated payload field, fields in any order", async () => {
		const p = await raw(producerUrl());
		open.push(p);
		p.ws.send('{"payload":"\\u0061GVsbG8=","context":"escaped"}'); // "aGVsbG8=" with its first letter escaped
		p.ws.send('{"payload":"aGk=","context":"twice","payload":"dHdpY2U="}'); // the last one counts
		p.ws.send('{"context":"last","payload":"bGFzdA==","key":"k"}');
		p.ws.send('{"payload":"bm90IGJhc2U2NA=","context":"short"}'); // one character missing
		expect((await p.frame(1)).context).toBe("escaped");
		expect((await p.frame(2)).context).toBe("twice");
		expect((await p.frame(3)).context).toBe("last");
		expect(await p.frame(4)).toMatchObject({ result: "send-error:7", context: "short" });
		expect(broker.messages(FULL).map((m) => [m.payload.toString(), m.key])).toEqual([
			["hello", undefined],
			["twice", undefined],
			["last", "k"],
		]);
	});

	it("sends a batch once it holds 128 KiB of payload, as the Java producer behind the WebSocket service does, without waiting for its delay", async () => {
		const p = await raw(producerUrl("?batchingEnabled=true&batchingMaxMessages=1000&batchingMaxPublishDelay=600000"));
		open.push(p);
		const big = Buffer.alloc(50 * 1024, 7).toString("base64");
		for (let i = 0; i < 3; i++) p.send({ payload: big, context: `c${i}` });
		const acks = [await p.frame(1), await p.frame(2), await p.frame(3)];
		expect(acks.map((a) => a.context)).toEqual(["c0", "c1", "c2"]);
		// one batch: one entry, batch indexes 0..2
		const ids = acks.map((a) => formatMessageId(a.messageId).split(":"));
		expect(new Set(ids.map((x) => x.slice(0, 2).join(":"))).size).toBe(1);
		expect(ids.map((x) => x[3])).toEqual(["0", "1", "2"]);
	});

	it("refuses a wrong token, a topic with a raw '/', and a second producer of the same name", async () => {
		await expect(raw(producerUrl(), "wrong")).rejects.toThrow(/HTTP 401/);
		await expect(raw(`${broker.url}/ws/v2/producer/persistent/public/default/market-data/crypto/x`)).rejects.toThrow(/HTTP 400/);
		const a = await raw(producerUrl("?producerName=p1"));
		open.push(a);
		await expect(raw(producerUrl("?producerName=p1"))).rejects.toThrow(/HTTP 409/);
		await expect(raw(producerUrl("?compressionType=LZMA"))).rejects.toThrow(/HTTP 400/);
		const res = await fetch(`${broker.adminUrl}/admin/v2/persistent/public/default`);
		expect(res.status).toBe(401);
		broker.forbidden.add(FULL);
		await expect(raw(consumerUrl("s", "subscriptionType=Shared"))).rejects.toThrow(/HTTP 403/);
	});

	it("keeps a producer whose connection dropped busy for producerBusyAfterDropMs, but not one closed cleanly", async () => {
		broker.producerBusyAfterDropMs = 60_000;
		const clean = await raw(producerUrl("?producerName=clean"));
		await clean.close();
		open.push(await raw(producerUrl("?producerName=clean")));
		const a = await raw(producerUrl("?producerName=half-open"));
		broker.dropConnections();
		await a.close();
		await expect(raw(producerUrl("?producerName=half-open"))).rejects.toThrow(/HTTP 409/);
		broker.producerBusyAfterDropMs = 0;
		await expect(raw(producerUrl("?producerName=half-open"))).rejects.toThrow(/HTTP 409/);
	});

	it("delivers with redeliveryCount, redelivers on nack, ack timeout and disconnect, and splits Shared subscriptions", async () => {
		const p = await raw(producerUrl());
		open.push(p);
		for (let i = 0; i < 4; i++) p.send({ payload: Buffer.from(`m${i}`).toString("base64"), context: String(i) });
		await p.frame(4);
		const q = "subscriptionType=Shared&subscriptionInitialPosition=Earliest&pullMode=true&ackTimeoutMillis=1000&negativeAckRedeliveryDelay=100";
		const a = await raw(consumerUrl("s", q));
		const b = await raw(consumerUrl("s", q));
		open.push(b);
		a.send({ type: "permit", permitMessages: 2 });
		b.send({ type: "permit", permitMessages: 2 });
		const [a1, a2, b1, b2] = [await a.frame(1), await a.frame(2), await b.frame(1), await b.frame(2)];
		const first = [a1, a2, b1, b2].map((m) => Buffer.from(m.payload, "base64").toString()).sort();
		expect(first).toEqual(["m0", "m1", "m2", "m3"]);
		expect([a1, a2, b1, b2].every((m) => m.redeliveryCount === 0 && typeof m.publishTime === "string")).toBe(true);
		// b: ack one, nack the other
		b.send({ messageId: b1.messageId });
		b.send({ type: "negativeAcknowledge", messageId: b2.messageId });
		b.send({ type: "permit", permitMessages: 10 });
		const again = await b.frame(3);
		expect(again.messageId).toBe(b2.messageId);
		expect(again.redeliveryCount).toBe(1);
		// a disconnects holding two: b gets them at once with a higher count
		await a.close();
		const [r1, r2] = [await b.frame(4), await b.frame(5)];
		expect([r1.messageId, r2.messageId].sort()).toEqual([a1.messageId, a2.messageId].sort());
		expect([r1.redeliveryCount, r2.redeliveryCount]).toEqual([1, 1]);
		// nothing acked within 1 s: ack timeout sends them again
		const t0 = Date.now();
		const timedOut = await b.frame(6, 5_000);
		expect(Date.now() - t0).toBeGreaterThanOrEqual(700);
		expect(timedOut.redeliveryCount).toBe(2);
	});

	it("keeps each key on one consumer of a Key_Shared subscription", async () => {
		const p = await raw(producerUrl());
		open.push(p);
		const keys = ["BTC-USD-SPOT", "ETH-USD-SPOT", "SOL-USD-SPOT", "XRP-USD-SPOT", "ADA-USD-SPOT", "DOT-USD-SPOT"];
		for (let i = 0; i < 60; i++) p.send({ payload: Buffer.from(String(i)).toString("base64"), key: keys[i % keys.length], context: String(i) });
		await p.frame(60);
		const q = "subscriptionType=Key_Shared&subscriptionInitialPosition=Earliest&pullMode=true";
		const cs = [await raw(consumerUrl("ks", q)), await raw(consumerUrl("ks", q))];
		open.push(...cs);
		for (const c of cs) c.send({ type: "permit", permitMessages: 100 });
		await waitFor(() => cs[0].frames.length + cs[1].frames.length === 60, { what: "60 deliveries" });
		const owner = new Map<string, number>();
		cs.forEach((c, i) =>
			c.frames.forEach((f) => {
				expect(owner.get(f.key) ?? i).toBe(i);
				owner.set(f.key, i);
			}),
		);
		expect(new Set(owner.values()).size).toBe(2);
		// and each key's messages in publish order
		for (const c of cs) {
			for (const k of keys) {
				const ns = c.frames.filter((f) => f.key === k).map((f) => Number(Buffer.from(f.payload, "base64").toString()));
				expect(ns).toEqual([...ns].sort((x, y) => x - y));
			}
		}
	});

	it("drops a resend with a sequence id it already stored once deduplication is on for the namespace", async () => {
		const admin = new PulsarAdmin({ url: broker.adminUrl, token: TOKEN });
		await admin.setDeduplication("public/default", true);
		const p = await raw(producerUrl("?producerName=dedup-1"));
		open.push(p);
		for (const seq of [0, 1, 1, 0, 2]) p.send({ payload: Buffer.from(`s${seq}`).toString("base64"), context: `c${seq}`, sequenceId: seq });
		const acks = [await p.frame(1), await p.frame(2), await p.frame(3), await p.frame(4), await p.frame(5)];
		expect(acks.every((a) => a.result === "ok")).toBe(true);
		expect(acks.map((a) => formatMessageId(a.messageId).startsWith("-1:-1"))).toEqual([false, false, true, true, false]);
		expect(broker.messages(FULL).map((m) => m.payload.toString())).toEqual(["s0", "s1", "s2"]);
		expect(await admin.listTopics("public/default")).toEqual([FULL]);
		expect(await admin.createNamespace("public/historical")).toBe(true);
		expect(await admin.createNamespace("public/historical")).toBe(false);
	});
});

describe("PulsarWsLog on the fake broker", () => {
	let broker: FakePulsar;
	const logs: PulsarWsLog[] = [];
	beforeEach(async () => {
		broker = await FakePulsar.start({ token: TOKEN });
	});
	afterEach(async () => {
		for (const l of logs.splice(0)) await l.close();
		await broker.close();
	});
	async function log(extra: Partial<ConstructorParameters<typeof PulsarWsLog>[0]> = {}) {
		const l = await PulsarWsLog.connect({ url: broker.url, token: TOKEN, discoveryIntervalMs: 300, logger: capture().logger, ...extra });
		logs.push(l);
		return l;
	}

	it("publishes with a stable producer name, sequence ids, key, batching and LZ4", async () => {
		const l = await log();
		await l.publish(TOPIC, "BTC-USD-SPOT", [enc.encode("a"), enc.encode("b")]);
		await l.publish(TOPIC, "BTC-USD-SPOT", [enc.encode("c")]);
		expect(broker.producerParams).toHaveLength(1);
		const q = broker.producerParams[0];
		expect(q).toMatchObject({ batchingEnabled: "true", compressionType: "LZ4", maxPendingMessages: "1000" });
		expect(q.producerName).toMatch(new RegExp(`^mdp-.+-${process.pid}-[0-9a-f]{6}-0$`));
		const stored = broker.messages(FULL);
		expect(stored.map((m) => [m.payload.toString(), m.key])).toEqual([["a", "BTC-USD-SPOT"], ["b", "BTC-USD-SPOT"], ["c", "BTC-USD-SPOT"]]);
		// batched by the broker's producer: one entry, batch indexes
		expect(stored.slice(0, 2).map((m) => formatMessageId(m.id).split(":").slice(1).join(":"))).toEqual(["0:-1:0", "0:-1:1"]);
	});

	it("masks its frames with a zero key by default (no masking work), RFC-random keys with randomMaskKeys, and the broker reads both", async () => {
		// a TCP relay in front of the fake records what each producer connection sends
		const sent = new Map<net.Socket, Buffer[]>();
		const relay = net.createServer((c) => {
			const up = net.connect(broker.port, "127.0.0.1");
			const chunks: Buffer[] = [];
			sent.set(c, chunks);
			c.on("data", (d) => {
				chunks.push(d);
				up.write(d);
			});
			up.pipe(c);
			c.on("close", () => up.destroy());
			up.on("close", () => c.destroy());
			c.on("error", () => undefined);
			up.on("error", () => undefined);
		});
		await new Promise<void>((r) => relay.listen(0, "127.0.0.1", () => r()));
		try {
			const url = `ws://127.0.0.1:${(relay.address() as net.AddressInfo).port}`;
			const messages = Array.from({ length: 20 }, (_, i) => enc.encode(`{"n":${i},"pad":"${"x".repeat(i * 30)}"}`));
			const keysOf = async (extra: Partial<ConstructorParameters<typeof PulsarWsLog>[0]>, topic: string) => {
				const l = await log({ url, ...extra });
				await l.publish(topic, "k", messages);
				const producer = [...sent.values()].map((cs) => Buffer.concat(cs)).find((b) => b.toString("latin1").startsWith(`GET /ws/v2/producer/persistent/public/default/${topic.replace(/\//g, ".")}`))!;
				expect(producer).toBeDefined();
				return clientFrameMasks(producer.subarray(producer.indexOf("\r\n\r\n") + 4));
			};
			const zero = await keysOf({}, "market-data/crypto/raw/kraken/zeromask/trades");
			expect(zero).toHaveLength(messages.length);
			expect(zero.every((m) => m === "00000000")).toBe(true);
			const random = await keysOf({ randomMaskKeys: true }, "market-data/crypto/raw/kraken/randommask/trades");
			expect(random).toHaveLength(messages.length);
			expect(new Set(random).size).toBeGreaterThan(1);
			expect(random.filter((m) => m === "00000000").length).toBeLessThan(2);
			for (const local of ["zeromask", "randommask"]) {
				const stored = broker.messages(`persistent://public/default/market-data.crypto.raw.kraken.${local}.trades`);
				expect(stored.map((m) => m.payload.toString())).toEqual(messages.map((m) => dec.decode(m)));
			}
		} finally {
			for (const l of logs.splice(0)) await l.close();
			for (const c of sent.keys()) c.destroy();
			await new Promise<void>((r) => relay.close(() => r()));
		}
	});

	it("resends what a dropped connection left unacknowledged, and deduplication keeps it once", async () => {
		await new PulsarAdmin({ url: broker.adminUrl, token: TOKEN }).setDeduplication("public/default", true);
		const l = await log({ batchingMaxPublishDelayMs: 50 });
		await l.publish(TOPIC, "k", [enc.encode("warm")]);
		// the broker stores the next batch but the connection dies before its acks
		broker.loseNextAcks = true;
		await l.publish(TOPIC, "k", Array.from({ length: 50 }, (_, i) => enc.encode(`m${i}`)));
		expect(broker.stats.duplicates).toBe(50);
		expect(broker.messages(FULL).map((m) => m.payload.toString())).toEqual(["warm", ...Array.from({ length: 50 }, (_, i) => `m${i}`)]);
		expect(broker.producerParams.length).toBe(2);
		expect(new Set(broker.producerParams.map((p) => p.producerName)).size).toBe(1);
	});

	it("retries a reconnect the broker answers with 409 ProducerBusy, and the resend is stored once", async () => {
		await new PulsarAdmin({ url: broker.adminUrl, token: TOKEN }).setDeduplication("public/default", true);
		const { lines, logger } = capture();
		const l = await log({ batchingMaxPublishDelayMs: 50, logger });
		await l.publish(TOPIC, "k", [enc.encode("warm")]);
		// the connection dies after the broker stored the batch, and the broker keeps the old producer for a while
		broker.producerBusyAfterDropMs = 700;
		broker.loseNextAcks = true;
		const rejectedBefore = broker.stats.rejectedUpgrades;
		await l.publish(TOPIC, "k", Array.from({ length: 20 }, (_, i) => enc.encode(`m${i}`)));
		expect(broker.stats.rejectedUpgrades).toBeGreaterThan(rejectedBefore);
		expect(lines.join("\n")).toMatch(/HTTP 409 .*Producer with name .* is already connected.*; retrying/);
		expect(broker.stats.duplicates).toBe(20);
		expect(broker.messages(FULL).map((m) => m.payload.toString())).toEqual(["warm", ...Array.from({ length: 20 }, (_, i) => `m${i}`)]);
		expect(new Set(broker.producerParams.map((p) => p.producerName)).size).toBe(1);
	});

	it("gives up on 409 ProducerBusy after the send timeout, with the broker's reason", async () => {
		const l = await log({ batchingMaxPublishDelayMs: 50, publishTimeoutMs: 1_500 });
		await l.publish(TOPIC, "k", [enc.encode("warm")]);
		broker.producerBusyAfterDropMs = 60_000;
		broker.loseNextAcks = true;
		await expect(l.publish(TOPIC, "k", [enc.encode("x")])).rejects.toThrow(/no acknowledgement for 1500 ms; last error: .*HTTP 409 /);
	});

	it("without deduplication on the broker, such a resend is stored twice (at least once)", async () => {
		const l = await log({ batchingMaxPublishDelayMs: 50 });
		broker.loseNextAcks = true;
		await l.publish(TOPIC, "k", [enc.encode("a"), enc.encode("b")]);
		expect(broker.messages(FULL).map((m) => m.payload.toString())).toEqual(["a", "b", "a", "b"]);
	});

	it("consumes in pull mode from Earliest, and keeps keys apart on a Key_Shared subscription", async () => {
		const l = await log({ subscriptionType: "Key_Shared" });
		const keys = ["BTC-USD-SPOT", "ETH-USD-SPOT", "SOL-USD-SPOT", "XRP-USD-SPOT"];
		for (const k of keys) await l.publish(TOPIC, k, Array.from({ length: 25 }, (_, i) => enc.encode(`${k}:${i}`)));
		const [a, b] = [await l.consumer({ subscription: "ks", topics: [TOPIC], ackTimeoutMs: 4_000 }), await l.consumer({ subscription: "ks", topics: [TOPIC], ackTimeoutMs: 4_000 })];
		expect(broker.consumerParams[0]).toMatchObject({ subscriptionType: "Key_Shared", subscriptionInitialPosition: "Earliest", pullMode: "true", ackTimeoutMillis: "4000", negativeAckRedeliveryDelay: "100" });
		const got: Delivery[][] = [[], []];
		const deadline = Date.now() + 10_000;
		while (got[0].length + got[1].length < 100 && Date.now() < deadline) {
			for (const [i, c] of [a, b].entries()) {
				const ds = await c.pull(10, 100);
				await c.ack(ds);
				got[i].push(...ds);
			}
		}
		expect(got[0].length + got[1].length).toBe(100);
		const keysOf = (ds: Delivery[]) => new Set(ds.map((d) => d.key));
		expect([...keysOf(got[0])].filter((k) => keysOf(got[1]).has(k))).toEqual([]);
		for (const ds of got) for (const k of keysOf(ds)) expect(ds.filter((d) => d.key === k).map(text)).toEqual(Array.from({ length: 25 }, (_, i) => `${k}:${i}`));
		await a.close();
		await b.close();
	});

	it("keeps consuming across a dropped connection without losing anything", async () => {
		const l = await log();
		const c = await l.consumer({ subscription: "drop", topics: [TOPIC], ackTimeoutMs: 30_000 });
		await l.publish(TOPIC, "k", Array.from({ length: 100 }, (_, i) => enc.encode(String(i))));
		const first = await c.pull(30, 2_000);
		expect(first.length).toBeGreaterThan(0);
		await c.ack(first);
		broker.dropConnections();
		await l.publish(TOPIC, "k", Array.from({ length: 100 }, (_, i) => enc.encode(String(100 + i))));
		// acks in flight when a connection drops are lost with it: those come again (at least once)
		const seen = new Map(first.map((d) => [text(d), d.deliveryCount]));
		const deadline = Date.now() + 15_000;
		while (seen.size < 200 && Date.now() < deadline) {
			const got = await c.pull(100, 500);
			for (const d of got) {
				if (seen.has(text(d))) expect(d.deliveryCount).toBeGreaterThan(1);
				seen.set(text(d), d.deliveryCount);
			}
			await c.ack(got);
		}
		expect([...seen.keys()].map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
		await c.close();
	});

	it("finds topics another process creates, in both namespaces, through the admin API", async () => {
		await new PulsarAdmin({ url: broker.adminUrl, token: TOKEN }).createNamespace("public/historical");
		const reader = await log();
		const c = await reader.consumer({ subscription: "tick-writer", topics: ["market-data/*/*/*/*/trades"] });
		const writer = await log();
		await writer.publish("market-data/crypto/raw/kraken/ethusd/trades", "ETH-USD-SPOT", [enc.encode("live")]);
		await writer.publish("market-data/crypto/historical/binance/btcusdt/trades", "BTC-USDT-SPOT", [enc.encode("old")]);
		await writer.publish("market-data/crypto/raw/kraken/ethusd/ticker", "ETH-USD-SPOT", [enc.encode("not mine")]);
		const got = await drain(c, 2, 10_000);
		expect(got.map((d) => [d.topic, d.key, text(d)]).sort()).toEqual([
			["market-data/crypto/historical/binance/btcusdt/trades", "BTC-USDT-SPOT", "old"],
			["market-data/crypto/raw/kraken/ethusd/trades", "ETH-USD-SPOT", "live"],
		]);
		expect(broker.messages("persistent://public/historical/market-data.crypto.historical.binance.btcusdt.trades")).toHaveLength(1);
		expect(await c.pull(10, 800)).toEqual([]);
		await c.close();
	});

	it("skips a discovered topic the broker refuses (409, 403) without an unhandled rejection, keeps consuming the others, and retries it later", async () => {
		const unhandled: unknown[] = [];
		const onUnhandled = (e: unknown) => void unhandled.push(e);
		process.on("unhandledRejection", onUnhandled);
		try {
			const { lines, logger } = capture();
			const ETH = "market-data/crypto/raw/kraken/ethusd/trades";
			const SOL = "market-data/crypto/raw/kraken/solusd/trades";
			const ETH_FULL = "persistent://public/default/market-data.crypto.raw.kraken.ethusd.trades";
			const SOL_FULL = "persistent://public/default/market-data.crypto.raw.kraken.solusd.trades";
			const reader = await log({ logger });
			const c = await reader.consumer({ subscription: "tick-writer", topics: ["market-data/crypto/raw/>"] });
			const writer = await log();
			await writer.publish(TOPIC, "BTC-USD-SPOT", [enc.encode("b1")]);
			expect((await drain(c, 1)).map(text)).toEqual(["b1"]);
			// another deployment takes the same subscription as Key_Shared on a new topic: 409 for the reader
			const other = await log({ subscriptionType: "Key_Shared" });
			const ks = await other.consumer({ subscription: "tick-writer", topics: [ETH] });
			await writer.publish(ETH, "ETH-USD-SPOT", [enc.encode("e1")]);
			// and a topic the reader's role may not consume: 403
			broker.forbidden.add(SOL_FULL);
			await new PulsarAdmin({ url: broker.adminUrl, token: TOKEN }).createTopic(pulsarTopicPath(SOL_FULL));
			const rejected = broker.stats.rejectedUpgrades;
			// several discovery rounds refused on both topics
			await waitFor(() => broker.stats.rejectedUpgrades >= rejected + 6, { timeoutMs: 10_000, what: "three refused discovery rounds" });
			await writer.publish(TOPIC, "BTC-USD-SPOT", [enc.encode("b2")]);
			expect((await drain(c, 1)).map(text)).toEqual(["b2"]);
			const refusals = lines.filter((l) => /cannot consume/.test(l));
			expect(refusals.filter((l) => l.includes(ETH_FULL) && /HTTP 409 .*different type.*later discovery round/.test(l))).toHaveLength(1);
			expect(refusals.filter((l) => l.includes(SOL_FULL) && /HTTP 403 /.test(l))).toHaveLength(1);
			for (const line of lines) expect(line).not.toContain(TOKEN);
			// the obstacles go: a later round subscribes, and what waited there arrives
			await ks.close();
			broker.forbidden.delete(SOL_FULL);
			await writer.publish(SOL, "SOL-USD-SPOT", [enc.encode("s1")]);
			expect((await drain(c, 2)).map(text).sort()).toEqual(["e1", "s1"]);
			expect(lines.filter((l) => /now consumes/.test(l))).toHaveLength(2);
			await c.close();
			expect(unhandled).toEqual([]);
		} finally {
			process.off("unhandledRejection", onUnhandled);
		}
	});

	it("refuses a batch holding a message too large for one WebSocket frame, whole", async () => {
		const l = await log();
		await expect(l.publish(TOPIC, "k", [enc.encode("small"), new Uint8Array(900_000)])).rejects.toThrow(/900000-byte message does not fit one WebSocket frame \(the broker's webSocketMaxTextFrameSize, 1048576 bytes/);
		// the largest payload that fits goes through the fake, which enforces the same 1 MiB limit
		const fits = Math.floor(((1_048_576 - 100) * 3) / 4) - 3;
		await l.publish(TOPIC, "k", [enc.encode("after"), new Uint8Array(fits)]);
		expect(broker.messages(FULL).map((m) => m.payload.byteLength)).toEqual([5, fits]);
	});

	it("fails a publish into a namespace that does not exist with the broker's reason", async () => {
		const l = await log({ publishTimeoutMs: 1_500 });
		await expect(l.publish("market-data/fx/historical/dukascopy/eurusd/quotes", "k", [enc.encode("x")])).rejects.toThrow(
			/public\/historical\/market-data\.fx\.historical.*no acknowledgement for 1500 ms; last error: .*HTTP 500 .*Namespace public\/historical does not exist/,
		);
	});

	it("never shows the token: not in URLs, log lines or error messages", async () => {
		const { lines, logger } = capture();
		const l = await log({ logger });
		await l.publish(TOPIC, "k", [enc.encode("x")]);
		const c = await l.consumer({ subscription: "tok", topics: ["market-data/crypto/>"] });
		expect((await drain(c, 1)).map(text)).toEqual(["x"]);
		await c.close();
		expect(broker.requests.length).toBeGreaterThan(3);
		for (const r of broker.requests) {
			expect(r.url).not.toContain(TOKEN);
			expect(r.authorization).toBe(`Bearer ${TOKEN}`);
		}
		// a broker that refuses the token: the errors say so, without the token
		const other = await FakePulsar.start({ token: "another" });
		try {
			const errs: string[] = [];
			await PulsarWsLog.connect({ url: `ws://user:${TOKEN}@127.0.0.1:${other.port}`, token: TOKEN, logger }).catch((e: Error) => errs.push(e.message, String(e.cause)));
			const bad = new PulsarWsLog({ url: other.url, token: TOKEN, logger });
			await bad.publish(TOPIC, "k", [enc.encode("x")]).catch((e: Error) => errs.push(e.message));
			await bad.consumer({ subscription: "s", topics: [TOPIC] }).catch((e: Error) => errs.push(e.message));
			await bad.close();
			expect(errs.length).toBe(4);
			expect(errs.join("\n")).toMatch(/HTTP 401.*check PULSAR_TOKEN/);
			for (const e of errs) expect(e).not.toContain(TOKEN);
		} finally {
			await other.close();
		}
		expect(lines.length).toBeGreaterThan(0);
		for (const line of lines) expect(line).not.toContain(TOKEN);
	});

	it("is chosen by createMarketLog from the environment, falls back from native with a logged reason", async () => {
		const env = { MARKET_LOG: "pulsar", PULSAR_URL: broker.url, PULSAR_TOKEN: TOKEN, PULSAR_CLIENT: "auto" };
		const cfg = logConfig(loadConfig(env));
		const { lines, logger } = capture();
		const l = await createMarketLog({ ...cfg, logger });
		try {
			expect(l.driver).toBe("pulsar");
			expect(l).toBeInstanceOf(PulsarWsLog);
			// pulsar-client is not installed on this machine: auto says so and goes on over WebSocket
			expect(lines.join("\n")).toMatch(/pulsar-client is not installed.*WebSocket/);
			await l.ping();
		} finally {
			await l.close();
		}
		await expect(createPulsarLog({ url: broker.url, token: TOKEN, client: "native", logger })).rejects.toThrow(/PULSAR_CLIENT=native but pulsar-client is not installed/);
		const ws = await createPulsarLog({ url: broker.url, token: TOKEN, client: "auto", logger }, async () => ({ error: "pulsar-client failed to load: libpulsar.so.3: cannot open shared object file" }));
		expect(ws).toBeInstanceOf(PulsarWsLog);
		expect(lines.join("\n")).toMatch(/libpulsar\.so\.3.*using Pulsar's WebSocket API/);
		await ws.close();
		for (const line of lines) expect(line).not.toContain(TOKEN);
	});
});
