import { marketTopic } from "../../domain/topics";
import type { L2Book } from "./book";
import { canonicalSymbol, wsSymbol } from "./symbols";

export const VENUE = "kraken";

/** A disconnect gap, from the drop until the first trade frame after the reconnect. */
export interface PendingGap {
	ledgerIds: Promise<Record<string, string | null>>;
	fromMs: number;
	toMs: number | null;
	afterId: bigint | null;
	/** Kraken's time of the trade `afterId` (ms): REST pages by Kraken's clock, the frame times are ours. */
	afterMs: number | null;
}

/** The first trade id the socket delivered after a disconnect gap that has no end id; `settled` once its repair published or ended. */
export interface LiveBound {
	firstId: bigint | null;
	settled: boolean;
}

export interface TradeOverflow {
	/** Last trade id handed to the publisher before the run. */
	afterId: bigint | null;
	fromTime: string;
	lastId: bigint;
	lastTime: string;
	n: number;
}

/** Everything a KrakenStream keeps about one subscribed pair. */
export interface SymState {
	ws: string;
	symbol: string;
	topics: { trades: string; ticker: string; book: string };
	book: L2Book | null;
	bookRequested: boolean;
	resubscribing: boolean;
	mismatchRun: number;
	lastTradeId: bigint | null;
	lastTradeTime: string | null;
	/** Set from a disconnect until the first trade frame after the reconnect (its ids are not fetched again). */
	pending: PendingGap | null;
	/**
	 * Disconnect gaps closed without an end id (an empty reconnect snapshot) that wait for the first id the socket
	 * delivers afterwards, which bounds what REST repair may publish for them.
	 */
	liveAfterGap: LiveBound[];
	/** Runs of items the publisher refused (log away, buffers full), per channel; ended by the next one accepted. */
	overflow: { trade: TradeOverflow | null; ticker: Promise<string | null> | null; book: boolean };
	stats: { trades: number; quotes: number; quotesRepeated: number; bookMessages: number; checksumOk: number; checksumMismatch: number; bookResubscribes: number; gaps: number };
}

/** The state of a pair (v2 or standard name) before anything was received for it. */
export function newSymState(s: string): SymState {
	const ws = wsSymbol(s);
	return {
		ws,
		symbol: canonicalSymbol(ws),
		topics: { trades: marketTopic("crypto", VENUE, ws, "trades"), ticker: marketTopic("crypto", VENUE, ws, "ticker"), book: marketTopic("crypto", VENUE, ws, "book") },
		book: null,
		bookRequested: false,
		resubscribing: false,
		mismatchRun: 0,
		lastTradeId: null,
		lastTradeTime: null,
		pending: null,
		liveAfterGap: [],
		overflow: { trade: null, ticker: null, book: false },
		stats: { trades: 0, quotes: 0, quotesRepeated: 0, bookMessages: 0, checksumOk: 0, checksumMismatch: 0, bookResubscribes: 0, gaps: 0 },
	};
}
