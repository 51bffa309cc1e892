import type { AssetClass } from "./types";

/**
 * Topic names follow the seeds: market-data/{crypto|fx}/{raw|historical}/{venue}/{symbol}/{channel}.
 * The symbol segment is the venue symbol lower-cased with separators removed ("BTC/USD" -> "btcusd").
 */
export type Channel = "trades" | "ticker" | "quotes" | "book";
export type Stream = "raw" | "historical";

export function topicSymbol(symbol: string): string {
	return symbol.toLowerCase().replace(/[^a-z0-9]/g, "");
}

export function marketTopic(asset: AssetClass, venue: string, symbol: string, channel: Channel, stream: Stream = "raw"): string {
	return `market-data/${asset}/${stream}/${venue.toLowerCase()}/${topicSymbol(symbol)}/${channel}`;
}

/**
 * Topic patterns: '*' matches exactly one segment, '>' (last segment only) matches one or more.
 * The same syntax maps 1:1 onto NATS subjects.
 */
export function topicMatches(pattern: string, topic: string): boolean {
	const p = pattern.split("/");
	const t = topic.split("/");
	for (let i = 0; i < p.length; i++) {
		if (p[i] === ">") return i === p.length - 1 && t.length > i;
		if (i >= t.length) return false;
		if (p[i] !== "*" && p[i] !== t[i]) return false;
	}
	return p.length === t.length;
}

/** Everything the tick-writer stores: trades from crypto venues, quotes/tickers from all, live and historical. */
export const TICK_TOPIC_PATTERNS = ["market-data/*/*/*/*/trades", "market-data/*/*/*/*/quotes", "market-data/*/*/*/*/ticker"];
