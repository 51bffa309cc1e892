import type { CopyLines } from "../../lib/domain/codec";
import { binaryRows, QUOTE_FIELDS, TRADE_FIELDS, wireRows, type TickKind } from "../../lib/writer/copy-binary";

/**
 * The binary COPY rows of verbatim wire lines of one kind, as the tick-writer encodes them, and
 * the pieces that stay text: for specs and for the benches' raw binary COPY baseline.
 */
export function wireBinaryCopy(pieces: readonly CopyLines[], kind: TickKind, chunkBytes?: number): { chunks: Buffer[]; rows: number; text: CopyLines[] } {
	const r = binaryRows(
		pieces.map((p) => wireRows(p, kind)),
		kind === "trade" ? TRADE_FIELDS : QUOTE_FIELDS,
		chunkBytes,
	);
	return { chunks: r.chunks, rows: r.rows, text: r.failed.map((i) => pieces[i]) };
}
