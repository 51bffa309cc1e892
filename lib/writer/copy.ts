import type { PoolClient } from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import type { CopyLines } from "../domain/codec";
import { BINARY_COPY_HEADER, BINARY_COPY_TRAILER, binaryRows, QUOTE_FIELDS, TRADE_FIELDS, wireRows, type BinaryRows, type Field, type TextRows, type TickKind } from "./copy-binary";

/** Column order of the COPY text that lib/domain/codec's decodeWire produces (after venue and symbol, the wire line's order). */
export const TRADE_COLUMNS = ["venue", "symbol", "time", "trade_id", "price", "qty", "side", "recv_time"] as const;
export const QUOTE_COLUMNS = ["venue", "symbol", "time", "seq", "bid", "ask", "bid_qty", "ask_qty", "recv_time"] as const;

/** What copyInto streams: COPY text (rows, or blocks of rows, each ending in a newline) as a string or UTF-8 bytes, or a message's verbatim lines. */
export type CopyPiece = string | Uint8Array | CopyLines;

const CHUNK_BYTES = 1 << 20;

/**
 * The COPY text of `pieces` in chunks of ~1 MiB, each ending at a row's end. A CopyLines piece is
 * copied byte for byte from its payload (prefix, line, newline per row), with no string per row. Each
 * chunk is a fresh buffer: the socket may still hold the previous one after the COPY stream took it.
 * A byte piece of at least 1/16 of a chunk (whole rows, which its owner no longer changes) is passed on
 * as it is, after the chunk before it: copying it would only add a buffer for the collector.
 */
export function* copyChunks(pieces: readonly CopyPiece[], chunkBytes = CHUNK_BYTES): Generator<Buffer> {
	let buf = Buffer.allocUnsafe(0); // a chunk is allocated when the first row needs room
	let n = 0;
	for (const p of pieces) {
		if (p instanceof Uint8Array && p.byteLength >= chunkBytes / 16) {
			if (n) {
				yield buf.subarray(0, n);
				buf = Buffer.allocUnsafe(0);
				n = 0;
			}
			yield Buffer.isBuffer(p) ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength);
			continue;
		}
		if (typeof p === "string" || p instanceof Uint8Array) {
			const bytes = typeof p === "string" ? Buffer.byteLength(p) : p.byteLength;
			if (buf.length - n < bytes) {
				if (n) yield buf.subarray(0, n);
				buf = Buffer.allocUnsafe(Math.max(chunkBytes, bytes));
				n = 0;
			}
			if (typeof p === "string") n += buf.write(p, n, "utf8");
			else {
				buf.set(p, n);
				n += p.byteLength;
			}
			continue;
		}
		const src = Buffer.from(p.bytes.buffer, p.bytes.byteOffset, p.bytes.byteLength);
		const prefix = Buffer.from(p.prefix.buffer, p.prefix.byteOffset, p.prefix.byteLength);
		const plen = prefix.length;
		for (let pos = p.start; pos < p.end; ) {
			let eol = src.indexOf(10, pos);
			if (eol < 0 || eol >= p.end) eol = p.end;
			const need = plen + (eol - pos) + 1;
			if (buf.length - n < need) {
				if (n) yield buf.subarray(0, n);
				buf = Buffer.allocUnsafe(Math.max(chunkBytes, need));
				n = 0;
			}
			n += prefix.copy(buf, n);
			n += src.copy(buf, n, pos, eol);
			buf[n++] = 10;
			pos = eol + 1;
		}
	}
	if (n) yield buf.subarray(0, n);
}

/** COPY `data` into `table`'s `columns` (`options` after FROM STDIN). Returns the row count. */
async function copyFromStdin(client: PoolClient, table: string, columns: readonly string[], options: string, data: Iterable<Uint8Array>): Promise<number> {
	const stream = client.query(copyFrom(`COPY ${table} (${columns.join(", ")}) FROM STDIN${options}`));
	await pipeline(Readable.from(data, { objectMode: false }), stream);
	return stream.rowCount;
}

/** Stream COPY text into `table`, in chunks of ~1 MiB. Returns the row count. */
export function copyInto(client: PoolClient, table: string, columns: readonly string[], pieces: readonly CopyPiece[]): Promise<number> {
	return copyFromStdin(client, table, columns, "", copyChunks(pieces));
}

/** COPY binary rows (lib/writer/copy-binary's format, without header or trailer) into `table`. Returns the row count. */
export function copyBinaryInto(client: PoolClient, table: string, columns: readonly string[], rows: readonly Uint8Array[]): Promise<number> {
	return copyFromStdin(client, table, columns, " (FORMAT binary)", [BINARY_COPY_HEADER, ...rows, BINARY_COPY_TRAILER]);
}

function isCopyLines(p: CopyPiece): p is CopyLines {
	return typeof p !== "string" && !(p instanceof Uint8Array);
}

/** A data exception (SQLSTATE class 22): what PostgreSQL answers to binary COPY data it cannot read. */
export function isDataException(err: unknown): boolean {
	return /^22/.test((err as { code?: string })?.code ?? "");
}

/**
 * Rows of one table, encoded ahead of their COPY (encodeRows, encodeTicks): the tick-writer encodes a batch while
 * PostgreSQL still stores the one before it, so its connection does not wait for the encoder.
 */
export interface EncodedRows {
	columns: readonly string[];
	/** Binary COPY rows of the candidates that encoded (none when no candidate did). */
	binary: Pick<BinaryRows, "chunks" | "rows">;
	/** The rows that go by text COPY: the text pieces, then the text of each candidate that did not encode. */
	text: CopyPiece[];
	/** Every row as text (the text pieces, then every candidate's), should PostgreSQL refuse the binary rows. */
	allText: CopyPiece[];
}

/**
 * Encode rows for `columns`: the candidates (text rows laid out as `fields`; lib/writer/copy-binary) as binary COPY
 * where they encode, the text pieces and the candidates that do not encode as text COPY.
 */
export function encodeRows(columns: readonly string[], fields: readonly Field[], candidates: readonly { binary: TextRows; text: CopyPiece }[], text: readonly CopyPiece[]): EncodedRows {
	const binary = binaryRows(
		candidates.map((c) => c.binary),
		fields,
	);
	return { columns, binary: { chunks: binary.chunks, rows: binary.rows }, text: [...text, ...binary.failed.map((i) => candidates[i].text)], allText: [...text, ...candidates.map((c) => c.text)] };
}

/**
 * COPY encoded rows into `table` (or a staging table like it), the binary rows first, in the caller's transaction.
 * Returns the row count.
 *
 * The binary COPY runs under a savepoint of its own: should PostgreSQL refuse the encoder's bytes (a data
 * exception, which the text of the same rows would not have caused), `onBinaryRefused` hears of it and every row
 * goes by text COPY instead, so an encoder fault costs speed, never rows. Other errors (a unique violation, a lost
 * connection) are the caller's.
 */
export async function copyEncoded(client: PoolClient, table: string, rows: EncodedRows, onBinaryRefused?: (err: Error) => void): Promise<number> {
	let rest = rows.text;
	let n = 0;
	if (rows.binary.rows) {
		await client.query("SAVEPOINT binary_copy");
		try {
			n = await copyBinaryInto(client, table, rows.columns, rows.binary.chunks);
			await client.query("RELEASE SAVEPOINT binary_copy");
		} catch (err) {
			if (!isDataException(err)) throw err;
			await client.query("ROLLBACK TO SAVEPOINT binary_copy");
			onBinaryRefused?.(err as Error);
			rest = rows.allText;
		}
	}
	if (rest.length) n += await copyInto(client, table, rows.columns, rest);
	return n;
}

/** The same rows, every one as text COPY: for COPYing again rows whose binary data PostgreSQL has refused already. */
export function textOnly(rows: EncodedRows): EncodedRows {
	return { columns: rows.columns, binary: { chunks: [], rows: 0 }, text: rows.allText, allText: rows.allText };
}

/** Rows already encoded as binary COPY rows (lib/writer/wire-binary), with their text should PostgreSQL refuse them. */
export interface PreEncoded {
	binary: Buffer;
	rows: number;
	text: CopyPiece;
}

/**
 * Trades or quotes encoded for their table (theirs, or a staging table like it): the rows encoded already and the
 * verbatim wire lines as binary COPY (in that order), everything else (rebuilt text rows, lines outside the common
 * form) as text COPY after it.
 */
export function encodeTicks(kind: TickKind, pieces: readonly CopyPiece[], encoded: readonly PreEncoded[] = []): EncodedRows {
	const candidates: { binary: TextRows; text: CopyPiece }[] = [];
	const text: CopyPiece[] = [];
	for (const p of pieces) {
		if (isCopyLines(p)) candidates.push({ binary: wireRows(p, kind), text: p });
		else text.push(p);
	}
	const r = encodeRows(kind === "trade" ? TRADE_COLUMNS : QUOTE_COLUMNS, kind === "trade" ? TRADE_FIELDS : QUOTE_FIELDS, candidates, text);
	if (!encoded.length) return r;
	const chunks = encoded.map((e) => e.binary).concat(r.binary.chunks);
	const rows = encoded.reduce((n, e) => n + e.rows, r.binary.rows);
	return { ...r, binary: { chunks, rows }, allText: encoded.map((e) => e.text).concat(r.allText) };
}
