import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { LiveHub, TooManyClientsError, type LiveLoaders, type StreamKey } from "../../lib/live/hub";
import { SseClient } from "../../lib/live/sse";
import { waitFor } from "../helpers/db";
import type { Candle } from "../../lib/domain/types";

/** A real HTTP server whose every request becomes an SseClient, handed to `onClient`. */
async function sseServer(onClient: (c: SseClient) => void, opts = { heartbeatMs: 200, maxBufferedBytes: 64 * 1024, retryMs: 1000 }) {
	const server = http.createServer((req, res) => onClient(new SseClient(req, res, opts)));
	await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
	return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, port: (server.address() as AddressInfo).port, close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))) };
}

/** Read an SSE response's text until `until` matches it. */
async function readUntil(res: Response, until: RegExp): Promise<string> {
	const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
	let text = "";
	while (!until.test(text)) {
		const { value, done } = await reader.read();
		if (done) break;
		text += value;
	}
	await reader.cancel();
	return text;
}

const candle = (time: string, close: string): Candle => ({ time, open: close, high: close, low: close, close, volume: "1", trades: 1 });

describe("SseClient", () => {
	it("sends frames with ids and heartbeats while idle", async () => {
		let client: SseClient | null = null;
		const s = await sseServer((c) => {
			client = c;
			c.send("candle", { close: "1.5" }, "2024-01-15T10:00:00.000Z");
		});
		try {
			const res = await fetch(s.url);
			expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
			const text = await readUntil(res, /: heartbeat/);
			expect(text).toMatch(/^retry: 1000\n\n/);
			expect(text).toContain('id: 2024-01-15T10:00:00.000Z\nevent: candle\ndata: {"close":"1.5"}\n\n');
			expect(text).toMatch(/: heartbeat \d{4}-/);
			await waitFor(() => client !== null && !client.isOpen, { what: "server side closed after the client left" });
		} finally {
			await s.close();
		}
	});

	it("drops a client that does not read instead of buffering without bound", async () => {
		let client: SseClient | null = null;
		const s = await sseServer((c) => (client = c));
		const sock = net.connect(s.port, "127.0.0.1");
		try {
			sock.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
			sock.pause(); // a reader that never reads
			await waitFor(() => client, { what: "connection" });
			const big = "x".repeat(16 * 1024);
			let sent = 0;
			while (client!.send("tick", big) && sent < 100_000) sent++;
			expect(client!.dropped).toBe(true);
			expect(client!.isOpen).toBe(false);
			expect(sent).toBeLessThan(100_000);
		} finally {
			sock.destroy();
			await s.close();
		}
	});
});

describe("LiveHub", () => {
	const key: StreamKey = { kind: "candles", venue: "kraken", symbol: "BTC-USD-SPOT", timeframe: "5m", price: "trade" };

	function recordingLoaders() {
		const calls: { what: string; from: number; to: number }[] = [];
		const loaders: LiveLoaders = {
			async candles(k, from, to) {
				calls.push({ what: `candles ${k.timeframe} ${k.price}`, from, to });
				return [candle(new Date(from).toISOString(), "42000.1")];
			},
			async ticks(kind, venue, symbol, from, to) {
				calls.push({ what: `${kind} ${symbol}`, from, to });
				return [{ time: "2024-01-15T10:00:01.000001Z", tradeId: "7", price: "1" }];
			},
		};
		return { calls, loaders };
	}

	/** A client that records what it is sent (the hub's side of SseClient). */
	function fakeClient() {
		const sent: { event: string; data: unknown; id?: string }[] = [];
		const closers: (() => void)[] = [];
		const c = {
			sent,
			dropped: false,
			send(event: string, data: unknown, id?: string) {
				sent.push({ event, data, id });
				return true;
			},
			onClose(fn: () => void) {
				closers.push(fn);
			},
			close() {
				for (const f of closers.splice(0)) f();
			},
		};
		return c;
	}

	it("refuses clients past the limit and frees the place when one leaves", () => {
		const hub = new LiveHub({ loaders: recordingLoaders().loaders, maxClients: 1, coalesceMs: 10 });
		const a = fakeClient();
		hub.add(key, a as unknown as SseClient);
		expect(hub.hasRoom()).toBe(false);
		expect(() => hub.add(key, fakeClient() as unknown as SseClient)).toThrow(TooManyClientsError);
		a.close();
		expect(hub.clientCount).toBe(0);
		expect(hub.hasRoom()).toBe(true);
	});

	it("closes its clients on stop and takes no new ones after", async () => {
		const hub = new LiveHub({ loaders: recordingLoaders().loaders, maxClients: 10, coalesceMs: 10 });
		hub.add(key, fakeClient() as unknown as SseClient);
		await hub.stop();
		expect(hub.clientCount).toBe(0);
		expect(hub.hasRoom()).toBe(false);
		expect(() => hub.add(key, fakeClient() as unknown as SseClient)).toThrow(TooManyClientsError);
	});

	it("coalesces tick spans into one read per subscription over the candle buckets they touch", async () => {
		const { calls, loaders } = recordingLoaders();
		const hub = new LiveHub({ loaders, maxClients: 10, coalesceMs: 1_000_000 });
		const c = fakeClient();
		const q = fakeClient();
		hub.add(key, c as unknown as SseClient);
		hub.add({ kind: "candles", venue: "kraken", symbol: "BTC-USD-SPOT", timeframe: "5m", price: "bid" }, q as unknown as SseClient);
		hub.ticksStored([{ venue: "kraken", symbol: "BTC-USD-SPOT", kind: "trade", minTime: "2024-01-15T10:03:10Z", maxTime: "2024-01-15T10:04:00Z" }]);
		hub.ticksStored([{ venue: "kraken", symbol: "BTC-USD-SPOT", kind: "trade", minTime: "2024-01-15T10:06:00Z", maxTime: "2024-01-15T10:06:30.5Z" }]);
		hub.ticksStored([{ venue: "kraken", symbol: "ETH-USD-SPOT", kind: "trade", minTime: "2024-01-15T10:06:00Z", maxTime: "2024-01-15T10:06:30Z" }]);
		await hub.flush();
		// trades only move trade candles; both spans in one read: buckets 10:00 and 10:05, to the end of 10:05
		expect(calls).toEqual([{ what: "candles 5m trade", from: Date.parse("2024-01-15T10:00:00Z"), to: Date.parse("2024-01-15T10:10:00Z") }]);
		expect(c.sent).toEqual([{ event: "candle", data: candle("2024-01-15T10:00:00.000Z", "42000.1"), id: "2024-01-15T10:00:00.000Z" }]);
		expect(q.sent).toEqual([]);
		await hub.flush();
		expect(calls).toHaveLength(1); // nothing pending any more
		await hub.stop();
	});

	it("follows the cascade's rewritten windows of the subscribed level and price type only", async () => {
		const { calls, loaders } = recordingLoaders();
		const hub = new LiveHub({ loaders, maxClients: 10, coalesceMs: 1_000_000 });
		hub.add(key, fakeClient() as unknown as SseClient);
		const w = { venue: "kraken", symbol: "BTC-USD-SPOT", from: "2024-01-15T09:00:00.000Z", to: "2024-01-15T09:10:00.000Z" };
		hub.candlesUpdated([{ ...w, timeframe: "1h", priceTypes: ["trade"] }, { ...w, timeframe: "5m", priceTypes: ["bid", "ask", "mid"] }]);
		await hub.flush();
		expect(calls).toEqual([]);
		hub.candlesUpdated([{ ...w, timeframe: "5m", priceTypes: ["trade"] }]);
		await hub.flush();
		expect(calls).toEqual([{ what: "candles 5m trade", from: Date.parse(w.from), to: Date.parse(w.to) }]);
		await hub.stop();
	});

	it("streams ticks of the subscribed instrument with resumable ids", async () => {
		const { calls, loaders } = recordingLoaders();
		const hub = new LiveHub({ loaders, maxClients: 10, coalesceMs: 5 });
		const c = fakeClient();
		hub.add({ kind: "trades", venue: "kraken", symbol: "BTC-USD-SPOT" }, c as unknown as SseClient);
		hub.ticksStored([{ venue: "kraken", symbol: "BTC-USD-SPOT", kind: "quote", minTime: "2024-01-15T10:00:00Z", maxTime: "2024-01-15T10:00:01Z" }]);
		hub.ticksStored([{ venue: "kraken", symbol: "BTC-USD-SPOT", kind: "trade", minTime: "2024-01-15T10:00:01Z", maxTime: "2024-01-15T10:00:01Z" }]);
		await waitFor(() => c.sent.length === 1, { what: "the trade frame" });
		expect(calls).toEqual([{ what: "trades BTC-USD-SPOT", from: Date.parse("2024-01-15T10:00:01Z"), to: Date.parse("2024-01-15T10:00:01Z") + 1 }]);
		expect(c.sent[0]).toEqual({ event: "trade", data: { time: "2024-01-15T10:00:01.000001Z", tradeId: "7", price: "1" }, id: "2024-01-15T10:00:01.000001Z/7" });
		await hub.stop();
	});
});
