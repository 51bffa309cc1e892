import fs from "node:fs";
import path from "node:path";
import { crc32 } from "node:zlib";
import Decimal from "decimal.js";
import { WebSocketServer, type WebSocket } from "ws";
import type { AddressInfo } from "node:net";
import { FakeKrakenRest, type KrakenTradeRow } from "./fake-kraken-rest";

/**
 * A local Kraken Spot WebSocket v2 server, driven by the real recordings in ../shared/fixtures/kraken:
 * - BTC/USD book: the recorded v2 session (snapshot + 509 updates, with Kraken's own checksums);
 * - XMR/USD book: the recorded v1 depth-1000 session (cryptofeed) served the way v2 serves depth 10
 *   (top-10 changes per message, CRC32 computed here independently with decimal.js);
 * - BTC/USD trades: every reduction of the best level in the recorded book (a taker hitting it);
 * - tickers (event_trigger bbo): every change of the best bid/offer;
 * - instrument: the pairs of the real AssetPairs response (pair_decimals, lot_decimals).
 * Times are re-stamped with the wall clock at emission, as a live venue would send them. Events are
 * emitted when the test calls `step()`; every trade emitted is also served by the fake REST
 * (/0/public/Trades) so gaps can be repaired. Protocol: subscribe/unsubscribe acks (success:false with
 * an error for unknown pairs or unsupported depth), snapshots, updates, heartbeats, ping -> pong, status.
 */

const FIX = path.resolve(__dirname, "../../../shared/fixtures/kraken");

interface Lvl {
	price: number;
	qty: number;
}

type Event =
	| { kind: "book"; symbol: string; bids: Lvl[]; asks: Lvl[]; checksum: number }
	| { kind: "trade"; symbol: string; side: "buy" | "sell"; price: number; qty: number; ordType: "limit" | "market" };

interface Conn {
	id: number;
	ws: WebSocket;
	subs: Map<string, Set<string>>; // channel -> symbols
	silent: boolean;
	hb: NodeJS.Timeout;
}

/** Server-side book of one symbol: prices as numbers (the fake's own state), truncated like Kraken's view. */
class SideBook {
	bids = new Map<number, number>();
	asks = new Map<number, number>();
	apply(bids: Lvl[], asks: Lvl[], depth: number): void {
		for (const l of bids) l.qty === 0 ? this.bids.delete(l.price) : this.bids.set(l.price, l.qty);
		for (const l of asks) l.qty === 0 ? this.asks.delete(l.price) : this.asks.set(l.price, l.qty);
		if (depth > 0) {
			this.bids = new Map(this.top("bids", depth).map((l) => [l.price, l.qty]));
			this.asks = new Map(this.top("asks", depth).map((l) => [l.price, l.qty]));
		}
	}
	top(side: "bids" | "asks", n: number): Lvl[] {
		const m = side === "bids" ? this.bids : this.asks;
		return [...m].map(([price, qty]) => ({ price, qty })).sort((a, b) => (side === "bids" ? b.price - a.price : a.price - b.price)).slice(0, n);
	}
}

/** Kraken's checksum, written independently of lib/ (decimal.js toFixed + zlib crc32). */
function fakeChecksum(asks: Lvl[], bids: Lvl[], pp: number, qp: number): number {
	const tok = (v: number, dp: number) => new Decimal(v).toFixed(dp).replace(".", "").replace(/^0+/, "");
	const s = [...asks.slice(0, 10), ...bids.slice(0, 10)].map((l) => tok(l.price, pp) + tok(l.qty, qp)).join("");
	return crc32(s) >>> 0;
}

function assetPairs(): Record<string, any> {
	const line = fs.readFileSync(path.join(FIX, "rest/cryptofeed_KRAKEN.0"), "utf8").split("\n")[0];
	return JSON.parse(line.slice(line.indexOf(": ") + 2)).result;
}

const ALIASES: Record<string, string> = { XBT: "BTC", XDG: "DOGE" };

/** The real BTC/USD v2 session: snapshot levels and the updates with their recorded checksums. */
function btcTimeline(): { snapshot: { bids: Lvl[]; asks: Lvl[]; checksum: number }; events: Event[] } {
	const d = JSON.parse(fs.readFileSync(path.join(FIX, "ws_v2/orderbook-v2_BTCUSD_depth10_2023-07-30.json"), "utf8"));
	const init = d.init.data[0];
	const book = new SideBook();
	book.apply(init.bids, init.asks, 10);
	const events: Event[] = [];
	for (const u of d.updates) {
		const b = u.data[0];
		const bestBid = book.top("bids", 1)[0];
		const bestAsk = book.top("asks", 1)[0];
		// a reduction of the best level is a taker trading against it
		for (const l of b.asks as Lvl[]) if (bestAsk && l.price === bestAsk.price && l.qty < bestAsk.qty) events.push({ kind: "trade", symbol: "BTC/USD", side: "buy", price: l.price, qty: +(bestAsk.qty - l.qty).toFixed(8), ordType: "market" });
		for (const l of b.bids as Lvl[]) if (bestBid && l.price === bestBid.price && l.qty < bestBid.qty) events.push({ kind: "trade", symbol: "BTC/USD", side: "sell", price: l.price, qty: +(bestBid.qty - l.qty).toFixed(8), ordType: "limit" });
		events.push({ kind: "book", symbol: "BTC/USD", bids: b.bids, asks: b.asks, checksum: b.checksum });
		book.apply(b.bids, b.asks, 10);
	}
	return { snapshot: { bids: init.bids, asks: init.asks, checksum: init.checksum }, events };
}

/** The real v1 depth-1000 XMR/USD session as v2 depth-10 messages. */
function xmrTimeline(pp: number, qp: number): { snapshot: { bids: Lvl[]; asks: Lvl[]; checksum: number }; events: Event[] } {
	const lines = fs.readFileSync(path.join(FIX, "ws_v1/cryptofeed_KRAKEN.ws.50.0"), "utf8").split("\n");
	const full = new SideBook();
	let prev: { bids: Lvl[]; asks: Lvl[] } | null = null;
	let snapshot: { bids: Lvl[]; asks: Lvl[]; checksum: number } | null = null;
	const events: Event[] = [];
	const lv = (a: string[][] | undefined) => (a ?? []).map((l) => ({ price: Number(l[0]), qty: Number(l[1]) }));
	for (const line of lines) {
		const i = line.indexOf(": [");
		if (i < 0) continue;
		const m = JSON.parse(line.slice(i + 2));
		if (m[m.length - 1] !== "XMR/USD") continue;
		const parts = m.slice(1, -2) as Record<string, string[][]>[];
		const bids = parts.flatMap((p) => lv(p.bs ?? p.b));
		const asks = parts.flatMap((p) => lv(p.as ?? p.a));
		full.apply(bids, asks, 0);
		const now = { bids: full.top("bids", 10), asks: full.top("asks", 10) };
		const checksum = fakeChecksum(now.asks, now.bids, pp, qp);
		if (!prev) snapshot = { ...now, checksum };
		else {
			const diff = (a: Lvl[], b: Lvl[]) => [...b.filter((l) => !a.some((x) => x.price === l.price && x.qty === l.qty)), ...a.filter((l) => !b.some((x) => x.price === l.price)).map((l) => ({ price: l.price, qty: 0 }))];
			const db = diff(prev.bids, now.bids);
			const da = diff(prev.asks, now.asks);
			if (db.length || da.length) events.push({ kind: "book", symbol: "XMR/USD", bids: db, asks: da, checksum });
		}
		prev = now;
	}
	return { snapshot: snapshot!, events };
}

export class FakeKraken {
	readonly rest = new FakeKrakenRest();
	/** Every client message, parsed, with the connection it came on. */
	readonly requests: { conn: number; msg: any }[] = [];
	/** Every trade emitted, in order (what an exchange "printed"), as REST rows. */
	readonly emittedTrades: KrakenTradeRow[] = [];
	connections = 0;
	heartbeatMs = 250;
	/** Trades in a subscribe snapshot (Kraken sends 50). */
	tradeSnapshotSize = 50;
	url = "";
	private wss: WebSocketServer | null = null;
	private conns = new Set<Conn>();
	private pairs = new Map<string, { price: number; qty: number; key: string }>();
	private books = new Map<string, { book: SideBook; checksum: number; timestamp: string }>();
	private bbo = new Map<string, string>();
	private timeline: Event[] = [];
	private cursor = 0;
	private nextTradeId = 62_000_001;
	private lastUs = 0n;
	private corrupt = new Map<string, number>();
	private tradesBy = new Map<string, KrakenTradeRow[]>();

	constructor() {
		for (const [key, p] of Object.entries(assetPairs())) {
			if (typeof p.wsname !== "string") continue;
			const [b, q] = p.wsname.split("/");
			this.pairs.set(`${ALIASES[b] ?? b}/${ALIASES[q] ?? q}`, { price: p.pair_decimals, qty: p.lot_decimals, key });
		}
		const btc = btcTimeline();
		const xmrPrec = this.pairs.get("XMR/USD")!;
		const xmr = xmrTimeline(xmrPrec.price, xmrPrec.qty);
		for (const [sym, t] of [["BTC/USD", btc], ["XMR/USD", xmr]] as const) {
			const book = new SideBook();
			book.apply(t.snapshot.bids, t.snapshot.asks, 10);
			this.books.set(sym, { book, checksum: t.snapshot.checksum, timestamp: this.now() });
		}
		// interleave the two sessions: one XMR message after every BTC event while both last
		const x = xmr.events;
		let j = 0;
		for (const e of btc.events) {
			this.timeline.push(e);
			if (j < x.length) this.timeline.push(x[j++]);
		}
		while (j < x.length) this.timeline.push(x[j++]);
	}

	/** Trades still to come in the timeline. */
	get tradesLeft(): number {
		return this.timeline.slice(this.cursor).filter((e) => e.kind === "trade").length;
	}

	get eventsLeft(): number {
		return this.timeline.length - this.cursor;
	}

	async start(): Promise<this> {
		await this.rest.start();
		this.wss = new WebSocketServer({ host: "127.0.0.1", port: 0, path: "/v2" });
		await new Promise<void>((r) => this.wss!.once("listening", () => r()));
		this.url = `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}/v2`;
		this.wss.on("connection", (ws) => this.onConnection(ws));
		return this;
	}

	async stop(): Promise<void> {
		for (const c of this.conns) {
			clearInterval(c.hb);
			c.ws.terminate();
		}
		this.conns.clear();
		if (this.wss) await new Promise<void>((r) => this.wss!.close(() => r()));
		await this.rest.stop();
	}

	/** Drop every connection at once (the venue or the network failed). */
	dropAll(): void {
		for (const c of this.conns) c.ws.terminate();
	}

	/** Stop sending anything at all, heartbeats and pongs included, on the current connections. */
	silence(): void {
		for (const c of this.conns) c.silent = true;
	}

	/** Send a raw frame (anything, valid or not) on every live connection. */
	sendRaw(text: string): void {
		for (const c of this.conns) if (!c.silent) c.ws.send(text);
	}

	/** Corrupt (a wrong quantity at the best bid) the next `n` book updates sent for `symbol`. */
	corruptBook(symbol: string, n: number): void {
		this.corrupt.set(symbol, n);
	}

	subscribed(channel: string, symbol: string): boolean {
		return [...this.conns].some((c) => !c.silent && c.subs.get(channel)?.has(symbol));
	}

	/** Emit the next `n` timeline events (all of them without `n`) to the subscribers; returns the trades emitted. */
	step(n = Infinity): number {
		let trades = 0;
		for (let k = 0; k < n && this.cursor < this.timeline.length; k++) {
			const e = this.timeline[this.cursor++];
			if (e.kind === "trade") {
				trades++;
				this.emitTrade(e);
			} else this.emitBook(e);
		}
		return trades;
	}

	/** Emit events until `n` trades were emitted (or the timeline ends); returns the trades emitted. */
	stepTrades(n: number): number {
		let trades = 0;
		while (trades < n && this.cursor < this.timeline.length) trades += this.step(1);
		return trades;
	}

	/**
	 * Emit `n` trades on `symbol`, a pair with no recording of its own (ETH/USD): the recorded BTC/USD trades'
	 * sizes and sides, prices divided by 20 and cut to the pair's AssetPairs precision. Returns the rows emitted.
	 */
	emitTradesOn(symbol: string, n: number): KrakenTradeRow[] {
		const prec = this.pairs.get(symbol);
		if (!prec) throw new Error(`${symbol} is not in the AssetPairs fixture`);
		const recorded = this.timeline.filter((e): e is Extract<Event, { kind: "trade" }> => e.kind === "trade").slice(0, n);
		const mine = this.tradesBy.get(symbol) ?? [];
		this.tradesBy.set(symbol, mine);
		const out: KrakenTradeRow[] = [];
		for (const e of recorded) {
			const row: KrakenTradeRow = { price: new Decimal(e.price).div(20).toFixed(prec.price, Decimal.ROUND_DOWN), volume: new Decimal(e.qty).toFixed(Math.min(8, prec.qty)), timeUs: this.nowUs(), side: e.side === "buy" ? "b" : "s", ordertype: e.ordType === "market" ? "m" : "l", tradeId: this.nextTradeId++ };
			mine.push(row);
			out.push(row);
			this.broadcast("trade", symbol, { channel: "trade", type: "update", data: [this.wsTrade(symbol, row)] });
		}
		this.rest.setTrades(prec.key, mine);
		return out;
	}

	// ---- internals ----

	/** A wall-clock timestamp with µs, strictly increasing. */
	private nowUs(): bigint {
		const us = BigInt(Date.now()) * 1000n;
		this.lastUs = us > this.lastUs ? us : this.lastUs + 1n;
		return this.lastUs;
	}

	private now(): string {
		return isoUs(this.nowUs());
	}

	private emitTrade(e: Extract<Event, { kind: "trade" }>): void {
		const us = this.nowUs();
		const row: KrakenTradeRow = { price: e.price.toFixed(1), volume: e.qty.toFixed(8), timeUs: us, side: e.side === "buy" ? "b" : "s", ordertype: e.ordType === "market" ? "m" : "l", tradeId: this.nextTradeId++ };
		this.emittedTrades.push(row);
		const mine = this.tradesBy.get(e.symbol) ?? [];
		this.tradesBy.set(e.symbol, mine);
		mine.push(row);
		this.rest.setTrades(this.pairs.get(e.symbol)!.key, mine);
		this.broadcast("trade", e.symbol, { channel: "trade", type: "update", data: [this.wsTrade(e.symbol, row)] });
	}

	private wsTrade(symbol: string, r: KrakenTradeRow) {
		return { symbol, side: r.side === "b" ? "buy" : "sell", price: Number(r.price), qty: Number(r.volume), ord_type: r.ordertype === "m" ? "market" : "limit", trade_id: r.tradeId, timestamp: isoUs(r.timeUs) };
	}

	private emitBook(e: Extract<Event, { kind: "book" }>): void {
		const st = this.books.get(e.symbol)!;
		st.book.apply(e.bids, e.asks, 10);
		st.checksum = e.checksum;
		st.timestamp = this.now();
		let bids = e.bids;
		const left = this.corrupt.get(e.symbol) ?? 0;
		if (left > 0) {
			const best = st.book.top("bids", 1)[0];
			bids = [...e.bids, { price: best.price, qty: +(best.qty + 0.12345678).toFixed(8) }];
			this.corrupt.set(e.symbol, left - 1);
		}
		this.broadcast("book", e.symbol, { channel: "book", type: "update", data: [{ symbol: e.symbol, bids, asks: e.asks, checksum: e.checksum, timestamp: st.timestamp }] });
		const bbo = this.tickerData(e.symbol);
		const key = `${bbo.bid}/${bbo.bid_qty}/${bbo.ask}/${bbo.ask_qty}`;
		if (this.bbo.get(e.symbol) !== key) {
			this.bbo.set(e.symbol, key);
			this.broadcast("ticker", e.symbol, { channel: "ticker", type: "update", data: [bbo] });
		}
	}

	private tickerData(symbol: string) {
		const st = this.books.get(symbol)!;
		const b = st.book.top("bids", 1)[0];
		const a = st.book.top("asks", 1)[0];
		const last = this.emittedTrades.length ? Number(this.emittedTrades[this.emittedTrades.length - 1].price) : a.price;
		return { symbol, bid: b.price, bid_qty: b.qty, ask: a.price, ask_qty: a.qty, last, volume: 0, vwap: last, low: last, high: last, change: 0, change_pct: 0, timestamp: st.timestamp };
	}

	private broadcast(channel: string, symbol: string, frame: object): void {
		const text = JSON.stringify(frame);
		for (const c of this.conns) if (!c.silent && c.subs.get(channel)?.has(symbol)) c.ws.send(text);
	}

	private onConnection(ws: WebSocket): void {
		const conn: Conn = { id: ++this.connections, ws, subs: new Map(), silent: false, hb: setInterval(() => !conn.silent && ws.send('{"channel":"heartbeat"}'), this.heartbeatMs) };
		this.conns.add(conn);
		ws.on("close", () => {
			clearInterval(conn.hb);
			this.conns.delete(conn);
		});
		ws.on("message", (data) => this.onMessage(conn, data.toString()));
		ws.send(JSON.stringify({ channel: "status", type: "update", data: [{ api_version: "v2", connection_id: 1000 + conn.id, system: "online", version: "2.0.9" }] }));
	}

	private onMessage(c: Conn, text: string): void {
		let msg: any;
		try {
			msg = JSON.parse(text);
		} catch {
			return this.send(c, { error: "Malformed request", success: false, time_in: this.now(), time_out: this.now() });
		}
		this.requests.push({ conn: c.id, msg });
		const times = { time_in: this.now(), time_out: this.now() };
		if (msg.method === "ping") return this.send(c, { method: "pong", req_id: msg.req_id, ...times });
		if (msg.method !== "subscribe" && msg.method !== "unsubscribe") return this.send(c, { error: `Unsupported method ${msg.method}`, method: msg.method, req_id: msg.req_id, success: false, ...times });
		const p = msg.params ?? {};
		const channel: string = p.channel;
		if (channel === "instrument") {
			this.send(c, { method: msg.method, result: { channel, snapshot: true }, success: true, req_id: msg.req_id, ...times });
			if (msg.method === "subscribe") {
				c.subs.set("instrument", new Set(["*"]));
				const pairs = [...this.pairs].map(([symbol, pr]) => ({ symbol, base: symbol.split("/")[0], quote: symbol.split("/")[1], status: "online", price_precision: pr.price, qty_precision: pr.qty, price_increment: Number(`1e-${pr.price}`), qty_increment: Number(`1e-${pr.qty}`) }));
				this.send(c, { channel: "instrument", type: "snapshot", data: { assets: [], pairs } });
			}
			return;
		}
		for (const symbol of p.symbol ?? []) {
			const fail = (error: string) => this.send(c, { error, method: msg.method, req_id: msg.req_id, success: false, symbol, ...times });
			if (!["trade", "ticker", "book"].includes(channel)) return fail(`Channel ${channel} not supported by the fake`);
			if (!this.pairs.has(symbol)) {
				fail(`Currency pair not supported ${symbol}`);
				continue;
			}
			if (channel === "book" && p.depth !== undefined && p.depth !== 10) {
				fail(`Depth ${p.depth} not served by the fake (it replays depth 10)`);
				continue;
			}
			const subs = c.subs.get(channel) ?? new Set<string>();
			c.subs.set(channel, subs);
			if (msg.method === "unsubscribe") {
				if (!subs.delete(symbol)) fail("Subscription Not Found");
				else this.send(c, { method: "unsubscribe", result: { channel, symbol, ...(channel === "book" ? { depth: 10 } : {}) }, success: true, req_id: msg.req_id, ...times });
				continue;
			}
			if (subs.has(symbol)) {
				fail("Already subscribed");
				continue;
			}
			subs.add(symbol);
			this.send(c, { method: "subscribe", result: { channel, symbol, snapshot: p.snapshot !== false, ...(channel === "book" ? { depth: 10 } : {}), ...(channel === "ticker" ? { event_trigger: p.event_trigger ?? "trades" } : {}) }, success: true, req_id: msg.req_id, ...times });
			if (p.snapshot === false) continue;
			if (channel === "trade") {
				const rows = (this.tradesBy.get(symbol) ?? []).slice(-this.tradeSnapshotSize);
				this.send(c, { channel: "trade", type: "snapshot", data: rows.map((r) => this.wsTrade(symbol, r)) });
			} else if (channel === "ticker" && this.books.has(symbol)) {
				this.send(c, { channel: "ticker", type: "snapshot", data: [this.tickerData(symbol)] });
			} else if (channel === "book" && this.books.has(symbol)) {
				const st = this.books.get(symbol)!;
				this.send(c, { channel: "book", type: "snapshot", data: [{ symbol, bids: st.book.top("bids", 10), asks: st.book.top("asks", 10), checksum: st.checksum, timestamp: st.timestamp }] });
			}
		}
	}

	private send(c: Conn, o: object): void {
		if (!c.silent) c.ws.send(JSON.stringify(o));
	}
}

function isoUs(us: bigint): string {
	const ms = Number(us / 1000n);
	return new Date(ms).toISOString().slice(0, 19) + "." + String(us % 1_000_000n).padStart(6, "0") + "Z";
}
