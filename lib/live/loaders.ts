import type { Pool } from "pg";
import { getCandles } from "../candles/query";
import { queryQuotes, queryTrades } from "../api/ticks";
import type { LiveLoaders, TickItem } from "./hub";

/** The hub's reads, from PostgreSQL, through the same code as /api/candles, /api/trades and /api/quotes. */
export function pgLiveLoaders(pool: Pool): LiveLoaders {
	return {
		candles: (k, fromMs, toMs) =>
			getCandles(pool, { venue: k.venue, symbol: k.symbol, timeframe: k.timeframe, price: k.price, from: new Date(fromMs), to: new Date(toMs), fill: "none" }),
		async ticks(kind, venue, symbol, fromMs, toMs, limit) {
			const q = { venue, symbol, from: new Date(fromMs), to: new Date(toMs), limit, cursor: null };
			const page = kind === "trades" ? await queryTrades(pool, q) : await queryQuotes(pool, q);
			return page.items as TickItem[];
		},
	};
}
