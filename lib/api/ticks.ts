import type { Pool } from "pg";
import { encodeCursor, type TickQuery } from "./params";

/** Read trades and quotes oldest first, with a keyset cursor over the primary key (time, id). */

const ISO_US = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;
const SIDE: Record<string, string> = { b: "buy", s: "sell" };

export interface Page<T> {
	items: T[];
	nextCursor: string | null;
}

export async function queryTrades(pool: Pool, q: TickQuery): Promise<Page<Record<string, unknown>>> {
	const args: unknown[] = [q.venue, q.symbol, q.from.toISOString(), q.to.toISOString(), q.limit + 1];
	let after = "";
	if (q.cursor) {
		args.push(q.cursor.time, q.cursor.id);
		after = "AND (time, trade_id) > ($6::timestamptz, $7::bigint)";
	}
	const { rows } = await pool.query(
		`SELECT to_char(time AT TIME ZONE 'UTC', ${ISO_US}) AS time, trade_id::text AS trade_id, price::text, qty::text, side,
		        to_char(recv_time AT TIME ZONE 'UTC', ${ISO_US}) AS recv_time
		   FROM trades
		  WHERE venue = $1 AND symbol = $2 AND time >= $3 AND time < $4 ${after}
		  ORDER BY time, trade_id
		  LIMIT $5`,
		args,
	);
	const more = rows.length > q.limit;
	const items = rows.slice(0, q.limit).map((r) => ({
		time: r.time,
		tradeId: r.trade_id,
		price: r.price,
		qty: r.qty,
		side: r.side ? SIDE[r.side.trim()] ?? null : null,
		recvTime: r.recv_time,
	}));
	const last = items[items.length - 1];
	return { items, nextCursor: more && last ? encodeCursor(last.time, last.tradeId) : null };
}

export async function queryQuotes(pool: Pool, q: TickQuery): Promise<Page<Record<string, unknown>>> {
	const args: unknown[] = [q.venue, q.symbol, q.from.toISOString(), q.to.toISOString(), q.limit + 1];
	let after = "";
	if (q.cursor) {
		args.push(q.cursor.time, q.cursor.id);
		after = "AND (time, seq) > ($6::timestamptz, $7::bigint)";
	}
	const { rows } = await pool.query(
		`SELECT to_char(time AT TIME ZONE 'UTC', ${ISO_US}) AS time, seq::text AS seq, bid::text, ask::text,
		        bid_qty::text, ask_qty::text, to_char(recv_time AT TIME ZONE 'UTC', ${ISO_US}) AS recv_time
		   FROM quotes
		  WHERE venue = $1 AND symbol = $2 AND time >= $3 AND time < $4 ${after}
		  ORDER BY time, seq
		  LIMIT $5`,
		args,
	);
	const more = rows.length > q.limit;
	const items = rows.slice(0, q.limit).map((r) => ({
		time: r.time,
		seq: r.seq,
		bid: r.bid,
		ask: r.ask,
		bidQty: r.bid_qty,
		askQty: r.ask_qty,
		recvTime: r.recv_time,
	}));
	const last = items[items.length - 1];
	return { items, nextCursor: more && last ? encodeCursor(last.time, last.seq) : null };
}
