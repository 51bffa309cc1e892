import { ID_RE } from "../../domain/codec";
import { isIsoTimestamp } from "../../domain/time";
import type { QuoteItem, TradeItem } from "../../domain/types";
import type { WsBook, WsLevel, WsMethodReply, WsPair, WsStatus, WsTicker, WsTrade } from "./messages";
import * as precision from "./precision";
import * as scan from "./scan";

// Bound once: under tsx (how the services run) every use of a named import is a getter call.
const { parseExact, renderDecimal } = precision;
const { scanDataFrame } = scan;

/**
 * Pure decoding of Kraken WebSocket v2 frames (text -> typed frame) and mapping to the domain types
 * (frame + receive time -> trades, quotes). Never throws: whatever cannot be used comes back as a
 * `rejected` frame with its category and reason, or as per-item `problems`.
 */

export type RejectCategory = "malformed" | "v1" | "unknown-channel" | "error";

export type Frame =
	| { kind: "trade"; type: "snapshot" | "update"; trades: WsTrade[]; problems: string[] }
	| { kind: "ticker"; type: "snapshot" | "update"; tickers: WsTicker[]; problems: string[] }
	| { kind: "book"; type: "snapshot" | "update"; books: WsBook[]; problems: string[] }
	| { kind: "instrument"; type: "snapshot" | "update"; pairs: WsPair[]; problems: string[] }
	| { kind: "heartbeat" }
	| { kind: "status"; statuses: WsStatus[] }
	| { kind: "reply"; reply: WsMethodReply }
	| { kind: "rejected"; category: RejectCategory; reason: string };

const V1_EVENTS = new Set(["systemStatus", "subscriptionStatus", "heartbeat", "pong", "ping", "subscribe", "unsubscribe", "error"]);

function rejected(category: RejectCategory, reason: string): Frame {
	return { kind: "rejected", category, reason };
}

function isObj(v: unknown): v is Record<string, any> {
	return v !== null && typeof v === "object" && !Array.isArray(v);
}

const V1_HINT = "Kraken WebSocket v1 is not supported: point KRAKEN_WS_URL at a v2 endpoint (wss://ws.kraken.com/v2)";

/**
 * Decode one frame of text. Trade, ticker and book frames in Kraken's compact layout with only valid
 * items take the one-pass exact scanner (scan.ts); every other frame, and any frame the scanner does not
 * fully accept, goes through the full parser below, which decides what is accepted, reported or rejected.
 */
export function decodeFrame(text: string): Frame {
	return scanDataFrame(text) ?? decodeFrameFully(text);
}

/** decodeFrame without the scanner's fast path: parseExact, then each frame kind and item validated. */
export function decodeFrameFully(text: string): Frame {
	let msg: unknown;
	try {
		msg = parseExact(text);
	} catch (err) {
		return rejected("malformed", `not JSON: ${(err as Error).message}`);
	}
	if (Array.isArray(msg)) {
		// v1 data frames are arrays: [channelID, payload, channelName, pair]
		const name = typeof msg[msg.length - 2] === "string" ? ` (${msg[msg.length - 2]} ${msg[msg.length - 1]})` : "";
		return rejected("v1", `v1 array frame${name}: ${V1_HINT}`);
	}
	if (!isObj(msg)) return rejected("malformed", "frame is not a JSON object");
	if (typeof msg.event === "string" && msg.channel === undefined && msg.method === undefined) {
		return rejected("v1", `v1 event frame "${msg.event}"${V1_EVENTS.has(msg.event) ? "" : " (unknown event)"}: ${V1_HINT}`);
	}
	if (typeof msg.method === "string") return { kind: "reply", reply: msg as WsMethodReply };
	if (typeof msg.error === "string") return rejected("error", `error frame: ${msg.error}`);
	const channel = msg.channel;
	if (typeof channel !== "string") return rejected("malformed", "frame has neither channel nor method");
	if (channel === "heartbeat") return { kind: "heartbeat" };
	if (channel === "status") {
		const data = Array.isArray(msg.data) ? msg.data.filter(isObj) : [];
		if (!data.length) return rejected("malformed", "status frame without data");
		return { kind: "status", statuses: data as WsStatus[] };
	}
	const type = msg.type;
	if (type !== "snapshot" && type !== "update") {
		if (channel === "trade" || channel === "ticker" || channel === "book" || channel === "instrument") return rejected("malformed", `${channel} frame with type ${JSON.stringify(type)}`);
		return rejected("unknown-channel", `unknown channel ${JSON.stringify(channel)}`);
	}
	switch (channel) {
		case "trade":
			return collect("trade", type, msg.data, tradeProblem, (items, problems) => ({ kind: "trade", type, trades: items as WsTrade[], problems }));
		case "ticker":
			return collect("ticker", type, msg.data, tickerProblem, (items, problems) => ({ kind: "ticker", type, tickers: items as WsTicker[], problems }));
		case "book":
			return collect("book", type, msg.data, bookProblem, (items, problems) => ({ kind: "book", type, books: items as WsBook[], problems }));
		case "instrument": {
			if (!isObj(msg.data) || !Array.isArray(msg.data.pairs)) return rejected("malformed", "instrument frame without data.pairs");
			return collect("instrument", type, msg.data.pairs, pairProblem, (items, problems) => ({ kind: "instrument", type, pairs: items as WsPair[], problems }));
		}
		default:
			return rejected("unknown-channel", `unknown channel ${JSON.stringify(channel)}`);
	}
}

function collect(channel: string, type: string, data: unknown, problemOf: (x: Record<string, any>) => string | null, make: (items: unknown[], problems: string[]) => Frame): Frame {
	if (!Array.isArray(data)) return rejected("malformed", `${channel} ${type} frame: data is not an array`);
	const items: unknown[] = [];
	const problems: string[] = [];
	for (let i = 0; i < data.length; i++) {
		const d = data[i];
		const p = isObj(d) ? problemOf(d) : "item is not an object";
		if (p) problems.push(`${channel} item ${i}: ${p}`);
		else items.push(d);
	}
	return make(items, problems);
}

const POS_RE = /^(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/** A non-negative JSON number's text. Plain decimals (nearly every number Kraken sends) are checked by a scan, not a regex: this runs for every price and size. */
function pos(v: unknown): boolean {
	if (typeof v !== "string") return false;
	const n = v.length;
	if (n === 0 || n > 64) return false;
	let dot = -1;
	for (let i = 0; i < n; i++) {
		const c = v.charCodeAt(i);
		if (c === 46) {
			if (dot >= 0 || i === 0 || i === n - 1) return false;
			dot = i;
		} else if (c < 48 || c > 57) return POS_RE.test(v); // exponent form: the full grammar
	}
	return !(v.charCodeAt(0) === 48 && n > 1 && dot !== 1); // no leading zeros
}

function tradeProblem(t: Record<string, any>): string | null {
	if (typeof t.symbol !== "string") return "symbol missing";
	if (t.side !== "buy" && t.side !== "sell") return `side ${JSON.stringify(t.side)} is not buy or sell`;
	if (!pos(t.price)) return `price ${JSON.stringify(t.price)} is not a non-negative number`;
	if (!pos(t.qty)) return `qty ${JSON.stringify(t.qty)} is not a non-negative number`;
	if (typeof t.trade_id !== "string" || !ID_RE.test(t.trade_id)) return `trade_id ${JSON.stringify(t.trade_id)} is not a non-negative integer`;
	if (!isIsoTimestamp(t.timestamp)) return `timestamp ${JSON.stringify(t.timestamp)} is not an RFC 3339 UTC time`;
	return null;
}

function tickerProblem(t: Record<string, any>): string | null {
	if (typeof t.symbol !== "string") return "symbol missing";
	for (const f of ["bid", "ask", "bid_qty", "ask_qty"]) if (!pos(t[f])) return `${f} ${JSON.stringify(t[f])} is not a non-negative number`;
	if (t.timestamp !== undefined && !isIsoTimestamp(t.timestamp)) return `timestamp ${JSON.stringify(t.timestamp)} is not an RFC 3339 UTC time`;
	return null;
}

function levelsOk(levels: unknown): levels is WsLevel[] {
	if (!Array.isArray(levels)) return false;
	for (let i = 0; i < levels.length; i++) {
		const l = levels[i];
		if (!isObj(l) || !pos(l.price) || !pos(l.qty)) return false;
	}
	return true;
}

function bookProblem(b: Record<string, any>): string | null {
	if (typeof b.symbol !== "string") return "symbol missing";
	if (!levelsOk(b.bids ?? [])) return "bids are not [{price, qty}] numbers";
	if (!levelsOk(b.asks ?? [])) return "asks are not [{price, qty}] numbers";
	if (b.bids === undefined) b.bids = [];
	if (b.asks === undefined) b.asks = [];
	if (typeof b.checksum !== "string" || !ID_RE.test(b.checksum) || Number(b.checksum) > 0xffffffff) return `checksum ${JSON.stringify(b.checksum)} is not an unsigned 32-bit integer`;
	if (b.timestamp !== undefined && !isIsoTimestamp(b.timestamp)) return `timestamp ${JSON.stringify(b.timestamp)} is not an RFC 3339 UTC time`;
	return null;
}

function pairProblem(p: Record<string, any>): string | null {
	if (typeof p.symbol !== "string") return "symbol missing";
	if (typeof p.price_precision !== "string" || !/^\d{1,2}$/.test(p.price_precision)) return `price_precision ${JSON.stringify(p.price_precision)} is not a small integer`;
	if (typeof p.qty_precision !== "string" || !/^\d{1,2}$/.test(p.qty_precision)) return `qty_precision ${JSON.stringify(p.qty_precision)} is not a small integer`;
	return null;
}

/** Price and size decimals of a pair (from the instrument channel or REST AssetPairs). */
export interface Precision {
	price: number;
	qty: number;
}

export function precisionOf(p: WsPair): Precision {
	return { price: Number(p.price_precision), qty: Number(p.qty_precision) };
}

/** A v2 trade as a domain TradeItem; price and qty re-rendered at the pair's precision when known. */
export function tradeItem(t: WsTrade, recvTime: string, prec?: Precision): TradeItem {
	return {
		tradeId: t.trade_id,
		side: t.side,
		price: renderDecimal(t.price, prec?.price),
		qty: renderDecimal(t.qty, prec?.qty),
		time: t.timestamp,
		recvTime,
	};
}

/**
 * Sequence numbers for quotes that make (venue, symbol, time, seq) unique and stable: the n-th quote
 * with the same event time gets seq n-1. The same frames in the same order (a replay, a redelivery)
 * give the same seqs, so the writer's dedup recognises them. A quote equal to the last one of its
 * symbol (same time, bid, ask and sizes: the ticker snapshot Kraken re-sends on a reconnect) gets no
 * seq: it would be stored as a second identical quote.
 */
export class QuoteSeq {
	private last = new Map<string, { time: string; n: number; bid: string; ask: string; bidQty: string; askQty: string }>();

	/** The seq of the next quote of `symbol` at `time`, or null when its values repeat the last quote's. */
	next(symbol: string, time: string, bid: string, ask: string, bidQty: string, askQty: string): string | null {
		const e = this.last.get(symbol);
		if (e && e.time === time) {
			if (e.bid === bid && e.ask === ask && e.bidQty === bidQty && e.askQty === askQty) return null;
			e.bid = bid;
			e.ask = ask;
			e.bidQty = bidQty;
			e.askQty = askQty;
			return String(++e.n);
		}
		if (e) {
			e.time = time;
			e.n = 0;
			e.bid = bid;
			e.ask = ask;
			e.bidQty = bidQty;
			e.askQty = askQty;
		} else this.last.set(symbol, { time, n: 0, bid, ask, bidQty, askQty });
		return "0";
	}
}

/**
 * A bbo ticker as a domain QuoteItem; null when it repeats the symbol's last quote. Without a venue
 * timestamp the receive time is the event time.
 */
export function quoteItem(t: WsTicker, recvTime: string, seq: QuoteSeq, prec?: Precision): QuoteItem | null {
	const time = t.timestamp ?? recvTime;
	const bid = renderDecimal(t.bid, prec?.price);
	const ask = renderDecimal(t.ask, prec?.price);
	const bidQty = renderDecimal(t.bid_qty, prec?.qty);
	const askQty = renderDecimal(t.ask_qty, prec?.qty);
	const s = seq.next(t.symbol, time, bid, ask, bidQty, askQty);
	if (s === null) return null;
	return { time, seq: s, bid, ask, bidQty, askQty, recvTime };
}
