import type { Pool } from "pg";
import { encodeCursor, type TickQuery } from "./params";

/** Read trades and quotes oldest first, with a keyset cursor over the primary key (time, id). */

const ISO_US = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;
const SIDE: Record<string, string> = { b: "buy", s: "sell" };

export interface Page<T> {
	items: T[];
	nextCursor: string | null;
}

interface TickTable {
	table: "trades" | "quotes";
	/** Second key column after time; it names the cursor's id. */
	idColumn: "trade_id" | "seq";
	/** Columns besides time, id and recv_time, as text. */
	columns: string;
	toItem(r: Record<string, string>): Record<string, unknown>;
}

const TRADES: TickTable = {
	table: "trades",
	idColumn: "trade_id",
	columns: "price::text, qty::text, side",
	toItem: (r) => ({ time: r.time, tradeId: r.id, price: r.price, qty: r.qty, side: r.side ? SIDE[r.side.trim()] ?? null : null, recvTime: r.recv_time }),
};

const QUOTES: TickTable = {
	table: "quotes",
	idColumn: "seq",
	columns: "bid::text, ask::text, bid_qty::text, ask_qty::text",
	toItem: (r) => ({ time: r.time, seq: r.id, bid: r.bid, ask: r.ask, bidQty: r.bid_qty, askQty: r.ask_qty, recvTime: r.recv_time }),
};

async function queryTicks(pool: Pool, t: TickTable, q: TickQuery): Promise<Page<Record<string, unknown>>> {
	const args: unknown[] = [q.venue, q.symbol, q.from.toISOString(), q.to.toISOString(), q.limit + 1];
	let after = "";
	if (q.cursor) {
		args.push(q.cursor.time, q.cursor.id);
		after = `AND (time, ${t.idColumn}) > ($6::timestamptz, $7::bigint)`;
	}
	const { rows } = await pool.query(
		`SELECT to_char(time AT TIME ZONE 'UTC', ${ISO_US}) AS time, ${t.idColumn}::text AS id, ${t.columns},
		        to_char(recv_time AT TIME ZONE 'UTC', ${ISO_US}) AS recv_time
		   FROM ${t.table}
		  WHERE venue = $1 AND symbol = $2 AND time >= $3 AND time < $4 ${after}
		  ORDER BY time, ${t.idColumn}
		  LIMIT $5`,
		args,
	);
	const page = rows.slice(0, q.limit);
	const last = page[page.length - 1];
	return { items: page.map(t.toItem), nextCursor: rows.length > q.limit && last ? encodeCursor(last.time, last.id) : null };
}

export function queryTrades(pool: Pool, q: TickQuery): Promise<Page<Record<string, unknown>>> {
	return queryTicks(pool, TRADES, q);
}

export function queryQuotes(pool: Pool, q: TickQuery): Promise<Page<Record<string, unknown>>> {
	return queryTicks(pool, QUOTES, q);
}
