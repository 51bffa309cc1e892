import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { decodeEnvelope } from "../../../lib/domain/codec";
import { MemoryLog } from "../../../lib/log/memory";
import { RateLimiter } from "../../../lib/net/http";
import { KrakenRest } from "../../../lib/venues/kraken/rest";
import { KrakenStream } from "../../../lib/venues/kraken/stream";
import { waitFor } from "../../helpers/db";
import { FakeKrakenRest, wsTime, type KrakenTradeRow } from "../../helpers/fake-kraken-rest";

/** Kraken's clock in this test runs this far behind ours. */
const SKEW_MS = 2000;

/**
 * A disconnect gap when Kraken's clock and ours disagree. The gap's times are ours (last frame, reconnect), the
 * trade times Kraken's: paging REST from our last-frame time would skip the first missed trades, and ending the
 * gap at our reconnect time would take back trades the socket delivered after its snapshot (under REST's
 * 4-decimal time: a second row each). A minimal v2 server: trade snapshot and updates, one dropped socket.
 */
describe("disconnect gap repair with Kraken's clock behind ours", () => {
	let wss: WebSocketServer;
	let rest: FakeKrakenRest;
	let stream: KrakenStream;
	const printed: KrakenTradeRow[] = [];
	let lastUs = 0n;
	const print = (n: number): KrakenTradeRow[] => {
		const out: KrakenTradeRow[] = [];
		for (let i = 0; i < n; i++) {
			const id = 5000 + printed.length;
			const us = BigInt(Date.now() - SKEW_MS) * 1000n + 123n;
			lastUs = us > lastUs ? us : lastUs + 1n;
			const t: KrakenTradeRow = { price: `30000.${id % 10}`, volume: "0.00100000", timeUs: lastUs, side: id % 2 ? "b" : "s", ordertype: "l", tradeId: id };
			printed.push(t);
			out.push(t);
		}
		rest.setTrades("XBTUSD", printed);
		return out;
	};
	const wsTrade = (t: KrakenTradeRow) => ({
		symbol: "BTC/USD",
		side: t.side === "b" ? "buy" : "sell",
		price: Number(t.price),
		qty: Number(t.volume),
		ord_type: "limit",
		trade_id: t.tradeId,
		timestamp: wsTime(t.timeUs),
	});
	const sendTrades = (ws: WebSocket, type: "snapshot" | "update", rows: KrakenTradeRow[]) => ws.send(JSON.stringify({ channel: "trade", type, data: rows.map(wsTrade) }));
	const conns: WebSocket[] = [];
	const tradeSubs: WebSocket[] = [];

	beforeAll(async () => {
		rest = await new FakeKrakenRest({ timeDecimals: 4 }).start();
		wss = new WebSocketServer({ host: "127.0.0.1", port: 0, path: "/v2" });
		await new Promise<void>((r) => wss.once("listening", () => r()));
		wss.on("connection", (ws) => {
			conns.push(ws);
			ws.on("message", (m) => {
				const msg = JSON.parse(String(m));
				if (msg.method !== "subscribe") return;
				ws.send(JSON.stringify({ method: "subscribe", result: { channel: msg.params.channel, symbol: msg.params.symbol?.[0] }, success: true, req_id: msg.req_id }));
				if (msg.params.channel === "instrument") ws.send('{"channel":"instrument","type":"snapshot","data":{"assets":[],"pairs":[{"symbol":"BTC/USD","price_precision":1,"qty_precision":8}]}}');
				if (msg.params.channel === "trade") tradeSubs.push(ws);
			});
		});
	});
	afterAll(async () => {
		await stream?.stop();
		for (const c of conns) c.terminate();
		await new Promise<void>((r) => wss.close(() => r()));
		await rest.stop();
	});

	it("pages REST from Kraken's time of the last trade and ends the gap at the first id the socket delivered", async () => {
		const log = new MemoryLog({});
		stream = new KrakenStream({
			symbols: ["BTC/USD"],
			bookDepth: 10,
			log,
			feed: { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/v2`, watchdogMs: 60_000, pingIntervalMs: 0, backoffBaseMs: 10, backoffMaxMs: 10 },
			ledger: null,
			rest: new KrakenRest({ baseUrl: rest.url, limiter: new RateLimiter(1000, 10) }),
			flushMs: 10,
			maxBatchItems: 1000,
			checksumMismatchLimit: 3,
			logger: { info() {}, warn() {}, error() {} },
		});
		stream.start();
		const first = await waitFor(() => tradeSubs[0], { what: "trade subscription" });
		sendTrades(first, "snapshot", print(10)); // 5000..5009
		sendTrades(first, "update", print(10)); // 5010..5019
		await waitFor(() => (stream.snapshot() as any).symbols["BTC/USD"].trades === 20, { what: "20 live trades" });
		first.terminate();
		print(15); // 5020..5034 while we are away
		const second = await waitFor(() => tradeSubs[1], { what: "trade subscription after the reconnect" });
		sendTrades(second, "snapshot", printed.slice(-5)); // 5030..5034: Kraken sends the latest trades
		sendTrades(second, "update", print(5)); // 5035..5039, stamped before our reconnect time by Kraken's clock
		await waitFor(() => stream.repairer!.stats.repaired === 1, { what: "the disconnect gap repaired" });
		await stream.publisher.flush();
		const c = await log.consumer({ subscription: "t", topics: ["market-data/crypto/raw/kraken/btcusd/trades"] });
		const ids: number[] = [];
		for (const d of await c.pull(1000, 100)) ids.push(...decodeEnvelope(d.payload).trades.map((t) => Number(t.tradeId)));
		// every printed trade exactly once: 5020..5029 from REST, nothing the socket delivered again
		expect(ids.sort((a, b) => a - b)).toEqual(printed.map((t) => t.tradeId));
		expect(stream.repairer!.stats).toMatchObject({ repaired: 1, tradesFetched: 10 });
	});
});
