/**
 * Normalized market-data records. Prices and sizes are exact decimal strings ("42000.10"),
 * never JS numbers. Times are ISO-8601 UTC strings kept at the venue's precision (µs for Kraken),
 * so nothing is rounded through a Date on the way to PostgreSQL.
 */
/** Market kinds; each has a trading calendar (lib/backfill/market-hours.ts). */
export type AssetClass = "crypto" | "fx" | "metal" | "index" | "equity" | "commodity";
export type Side = "buy" | "sell";
export type PriceType = "trade" | "bid" | "ask" | "mid";

export interface Trade {
	venue: string; // "kraken"
	symbol: string; // canonical "BTC-USD-SPOT"
	tradeId: string; // venue trade id, a non-negative integer rendered as a string
	side: Side | null;
	price: string;
	qty: string;
	time: string; // venue event time, ISO-8601 UTC
	recvTime: string; // our receive time, ISO-8601 UTC
}

export interface Quote {
	venue: string;
	symbol: string;
	time: string; // venue event time
	seq: string; // per-source sequence that makes (venue, symbol, time, seq) unique, integer string
	bid: string;
	ask: string;
	bidQty: string | null;
	askQty: string | null;
	recvTime: string;
}

/** Something that is not a tick but that consumers must see in order: a disconnect, a book reset. */
export interface Marker {
	venue: string;
	symbol: string;
	type: "disconnect" | "reconnect" | "book-reset" | "gap";
	time: string;
	detail?: Record<string, unknown>;
}

export type TickKind = "trade" | "quote" | "marker";

export type TradeItem = Omit<Trade, "venue" | "symbol">;
export type QuoteItem = Omit<Quote, "venue" | "symbol">;
export type MarkerItem = Omit<Marker, "venue" | "symbol">;

/**
 * One log message: a batch of records of one kind for one venue and symbol (the message key is the
 * canonical symbol). Venue and symbol are carried once per message, not per item.
 */
export type Envelope =
	| { v: 1; kind: "trade"; venue: string; symbol: string; items: TradeItem[] }
	| { v: 1; kind: "quote"; venue: string; symbol: string; items: QuoteItem[] }
	| { v: 1; kind: "marker"; venue: string; symbol: string; items: MarkerItem[] };

export interface Candle {
	time: string; // bucket start, ISO-8601 UTC
	open: string;
	high: string;
	low: string;
	close: string;
	volume: string;
	trades: number;
	/** Present (true) when the candle was filled from venue candles for a feed gap, not only from ticks. */
	repaired?: boolean;
}
