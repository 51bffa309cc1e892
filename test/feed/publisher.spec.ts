import { decodeEnvelope } from "../../lib/domain/codec";
import type { MarketLog } from "../../lib/log/types";
import { MemoryLog } from "../../lib/log/memory";
import { BatchPublisher } from "../../lib/feed/publisher";

const T = "market-data/crypto/raw/kraken/btcusd/trades";
const trade = (id: number) => ({ tradeId: String(id), side: "buy" as const, price: "29430.2", qty: "0.00100000", time: "2023-07-30T15:29:58.343415Z", recvTime: "2023-07-30T15:29:58.400Z" });

describe("BatchPublisher", () => {
	it("batches trades into one envelope per flush and keeps markers in their place", async () => {
		const log = new MemoryLog({});
		const pub = new BatchPublisher(log, { flushMs: 1000, maxItems: 1000 });
		pub.trade(T, "kraken", "BTC-USD-SPOT", trade(1));
		pub.trade(T, "kraken", "BTC-USD-SPOT", trade(2));
		pub.payload(T, "kraken", "BTC-USD-SPOT", Buffer.from('{"v":1,"kind":"marker","venue":"kraken","symbol":"BTC-USD-SPOT","items":[{"type":"disconnect","time":"2023-07-30T15:30:00Z"}]}'));
		pub.trade(T, "kraken", "BTC-USD-SPOT", trade(3));
		await pub.flush();
		const c = await log.consumer({ subscription: "s", topics: [T] });
		const got = (await c.pull(10, 100)).map((d) => decodeEnvelope(d.payload));
		expect(got.map((e) => [e.kind, e.trades.map((t) => t.tradeId), e.markers])).toEqual([
			["trade", ["1", "2"], 0],
			["marker", [], 1],
			["trade", ["3"], 0],
		]);
		expect(got[0].trades[0]).toMatchObject({ venue: "kraken", symbol: "BTC-USD-SPOT", price: "29430.2", qty: "0.00100000", side: "buy" });
	});

	it("keeps what the log refused and publishes it first, in order, once the log is back", async () => {
		const inner = new MemoryLog({});
		let down = true;
		const log = { publish: (t: string, k: string, p: readonly Uint8Array[]) => (down ? Promise.reject(new Error("log unavailable")) : inner.publish(t, k, p)) } as unknown as MarketLog;
		const errors: string[] = [];
		const pub = new BatchPublisher(log, { flushMs: 1000, maxItems: 1000, onError: (e) => errors.push(e.message) });
		pub.trade(T, "kraken", "BTC-USD-SPOT", trade(1));
		await pub.flush();
		pub.trade(T, "kraken", "BTC-USD-SPOT", trade(2));
		await pub.flush();
		expect(errors).toEqual(["log unavailable", "log unavailable"]);
		expect(pub.pending).toBe(2);
		down = false;
		pub.trade(T, "kraken", "BTC-USD-SPOT", trade(3));
		await pub.flush();
		expect(pub.pending).toBe(0);
		const c = await inner.consumer({ subscription: "s", topics: [T] });
		expect((await c.pull(10, 100)).flatMap((d) => decodeEnvelope(d.payload).trades.map((t) => t.tradeId))).toEqual(["1", "2", "3"]);
	});
});

describe("BatchPublisher while the log stays away", () => {
	const downLog = () => {
		const inner = new MemoryLog({});
		const state = { down: true };
		const log = { publish: (t: string, k: string, p: readonly Uint8Array[]) => (state.down ? Promise.reject(new Error("log unavailable")) : inner.publish(t, k, p)) } as unknown as MarketLog;
		return { inner, state, log };
	};

	it("holds at most maxPending items: newer trades, quotes and droppable payloads are refused and counted, markers kept", async () => {
		const { log } = downLog();
		const pub = new BatchPublisher(log, { flushMs: 1000, maxItems: 1000, maxPending: 3 });
		expect([1, 2, 3, 4].map((i) => pub.trade(T, "kraken", "BTC-USD-SPOT", trade(i)))).toEqual([true, true, true, false]);
		await pub.flush(); // refused by the log: still held, still full
		expect(pub.pending).toBe(3);
		expect(pub.trade(T, "kraken", "BTC-USD-SPOT", trade(5))).toBe(false);
		expect(pub.payload(T, "kraken", "BTC-USD-SPOT", Buffer.from("{}"), { droppable: true })).toBe(false);
		expect(pub.payload(T, "kraken", "BTC-USD-SPOT", Buffer.from("{}"))).toBe(true); // a marker
		expect(pub.stats).toMatchObject({ dropped: 3, publishErrors: 1 });
		expect(pub.pending).toBe(4);
	});

	it("stop() reports what the log still refused as lost instead of dropping it silently", async () => {
		const { log } = downLog();
		const lost: [number, number][] = [];
		const pub = new BatchPublisher(log, { flushMs: 1000, maxItems: 1000, onLost: (items, payloads) => lost.push([items, payloads]) });
		pub.trade(T, "kraken", "BTC-USD-SPOT", trade(1));
		pub.trade(T, "kraken", "BTC-USD-SPOT", trade(2));
		pub.payload(T, "kraken", "BTC-USD-SPOT", Buffer.from("{}"));
		await pub.stop();
		expect(lost).toEqual([[3, 2]]); // two trades in one envelope, and the marker
		expect(pub.stats.lost).toBe(3);
		expect(pub.pending).toBe(0);
	});
});
