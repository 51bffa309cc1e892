import type { PoolClient } from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";

/** Column order of the COPY text that lib/domain/codec's decodeWire produces (after venue and symbol, the wire line's order). */
export const TRADE_COLUMNS = ["venue", "symbol", "time", "trade_id", "price", "qty", "side", "recv_time"] as const;
export const QUOTE_COLUMNS = ["venue", "symbol", "time", "seq", "bid", "ask", "bid_qty", "ask_qty", "recv_time"] as const;

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
