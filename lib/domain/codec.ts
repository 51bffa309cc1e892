import { isDecimalString } from "./decimal";
import { isIsoTimestamp } from "./time";
import type { Envelope, MarkerItem, Quote, QuoteItem, Trade, TradeItem } from "./types";

/**
 * Wire format of the market-data log: one JSON envelope per message (see Envelope). Decoding validates
 * every item; a bad item is rejected with its reason while the good items of the same message are kept.
 */

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._\-/]{0,63}$/; // venue and symbol names: safe in COPY text format
const ID_RE = /^(0|[1-9]\d{0,17})$/; // fits a bigint
const MARKER_TYPES = new Set(["disconnect", "reconnect", "book-reset", "gap"]);

export function encodeEnvelope(env: Envelope): Buffer {
	return Buffer.from(JSON.stringify(env));
}

export function tradeEnvelope(venue: string, symbol: string, items: TradeItem[]): Envelope {
	return { v: 1, kind: "trade", venue, symbol, items };
}

export function quoteEnvelope(venue: string, symbol: string, items: QuoteItem[]): Envelope {
	return { v: 1, kind: "quote", venue, symbol, items };
}

export interface Rejection {
	index: number; // item index, -1 for the whole message
	reason: string;
}

export interface Decoded {
	kind: "trade" | "quote" | "marker" | null;
	venue: string;
	symbol: string;
	trades: Trade[];
	quotes: Quote[];
	markers: number;
	rejects: Rejection[];
}

function bad(reason: string): Decoded {
	return { kind: null, venue: "", symbol: "", trades: [], quotes: [], markers: 0, rejects: [{ index: -1, reason }] };
}

function tradeProblem(t: any): string | null {
	if (t === null || typeof t !== "object") return "item is not an object";
	if (typeof t.tradeId !== "string" || !ID_RE.test(t.tradeId)) return "tradeId must be a non-negative integer string";
	if (!isDecimalString(t.price) || t.price.startsWith("-")) return `price ${JSON.stringify(t.price)} is not a positive decimal string`;
	if (!isDecimalString(t.qty) || t.qty.startsWith("-")) return `qty ${JSON.stringify(t.qty)} is not a non-negative decimal string`;
	if (t.side !== null && t.side !== "buy" && t.side !== "sell") return `side ${JSON.stringify(t.side)} is not buy, sell or null`;
	if (!isIsoTimestamp(t.time)) return `time ${JSON.stringify(t.time)} is not an ISO-8601 UTC timestamp`;
	if (!isIsoTimestamp(t.recvTime)) return `recvTime ${JSON.stringify(t.recvTime)} is not an ISO-8601 UTC timestamp`;
	return null;
}

function optionalQty(v: unknown): boolean {
	return v === null || v === undefined || (isDecimalString(v) && !v.startsWith("-"));
}

function quoteProblem(q: any): string | null {
	if (q === null || typeof q !== "object") return "item is not an object";
	if (typeof q.seq !== "string" || !ID_RE.test(q.seq)) return "seq must be a non-negative integer string";
	if (!isDecimalString(q.bid)) return `bid ${JSON.stringify(q.bid)} is not a decimal string`;
	if (!isDecimalString(q.ask)) return `ask ${JSON.stringify(q.ask)} is not a decimal string`;
	if (!optionalQty(q.bidQty)) return `bidQty ${JSON.stringify(q.bidQty)} is not a decimal string`;
	if (!optionalQty(q.askQty)) return `askQty ${JSON.stringify(q.askQty)} is not a decimal string`;
	if (!isIsoTimestamp(q.time)) return `time ${JSON.stringify(q.time)} is not an ISO-8601 UTC timestamp`;
	if (!isIsoTimestamp(q.recvTime)) return `recvTime ${JSON.stringify(q.recvTime)} is not an ISO-8601 UTC timestamp`;
	return null;
}

function markerProblem(m: any): string | null {
	if (m === null || typeof m !== "object") return "item is not an object";
	if (!MARKER_TYPES.has(m.type)) return `marker type ${JSON.stringify(m.type)} is unknown`;
	if (!isIsoTimestamp(m.time)) return `time ${JSON.stringify(m.time)} is not an ISO-8601 UTC timestamp`;
	return null;
}

/** Decode and validate one log message. Never throws. */
export function decodeEnvelope(payload: Uint8Array): Decoded {
	let env: any;
	try {
		env = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString("utf8"));
	} catch (err) {
		return bad(`not JSON: ${(err as Error).message}`);
	}
	if (env === null || typeof env !== "object" || Array.isArray(env)) return bad("not an envelope object");
	if (env.v !== 1) return bad(`unsupported envelope version ${JSON.stringify(env.v)}`);
	if (env.kind !== "trade" && env.kind !== "quote" && env.kind !== "marker") return bad(`unknown kind ${JSON.stringify(env.kind)}`);
	if (typeof env.venue !== "string" || !NAME_RE.test(env.venue)) return bad(`bad venue ${JSON.stringify(env.venue)}`);
	if (typeof env.symbol !== "string" || !NAME_RE.test(env.symbol)) return bad(`bad symbol ${JSON.stringify(env.symbol)}`);
	if (!Array.isArray(env.items)) return bad("items is not an array");
	const out: Decoded = { kind: env.kind, venue: env.venue, symbol: env.symbol, trades: [], quotes: [], markers: 0, rejects: [] };
	const items: any[] = env.items;
	for (let i = 0; i < items.length; i++) {
		const it = items[i];
		if (env.kind === "trade") {
			const p = tradeProblem(it);
			if (p) out.rejects.push({ index: i, reason: p });
			else
				out.trades.push({ venue: env.venue, symbol: env.symbol, tradeId: it.tradeId, side: it.side, price: it.price, qty: it.qty, time: it.time, recvTime: it.recvTime });
		} else if (env.kind === "quote") {
			const p = quoteProblem(it);
			if (p) out.rejects.push({ index: i, reason: p });
			else
				out.quotes.push({
					venue: env.venue,
					symbol: env.symbol,
					time: it.time,
					seq: it.seq,
					bid: it.bid,
					ask: it.ask,
					bidQty: it.bidQty ?? null,
					askQty: it.askQty ?? null,
					recvTime: it.recvTime,
				});
		} else {
			const p = markerProblem(it as MarkerItem);
			if (p) out.rejects.push({ index: i, reason: p });
			else out.markers++;
		}
	}
	return out;
}
