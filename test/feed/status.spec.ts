import { gatherFeeds, type FeedBroker } from "../../lib/feed/gather";
import { feedsCheck, FeedMonitor } from "../../lib/feed/status";

describe("FeedMonitor", () => {
	let now = Date.UTC(2026, 0, 5, 12, 0, 0);
	const clock = () => now;

	it("tracks state, the outage start, reconnects and connect failures", () => {
		const m = new FeedMonitor("kraken", "ws", () => ["BTC-USD-SPOT"], clock);
		m.connecting();
		m.connectFailed("ECONNREFUSED", now - 500);
		m.connectFailed("ECONNREFUSED", now);
		expect(m.status()).toMatchObject({ state: "backoff", connected: false, connectFailures: 2, reconnects: 0, openGapSince: new Date(now - 500).toISOString(), error: "ECONNREFUSED" });
		m.connected();
		expect(m.status()).toMatchObject({ state: "connected", connected: true, openGapSince: null, error: null, reconnects: 0 });
		m.disconnected("closed by peer", now);
		m.connected();
		expect(m.status().reconnects).toBe(1);
		m.authFailed("HTTP 401");
		m.connecting();
		expect(m.status().state).toBe("auth-failed");
	});

	it("counts messages per second over whole seconds and keeps per-symbol latency and age", () => {
		const m = new FeedMonitor("oanda", "pricing-stream", () => ["EUR-USD-SPOT", "GBP-USD-SPOT"], clock);
		const start = Math.floor(now / 1000) * 1000 - 10_000;
		for (let i = 0; i < 50; i++) {
			m.message(start + i * 200);
			m.symbolMessage("EUR-USD-SPOT", start + i * 200, start + i * 200 - 30);
		}
		now = start + 10_000;
		const s = m.status();
		expect(s.messagesPerSec).toBe(5);
		expect(s.lastMessageAgeMs).toBe(200);
		expect(m.symbolStats()).toEqual([
			{ symbol: "EUR-USD-SPOT", messages: 50, messagesPerSec: 5, lastMessageMs: start + 9800, latencyMs: 30, gaps: 0 },
			{ symbol: "GBP-USD-SPOT", messages: 0, messagesPerSec: 0, lastMessageMs: null, latencyMs: null, gaps: 0 },
		]);
	});

	it("feedsCheck reports what is not streaming; off and closed-market feeds are fine", () => {
		const a = new FeedMonitor("kraken", "ws", () => [], clock);
		const b = new FeedMonitor("oanda", "pricing-stream", () => [], clock);
		a.connected();
		b.stopped("oanda-stream is off: OANDA_API_KEY is not set");
		expect(feedsCheck([a.status(), b.status()])).toBe("ok");
		b.marketClosed();
		expect(feedsCheck([a.status(), b.status()])).toBe("ok");
		a.connectFailed("refused", now);
		expect(feedsCheck([a.status(), b.status()])).toBe("degraded: kraken backoff");
	});
});

describe("gatherFeeds", () => {
	it("asks every feed service on every node, and reports a node that does not answer", async () => {
		const m = new FeedMonitor("kraken", "ws", () => ["BTC-USD-SPOT"]);
		const calls: string[] = [];
		const broker: FeedBroker = {
			registry: {
				getServiceList: () => [
					{ name: "kraken-stream", nodeID: "n1", metadata: { feed: true }, actions: { "kraken-stream.feeds": {} } },
					{ name: "oanda-stream", nodeID: "n2", metadata: { feed: true }, actions: { "oanda-stream.feeds": {} } },
					{ name: "api", nodeID: "n1", metadata: {}, actions: { "api.feeds": {} } },
				],
			},
			call: async (action, _p, opts) => {
				calls.push(`${action}@${opts.nodeID}`);
				if (action === "oanda-stream.feeds") throw new Error("Request timed out");
				return [m.status()];
			},
		};
		const items = await gatherFeeds(broker);
		expect(calls.sort()).toEqual(["kraken-stream.feeds@n1", "oanda-stream.feeds@n2"]);
		expect(items.map((f) => [f.venue, f.state, f.error])).toEqual([
			["kraken", "stopped", null],
			["oanda-stream", "stopped", "no answer: Request timed out"],
		]);
	});
});
