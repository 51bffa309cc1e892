import type { PoolClient } from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import type { Quote, Trade } from "../domain/types";

/**
 * COPY text-format rows. Every field was validated by the codec (names, decimals, ISO times, integer
 * ids), so none can hold a tab, newline or backslash and no escaping is needed.
 */
export const TRADE_COLUMNS = ["venue", "symbol", "time", "trade_id", "price", "qty", "side", "recv_time"] as const;
export const QUOTE_COLUMNS = ["venue", "symbol", "time", "seq", "bid", "ask", "bid_qty", "ask_qty", "recv_time"] as const;

const SIDE: Record<string, string> = { buy: "b", sell: "s" };

export function tradeRows(trades: readonly Trade[]): string[] {
	const out = new Array<string>(trades.length);
	for (let i = 0; i < trades.length; i++) {
		const t = trades[i];
		out[i] = `${t.venue}\t${t.symbol}\t${t.time}\t${t.tradeId}\t${t.price}\t${t.qty}\t${t.side ? SIDE[t.side] : "\\N"}\t${t.recvTime}\n`;
	}
	return out;
}

export function quoteRows(quotes: readonly Quote[]): string[] {
	const out = new Array<string>(quotes.length);
	for (let i = 0; i < quotes.length; i++) {
		const q = quotes[i];
		out[i] = `${q.venue}\t${q.symbol}\t${q.time}\t${q.seq}\t${q.bid}\t${q.ask}\t${q.bidQty ?? "\\N"}\t${q.askQty ?? "\\N"}\t${q.recvTime}\n`;
	}
	return out;
}

/** Stream COPY text (rows, or blocks of rows, each ending in a newline) into `table`, in chunks of ~1 MiB. Returns the row count. */
export async function copyInto(client: PoolClient, table: string, columns: readonly string[], rows: readonly string[]): Promise<number> {
	const stream = client.query(copyFrom(`COPY ${table} (${columns.join(", ")}) FROM STDIN`));
	function* chunks() {
		let buf: string[] = [];
		let size = 0;
		for (const r of rows) {
			buf.push(r);
			size += r.length;
			if (size >= 1 << 20) {
				yield buf.join("");
				buf = [];
				size = 0;
			}
		}
		if (buf.length) yield buf.join("");
	}
	await pipeline(Readable.from(chunks(), { objectMode: false }), stream);
	return stream.rowCount;
}
