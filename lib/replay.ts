import { encodeEnvelope, itemObjectProblem } from "./domain/codec";
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

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._\-/]{0,63}$/;

function topicSymbolOf(line: any): string {
	if (typeof line.venueSymbol === "string") return line.venueSymbol;
	const parts = String(line.symbol).split("-");
	return parts.length >= 2 ? parts[0] + parts[1] : String(line.symbol);
}

/**
 * Builds log messages line by line, so a caller reading a stream holds only the messages, never the text.
 * Each line is checked as the tick-writer would check it (lib/domain/codec), so a bad record is refused
 * here with the field named instead of being dead-lettered later.
 */
export class ReplayBuilder {
	readonly out: ReplayParse = { messages: [], lines: 0, records: 0, errors: [] };
	private groups = new Map<string, { topic: string; venue: string; symbol: string; kind: "trade" | "quote"; items: (TradeItem | QuoteItem)[] }>();

	constructor(
		private readonly perMessage = 100,
		/** Errors kept in `out.errors`; the rest are only counted in `rejected`. */
		private readonly maxErrors = Infinity,
	) {}

	rejected = 0;

	/** Count a line refused before parsing (too long, say). */
	rejectLine(line: number, reason: string): void {
		this.error(line, reason);
	}

	private error(line: number, reason: string): void {
		this.rejected++;
		if (this.out.errors.length < this.maxErrors) this.out.errors.push({ line, reason });
	}

	/** One line of input; `lineNo` counts from 1. Blank lines are skipped. */
	add(rawLine: string, lineNo: number): void {
		const raw = rawLine.trim();
		if (!raw) return;
		this.out.lines++;
		let l: any;
		try {
			l = JSON.parse(raw);
		} catch (err) {
			return this.error(lineNo, `not JSON: ${(err as Error).message}`);
		}
		if (!l || typeof l !== "object" || typeof l.venue !== "string" || typeof l.symbol !== "string") return this.error(lineNo, "needs string fields venue and symbol");
		const isTrade = l.tradeId !== undefined;
		const isQuote = l.bid !== undefined && l.ask !== undefined;
		if (isTrade === isQuote) return this.error(lineNo, "neither a trade (tradeId, price, qty) nor a quote (bid, ask, seq)");
		for (const f of isTrade ? ["price", "qty"] : ["bid", "ask", "bidQty", "askQty"]) {
			if (typeof l[f] === "number") return this.error(lineNo, `${f} must be a decimal string, not a JSON number`);
		}
		if (!NAME_RE.test(l.venue)) return this.error(lineNo, `venue ${JSON.stringify(l.venue).slice(0, 80)} is not a valid name`);
		if (!NAME_RE.test(l.symbol)) return this.error(lineNo, `symbol ${JSON.stringify(l.symbol).slice(0, 80)} is not a valid name`);
		const asset: AssetClass = l.asset === "fx" || l.asset === "crypto" ? l.asset : isTrade ? "crypto" : "fx";
		const kind = isTrade ? "trade" : "quote";
		const recvTime = l.recvTime ?? l.time;
		const item = isTrade
			? { tradeId: typeof l.tradeId === "number" ? String(l.tradeId) : l.tradeId, side: l.side ?? null, price: l.price, qty: l.qty, time: l.time, recvTime }
			: { seq: l.seq === undefined ? "0" : typeof l.seq === "number" ? String(l.seq) : l.seq, bid: l.bid, ask: l.ask, bidQty: l.bidQty ?? null, askQty: l.askQty ?? null, time: l.time, recvTime };
		const problem = itemObjectProblem(kind, item);
		if (problem) return this.error(lineNo, problem);
		const topic = marketTopic(asset, l.venue, topicSymbolOf(l), isTrade ? "trades" : "quotes");
		const k = `${topic}\u0000${l.symbol}`;
		let g = this.groups.get(k);
		if (!g) this.groups.set(k, (g = { topic, venue: l.venue, symbol: l.symbol, kind, items: [] }));
		g.items.push(item as TradeItem | QuoteItem);
		this.out.records++;
		if (g.items.length >= this.perMessage) this.flush(k);
	}

	private flush(k: string): void {
		const g = this.groups.get(k)!;
		if (!g.items.length) return;
		const env = { v: 1, kind: g.kind, venue: g.venue, symbol: g.symbol, items: g.items } as Envelope;
		this.out.messages.push({ venue: g.venue, symbol: g.symbol, topic: g.topic, key: g.symbol, payload: encodeEnvelope(env), items: g.items.length });
		g.items = [];
	}

	/** Flush the partly filled messages; call once, after the last line. */
	finish(): ReplayParse {
		for (const k of this.groups.keys()) this.flush(k);
		this.groups.clear();
		return this.out;
	}
}

export function parseReplay(text: string, perMessage = 100): ReplayParse {
	const b = new ReplayBuilder(perMessage);
	const lines = text.split(/\r?\n/);
	for (let i = 0; i < lines.length; i++) b.add(lines[i], i + 1);
	return b.finish();
}
