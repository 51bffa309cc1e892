import { fastIsoMs } from "../domain/codec";
import type { TradeItem } from "../domain/types";
import type { Queryable } from "./migrate";

/**
 * The trade ids of `trades` already stored for venue+symbol. The trades key includes the time, and one trade
 * comes with a different time by each path (Kraken REST: seconds with ~4 decimals; WebSocket v2: µs), so only
 * the id says whether it is stored. One query, bounded by the trades' time span (±1 s for the precision
 * difference) so it reads a small stretch of the primary key.
 */
export async function storedTradeIds(db: Queryable, venue: string, symbol: string, trades: readonly TradeItem[]): Promise<Set<string>> {
	if (!trades.length) return new Set();
	let lo = Infinity;
	let hi = -Infinity;
	for (const t of trades) {
		const ms = fastIsoMs(t.time);
		if (ms < lo) lo = ms;
		if (ms > hi) hi = ms;
	}
	if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new Error(`storedTradeIds: a trade time of ${venue} ${symbol} is not an ISO timestamp`);
	const r = await db.query<{ id: string }>(
		`SELECT trade_id::text AS id FROM trades
		  WHERE venue = $1 AND symbol = $2 AND time BETWEEN $3::timestamptz - interval '1 second' AND $4::timestamptz + interval '1 second'
		    AND trade_id = ANY($5::bigint[])`,
		[venue, symbol, new Date(lo), new Date(hi), trades.map((t) => t.tradeId)],
	);
	return new Set(r.rows.map((x) => x.id));
}

/** `trades` without those whose id is already stored: what is left to publish, and how many were dropped. */
export async function withoutStoredTrades(db: Queryable, venue: string, symbol: string, trades: TradeItem[]): Promise<{ fresh: TradeItem[]; stored: number }> {
	const known = await storedTradeIds(db, venue, symbol, trades);
	if (!known.size) return { fresh: trades, stored: 0 };
	const fresh = trades.filter((t) => !known.has(t.tradeId));
	return { fresh, stored: trades.length - fresh.length };
}
