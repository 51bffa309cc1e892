import { encodeEnvelope } from "./domain/codec";
import { marketTopic } from "./domain/topics";
import type { AssetClass, Envelope, QuoteItem, TradeItem } from "./domain/types";

/**
 * Replay source: JSON lines of normalized trades or quotes, grouped into log messages of one venue,
 * symbol and kind (at most `perMessage` items each), in file order per symbol.
 *
 * A trade line:  {"venue":"kraken","symbol":"BTC-USD-SPOT","tradeId":"1","side":"buy","price":"42000.1","qty":"0.5","time":"2024-01-15T13:00:00.123Z"}
 * A quote line:  {"venue":"dukascopy","symbol":"EUR-USD-SPOT","seq":"0","bid":"1.09123","ask":"1.09125","bidQty":"1.5","askQty":"2","time":"..."}
 * Optional on both: "recvTime" (defaults to "time"), "asset" ("crypto" | "fx"; defaults to crypto for
 * trades and fx for quotes), "venueSymbol" (used in the topic name; defaults to the canonical symbol's base+quote).
 * Prices stay strings; a number where a decimal string belongs is rejected rather than rounded.
 */
export interface ReplayMessage {
	venue: string;
	symbol: string;
	topic: string;
	key: string;
	payload: Buffer;
	items: number;
}

export interface ReplayParse {
	messages: ReplayMessage[];
	lines: number;
	records: number;
	errors: { line: number; reason: string }[];
}

function topicSymbolOf(line: any): string {
	if (typeof line.venueSymbol === "string") return line.venueSymbol;
	const parts = String(line.symbol).split("-");
	return parts.length >= 2 ? parts[0] + parts[1] : String(line.symbol);
}

export function parseReplay(text: string, perMessage = 100): ReplayParse {
	const groups = new Map<string, { topic: string; venue: string; symbol: string; kind: "trade" | "quote"; items: (TradeItem | QuoteItem)[] }>();
	const out: ReplayParse = { messages: [], lines: 0, records: 0, errors: [] };
	const flush = (k: string) => {
		const g = groups.get(k)!;
		if (!g.items.length) return;
		const env = { v: 1, kind: g.kind, venue: g.venue, symbol: g.symbol, items: g.items } as Envelope;
		out.messages.push({ venue: g.venue, symbol: g.symbol, topic: g.topic, key: g.symbol, payload: encodeEnvelope(env), items: g.items.length });
		g.items = [];
	};
	const lines = text.split(/\r?\n/);
	for (let i = 0; i < lines.length; i++) {
		const raw = lines[i].trim();
		if (!raw) continue;
		out.lines++;
		let l: any;
		try {
			l = JSON.parse(raw);
		} catch (err) {
			out.errors.push({ line: i + 1, reason: `not JSON: ${(err as Error).message}` });
			continue;
		}
		if (!l || typeof l !== "object" || typeof l.venue !== "string" || typeof l.symbol !== "string") {
			out.errors.push({ line: i + 1, reason: "needs string fields venue and symbol" });
			continue;
		}
		const isTrade = l.tradeId !== undefined;
		const isQuote = l.bid !== undefined && l.ask !== undefined;
		if (isTrade === isQuote) {
			out.errors.push({ line: i + 1, reason: "neither a trade (tradeId, price, qty) nor a quote (bid, ask, seq)" });
			continue;
		}
		for (const f of isTrade ? ["price", "qty"] : ["bid", "ask", "bidQty", "askQty"]) {
			if (typeof l[f] === "number") {
				out.errors.push({ line: i + 1, reason: `${f} must be a decimal string, not a JSON number` });
				l = null;
				break;
			}
		}
		if (!l) continue;
		const asset: AssetClass = l.asset === "fx" || l.asset === "crypto" ? l.asset : isTrade ? "crypto" : "fx";
		const topic = marketTopic(asset, l.venue, topicSymbolOf(l), isTrade ? "trades" : "quotes");
		const kind = isTrade ? "trade" : "quote";
		const k = `${topic}\u0000${l.symbol}`;
		let g = groups.get(k);
		if (!g) groups.set(k, (g = { topic, venue: l.venue, symbol: l.symbol, kind, items: [] }));
		const recvTime = l.recvTime ?? l.time;
		g.items.push(
			isTrade
				? { tradeId: String(l.tradeId), side: l.side ?? null, price: l.price, qty: l.qty, time: l.time, recvTime }
				: { seq: String(l.seq ?? "0"), bid: l.bid, ask: l.ask, bidQty: l.bidQty ?? null, askQty: l.askQty ?? null, time: l.time, recvTime },
		);
		out.records++;
		if (g.items.length >= perMessage) flush(k);
	}
	for (const k of groups.keys()) flush(k);
	return out;
}
