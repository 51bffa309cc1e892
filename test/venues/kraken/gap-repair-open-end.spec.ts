import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { decodeEnvelope } from "../../../lib/domain/codec";
import { MemoryLog } from "../../../lib/log/memory";
import { RateLimiter } from "../../../lib/net/http";
import type { TradesPage } from "../../../lib/venues/kraken/rest";
import { KrakenRest } from "../../../lib/venues/kraken/rest";
import { KrakenStream } from "../../../lib/venues/kraken/stream";
import { waitFor } from "../../helpers/db";
import { FakeKrakenRest, wsTime, type KrakenTradeRow } from "../../helpers/fake-kraken-rest";

/** Kraken's clock runs this far behind ours: trades it prints after our reconnect carry earlier times. */
const SKEW_MS = 5000;
const TOPIC = "market-data/crypto/raw/kraken/btcusd/trades";

/**
 * A disconnect gap whose end id is unknown: the reconnect's trade snapshot is empty, so the gap ends at our
 * reconnect time, and REST (4-decimal times) can hold trades the socket delivers after the reconnect (µs
 * times): each would be a second row. The stream's own ids bound what the repair publishes. A minimal v2
 * server, the fake Kraken REST behind a gate that decides when the repair's REST page arrives.
 */
describe("disconnect gap without an end id (empty reconnect snapshot)", () => {
	let wss: WebSocketServer;
	let rest: FakeKrakenRest;
	let stream: KrakenStream | null = null;
	let printed: KrakenTradeRow[];
	let lastUs: bigint;
	let tradeSubs: WebSocket[];
	let gate: { open: () => void; wait: Promise<void>; asked: number };

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
	const send = (ws: WebSocket, type: "snapshot" | "update", rows: KrakenTradeRow[]) =>
		ws.send(JSON.stringify({ channel: "trade", type, data: rows.map((t) => ({ symbol: "BTC/USD", side: t.side === "b" ? "buy" : "sell", price: Number(t.price), qty: Number(t.volume), ord_type: "limit", trade_id: t.tradeId, timestamp: wsTime(t.timeUs) })) }));

	beforeEach(async () => {
		printed = [];
		lastUs = 0n;
		tradeSubs = [];
		let open!: () => void;
		gate = { open: () => open(), wait: new Promise<void>((r) => (open = r)), asked: 0 };
		rest = await new FakeKrakenRest({ timeDecimals: 4 }).start();
		wss = new WebSocketServer({ host: "127.0.0.1", port: 0, path: "/v2" });
		await new Promise<void>((r) => wss.once("listening", () => r()));
		wss.on("connection", (ws) => {
			ws.on("message", (m) => {
				const msg = JSON.parse(String(m));
				if (msg.method !== "subscribe") return;
				ws.send(JSON.stringify({ method: "subscribe", result: { channel: msg.params.channel, symbol: msg.params.symbol?.[0] }, success: true, req_id: msg.req_id }));
				if (msg.params.channel === "instrument") ws.send('{"channel":"instrument","type":"snapshot","data":{"assets":[],"pairs":[{"symbol":"BTC/USD","price_precision":1,"qty_precision":8}]}}');
				if (msg.params.channel === "trade") tradeSubs.push(ws);
			});
		});
		const client = new KrakenRest({ baseUrl: rest.url, limiter: new RateLimiter(1000, 10) });
		stream = new KrakenStream({
			symbols: ["BTC/USD"],
			bookDepth: 10,
			log: new MemoryLog({}),
			feed: { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/v2`, watchdogMs: 60_000, pingIntervalMs: 0, backoffBaseMs: 10, backoffMaxMs: 10 },
			ledger: null,
			rest: {
				trades: async (s: string, since?: string): Promise<TradesPage> => {
					gate.asked++;
					await gate.wait;
					return client.trades(s, since);
				},
			},
			flushMs: 10,
			maxBatchItems: 1000,
			checksumMismatchLimit: 3,
			logger: { info() {}, warn() {}, error() {} },
		});
		stream.start();
		// 5000..5019 live, then the socket drops and 5020..5029 happen while we are away
		const first = await waitFor(() => tradeSubs[0], { what: "trade subscription" });
		send(first, "snapshot", print(10));
		send(first, "update", print(10));
		await waitFor(() => trades() === 20, { what: "20 live trades" });
		first.terminate();
		print(10);
	});
	afterEach(async () => {
		await stream?.stop();
		for (const c of wss.clients) c.terminate();
		await new Promise<void>((r) => wss.close(() => r()));
		await rest.stop();
	});

	const trades = () => (stream!.snapshot() as any).symbols["BTC/USD"].trades as number;
	/** Reconnected with an empty trade snapshot; resolves once the gap (ended by our clock) asks REST. */
	const reconnectEmpty = async (): Promise<WebSocket> => {
		const second = await waitFor(() => tradeSubs[1], { what: "trade subscription after the reconnect" });
		send(second, "snapshot", []);
		await waitFor(() => gate.asked > 0, { what: "the gap repair to ask REST", timeoutMs: 10_000 });
		return second;
	};
	const published = async (): Promise<number[]> => {
		await stream!.publisher.flush();
		const c = await (stream as any).opts.log.consumer({ subscription: "t", topics: [TOPIC] });
		const ids: number[] = [];
		for (const d of await c.pull(1000, 100)) ids.push(...decodeEnvelope(d.payload).trades.map((t) => Number(t.tradeId)));
		return ids.sort((a, b) => a - b);
	};

	it("live trades delivered before the repair publishes are not published again from REST", async () => {
		const second = await reconnectEmpty();
		// Kraken prints 5030..5034 after our reconnect, stamped before it by its clock: inside the gap by time
		send(second, "update", print(5));
		await waitFor(() => trades() === 25, { what: "5 live trades after the reconnect" });
		gate.open();
		await waitFor(() => stream!.repairer!.stats.repaired >= 1 && stream!.repairer!.pending === 0, { what: "the gap repaired" });
		expect(stream!.repairer!.stats.repaired).toBe(1); // one gap: the id jump to 5030 is that same gap, not another
		expect(await published()).toEqual(printed.map((t) => t.tradeId));
		expect(stream!.repairer!.stats.tradesFetched).toBe(15); // REST did send 5030..5034 too
	});

	it("trades the repair published first are not published again when the socket delivers them", async () => {
		const second = await reconnectEmpty();
		print(5); // 5030..5034 printed, not yet delivered by the socket
		gate.open();
		await waitFor(() => stream!.repairer!.stats.repaired === 1, { what: "the gap repaired" });
		send(second, "update", [...printed.slice(30), ...print(2)]); // 5030..5036: the socket catches up
		await waitFor(() => trades() >= 37, { what: "every trade published" });
		expect(await published()).toEqual(printed.map((t) => t.tradeId));
	});
});
