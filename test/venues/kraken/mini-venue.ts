import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { decodeEnvelope } from "../../../lib/domain/codec";
import type { MarketLog } from "../../../lib/log/types";
import type { KrakenStreamOptions } from "../../../lib/venues/kraken/stream-context";
import { FakeKrakenRest, wsTime, type KrakenTradeRow } from "../../helpers/fake-kraken-rest";

export const TRADES_TOPIC = "market-data/crypto/raw/kraken/btcusd/trades";

/**
 * A venue printing sequential BTC/USD trades (ids from 5000) with its clock `skewMs` behind ours. REST
 * (`rest`) serves everything printed, at its own time precision.
 */
export class PrintingVenue {
	readonly printed: KrakenTradeRow[] = [];
	private lastUs = 0n;

	constructor(
		readonly rest: FakeKrakenRest,
		private readonly skewMs: number,
	) {}

	print(n: number): KrakenTradeRow[] {
		const out: KrakenTradeRow[] = [];
		for (let i = 0; i < n; i++) {
			const id = 5000 + this.printed.length;
			const us = BigInt(Date.now() - this.skewMs) * 1000n + 123n;
			this.lastUs = us > this.lastUs ? us : this.lastUs + 1n;
			const t: KrakenTradeRow = { price: `30000.${id % 10}`, volume: "0.00100000", timeUs: this.lastUs, side: id % 2 ? "b" : "s", ordertype: "l", tradeId: id };
			this.printed.push(t);
			out.push(t);
		}
		this.rest.setTrades("XBTUSD", this.printed);
		return out;
	}
}

/** A trade frame as Kraken v2 sends it (numbers as JSON numbers, µs times). */
export function sendTrades(ws: WebSocket, type: "snapshot" | "update", rows: readonly KrakenTradeRow[]): void {
	ws.send(JSON.stringify({ channel: "trade", type, data: rows.map((t) => ({ symbol: "BTC/USD", side: t.side === "b" ? "buy" : "sell", price: Number(t.price), qty: Number(t.volume), ord_type: "limit", trade_id: t.tradeId, timestamp: wsTime(t.timeUs) })) }));
}

/** A minimal v2 server: subscribe acks, the BTC/USD instrument (precisions 1/8), and the sockets that subscribed to trades, in order. */
export async function miniKrakenWs(): Promise<{ url: string; tradeSubs: WebSocket[]; close(): Promise<void> }> {
	const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, path: "/v2" });
	await new Promise<void>((r) => wss.once("listening", () => r()));
	const tradeSubs: WebSocket[] = [];
	wss.on("connection", (ws) => {
		ws.on("message", (m) => {
			const msg = JSON.parse(String(m));
			if (msg.method !== "subscribe") return;
			ws.send(JSON.stringify({ method: "subscribe", result: { channel: msg.params.channel, symbol: msg.params.symbol?.[0] }, success: true, req_id: msg.req_id }));
			if (msg.params.channel === "instrument") ws.send('{"channel":"instrument","type":"snapshot","data":{"assets":[],"pairs":[{"symbol":"BTC/USD","price_precision":1,"qty_precision":8}]}}');
			if (msg.params.channel === "trade") tradeSubs.push(ws);
		});
	});
	return {
		url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/v2`,
		tradeSubs,
		async close() {
			for (const c of wss.clients) c.terminate();
			await new Promise<void>((r) => wss.close(() => r()));
		},
	};
}

/** KrakenStream options for one BTC/USD stream on the mini server: quick reconnects, no watchdog or ping, quiet. */
export function miniStreamOptions(url: string, log: MarketLog, rest: KrakenStreamOptions["rest"]): KrakenStreamOptions {
	return {
		symbols: ["BTC/USD"],
		bookDepth: 10,
		log,
		feed: { url, watchdogMs: 60_000, pingIntervalMs: 0, backoffBaseMs: 10, backoffMaxMs: 10 },
		ledger: null,
		rest,
		flushMs: 10,
		maxBatchItems: 1000,
		checksumMismatchLimit: 3,
		logger: { info() {}, warn() {}, error() {} },
	};
}

/** Every trade id on the trades topic of `log`, sorted. */
export async function publishedTradeIds(log: MarketLog): Promise<number[]> {
	const c = await log.consumer({ subscription: "t", topics: [TRADES_TOPIC] });
	const ids: number[] = [];
	for (const d of await c.pull(1000, 100)) ids.push(...decodeEnvelope(d.payload).trades.map((t) => Number(t.tradeId)));
	return ids.sort((a, b) => a - b);
}
