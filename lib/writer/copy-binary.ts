import type { CopyLines } from "../domain/codec";
import { digitsAt as digitsAtImport, HourCache, isoSecondMsAt as isoSecondMsAtImport } from "../domain/wire-bytes";

// Bound once: under tsx (how the services run) every use of a named import is a getter call, per field here.
const digitsAt = digitsAtImport;
const isoSecondMsAt = isoSecondMsAtImport;

/**
 * COPY's binary format for text COPY rows (binaryRows: the tick-writer's verbatim wire lines, laid out as
 * TRADE_FIELDS or QUOTE_FIELDS) and the field writers of scanners that write binary rows themselves (the
 * Binance kline page): the same rows as the COPY text, but PostgreSQL receives timestamps as microseconds,
 * numerics as base-10000 digits and bigints as 8 bytes instead of parsing text (timestamptz_in and numeric_in
 * are most of a text COPY's CPU: binary COPY of the same 722,560 quotes measured 1.2-1.4 s of PostgreSQL CPU
 * against 1.7-2.0 s for text).
 *
 * Only the common form is encoded: times "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z" between 1990 and 2099, ids of up
 * to 18 digits, decimals (0|[1-9]\d*)(\.\d+)? of up to 64 characters, sides b and s. A piece with any
 * other row (an offset in a time, say) stays COPY text as a whole, so every row reaches the table
 * exactly as PostgreSQL would have read it from the text: a fraction beyond microseconds is rounded as
 * timestamptz_in rounds it (the double nearest the fraction, times 10^6, rounded half to even), and a
 * numeric keeps its written scale (dscale), trailing zeros included. Should PostgreSQL still refuse the
 * bytes, the callers fall back to text (lib/writer/copy.ts copyEncoded) or the upsert (klines).
 */

const CHUNK_BYTES = 1 << 20;
/** PGCOPY\n\377\r\n\0, flags (int32 0), header extension length (int32 0). */
export const BINARY_COPY_HEADER = Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]);
/** The end of binary COPY data: a field count of -1. */
export const BINARY_COPY_TRAILER = Buffer.from([0xff, 0xff]);
const PG_EPOCH_MS = Date.UTC(2000, 0, 1);
const TWO32 = 4294967296;
const POW10 = [1, 10, 100, 1000, 10000, 100000, 1000000];
/** The most a decimal field takes: length, 4 int16 header words, at most 17 base-10000 digits (64 characters). */
export const DECIMAL_MAX = 4 + 8 + 2 * 17;

export type TickKind = "trade" | "quote";

/** rint(): to the nearest integer, a tie to the even one (PostgreSQL's rounding of a fraction of a second). */
function rint(x: number): number {
	const r = Math.round(x);
	return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The microseconds of the fraction of the time [s, e) in the common form whose whole second isoSecondMsAt read, as
 * timestamptz_in rounds it (up to 1,000,000: a fraction rounded into the next second).
 */
export function fractionUs(b: Uint8Array, s: number, e: number): number {
	const f = e - s - 21;
	if (f <= 0) return 0;
	return f <= 6 ? digitsAt(b, s + 20, f) * POW10[6 - f] : rint(Number(Buffer.from(b.buffer, b.byteOffset + s + 19, f + 1).toString("latin1")) * 1e6);
}

/** Microseconds since 2000-01-01 UTC of the time [s, e), NaN outside the common form. */
function timeUs(b: Uint8Array, s: number, e: number, hour: HourCache): number {
	const sec = isoSecondMsAt(b, s, e, hour);
	if (Number.isNaN(sec)) return NaN;
	return (sec - PG_EPOCH_MS) * 1000 + fractionUs(b, s, e);
}

/** A timestamptz field of a whole second (epoch ms) plus `us` microseconds into `out` at `at` (12 bytes); returns the end. */
export function writeSecondUs(secondMs: number, us: number, out: Uint8Array, at: number): number {
	putLength(out, at, 8);
	putInt64(out, at + 4, (secondMs - PG_EPOCH_MS) * 1000 + us);
	return at + 12;
}

/** A signed integer below 2^53 in magnitude as int64 (big-endian) into `out` at `at`. */
function putInt64(out: Uint8Array, at: number, v: number): void {
	const hi = Math.floor(v / TWO32);
	const lo = v - hi * TWO32;
	out[at] = hi >>> 24;
	out[at + 1] = hi >>> 16;
	out[at + 2] = hi >>> 8;
	out[at + 3] = hi;
	out[at + 4] = lo >>> 24;
	out[at + 5] = lo >>> 16;
	out[at + 6] = lo >>> 8;
	out[at + 7] = lo;
}

function putLength(out: Uint8Array, at: number, len: number): void {
	out[at] = len >>> 24;
	out[at + 1] = len >>> 16;
	out[at + 2] = len >>> 8;
	out[at + 3] = len;
}

/** A timestamptz field of epoch ms (a whole number) into `out` at `at` (12 bytes); returns the end. */
export function writeTimestampMs(ms: number, out: Uint8Array, at: number): number {
	putLength(out, at, 8);
	putInt64(out, at + 4, (ms - PG_EPOCH_MS) * 1000);
	return at + 12;
}

/** A bigint field of a safe integer into `out` at `at` (12 bytes); returns the end. */
export function writeInt8(v: number, out: Uint8Array, at: number): number {
	putLength(out, at, 8);
	putInt64(out, at + 4, v);
	return at + 12;
}

export function writeTime(b: Uint8Array, s: number, e: number, hour: HourCache, out: Uint8Array, at: number): number {
	const us = timeUs(b, s, e, hour);
	if (Number.isNaN(us)) return -1;
	putLength(out, at, 8);
	putInt64(out, at + 4, us);
	return at + 12;
}

/** "0" or 1-18 digits without a leading zero, as bigint. */
export function writeId(b: Uint8Array, s: number, e: number, out: Uint8Array, at: number): number {
	const n = e - s;
	if (n < 1 || n > 18 || (n > 1 && b[s] === 48)) return -1;
	putLength(out, at, 8);
	if (n <= 15) {
		const v = digitsAt(b, s, n);
		if (v < 0) return -1;
		putInt64(out, at + 4, v);
	} else {
		if (digitsAt(b, s, n) < 0) return -1;
		const v = BigInt(Buffer.from(b.buffer, b.byteOffset + s, n).toString("latin1"));
		Buffer.from(out.buffer, out.byteOffset, out.byteLength).writeBigInt64BE(v, at + 4);
	}
	return at + 12;
}

const GROUPS = new Int32Array(20);

/**
 * A non-negative decimal (0|[1-9]\d*)(\.\d+)? as numeric: base-10000 digits aligned on the decimal point,
 * leading and trailing zero digits dropped (as PostgreSQL stores them), the weight of the first digit and
 * the written scale.
 */
export function writeDecimal(b: Uint8Array, s: number, e: number, out: Uint8Array, at: number): number {
	const n = e - s;
	if (n < 1 || n > 64) return -1;
	let i = s;
	let g = 0;
	if (b[s] === 48) i++; // "0": no integer digits
	else {
		let iv = 0;
		for (; i < e; i++) {
			const c = b[i] - 48;
			if (c < 0 || c > 9) break;
			iv = iv * 10 + c;
		}
		const intLen = i - s;
		if (intLen === 0) return -1;
		g = (intLen + 3) >> 2;
		if (intLen <= 15) {
			for (let k = g - 1; k >= 0; k--) {
				GROUPS[k] = iv % 10000;
				iv = Math.floor(iv / 10000);
			}
		} else {
			// the first group holds the leftover digits
			for (let k = 0, j = s; k < g; k++) {
				const take = k === 0 ? intLen - (g - 1) * 4 : 4;
				GROUPS[k] = digitsAt(b, j, take);
				j += take;
			}
		}
	}
	let weight = g - 1;
	let fracLen = 0;
	if (i < e) {
		if (b[i] !== 46 /* . */ || i + 1 === e) return -1;
		i++;
		fracLen = e - i;
		while (i < e) {
			let v = 0;
			let k = 0;
			for (; k < 4 && i < e; k++, i++) {
				const c = b[i] - 48;
				if (c < 0 || c > 9) return -1;
				v = v * 10 + c;
			}
			GROUPS[g++] = v * POW10[4 - k]; // the last group padded with zeros on the right
		}
	}
	let first = 0;
	while (first < g && GROUPS[first] === 0) {
		first++;
		weight--;
	}
	let last = g;
	while (last > first && GROUPS[last - 1] === 0) last--;
	const nd = last - first;
	if (nd === 0) weight = 0;
	putLength(out, at, 8 + 2 * nd);
	at += 4;
	out[at++] = nd >>> 8;
	out[at++] = nd;
	out[at++] = (weight >>> 8) & 0xff;
	out[at++] = weight & 0xff;
	out[at++] = 0; // sign: positive
	out[at++] = 0;
	out[at++] = fracLen >>> 8;
	out[at++] = fracLen;
	for (let k = first; k < last; k++) {
		out[at++] = GROUPS[k] >>> 8;
		out[at++] = GROUPS[k];
	}
	return at;
}

/** A char(1) side field, "b" or "s" (its char code), into `out` at `at` (5 bytes); returns the end, -1 for another side. */
export function writeSide(side: number, out: Uint8Array, at: number): number {
	if (side !== 98 /* b */ && side !== 115 /* s */) return -1;
	putLength(out, at, 1);
	out[at + 4] = side;
	return at + 5;
}

/** The end of the field at `from`: the next tab or newline before `e`, or `e`. */
function fieldEnd(b: Uint8Array, from: number, e: number): number {
	for (let i = from; i < e; i++) {
		const c = b[i];
		if (c === 9 || c === 10) return i;
	}
	return e;
}

/** Where the last row that writeRow read ended (its newline, or the body's end). */
let rowEnd = 0;

/** A field of a text COPY row as binary COPY writes it. */
export enum Field {
	/** timestamptz from "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z" */
	Time,
	/** bigint from "0" or 1-18 digits */
	Int8,
	/** numeric from (0|[1-9]\d*)(\.\d+)? */
	Numeric,
	/** char(1) "b" or "s" */
	Side,
}

export const TRADE_FIELDS: readonly Field[] = [Field.Time, Field.Int8, Field.Numeric, Field.Numeric, Field.Side, Field.Time];
export const QUOTE_FIELDS: readonly Field[] = [Field.Time, Field.Int8, Field.Numeric, Field.Numeric, Field.Numeric, Field.Numeric, Field.Time];

/**
 * The row at `s` (the body ends at `e`), its fields as `fields` says, after the row's head; returns the end in
 * `out`, or -1 when a field is not in the common form or fields are missing or extra. Sets rowEnd.
 */
function writeRow(b: Uint8Array, s: number, e: number, fields: readonly Field[], hours: HourCache[], out: Uint8Array, at: number): number {
	let fs = s;
	const last = fields.length - 1;
	for (let k = 0; k <= last; k++) {
		const fe = fieldEnd(b, fs, e);
		if (k < last ? b[fe] !== 9 || fe === e : fe < e && b[fe] !== 10) return -1;
		switch (fields[k]) {
			case Field.Time:
				at = writeTime(b, fs, fe, hours[k], out, at);
				break;
			case Field.Int8:
				at = writeId(b, fs, fe, out, at);
				break;
			case Field.Numeric:
				at = writeDecimal(b, fs, fe, out, at);
				break;
			case Field.Side:
				at = fe === fs + 1 ? writeSide(b[fs], out, at) : -1;
				break;
		}
		if (at < 0) return -1;
		fs = fe + 1;
	}
	rowEnd = fs - 1;
	return at;
}

/** The most one row's fields take in binary COPY. */
function rowMaxBytes(fields: readonly Field[]): number {
	let n = 0;
	for (const f of fields) n += f === Field.Numeric ? DECIMAL_MAX : f === Field.Side ? 5 : 12;
	return n;
}

/** The binary head of rows whose first fields are these texts: the row's field count, then each text (length, bytes). */
export function binaryRowHead(texts: readonly Uint8Array[], fieldCount: number): Buffer {
	const head = Buffer.allocUnsafe(2 + texts.reduce((n, t) => n + 4 + t.byteLength, 0));
	head.writeInt16BE(fieldCount, 0);
	let at = 2;
	for (const t of texts) {
		head.writeInt32BE(t.byteLength, at);
		head.set(t, at + 4);
		at += 4 + t.byteLength;
	}
	return head;
}

/**
 * Text COPY rows to encode: the rows in [start, end) of `bytes`, newline-separated, each holding the fields of a
 * layout; `head` (binaryRowHead) holds the fields every row shares before them.
 */
export interface TextRows {
	bytes: Uint8Array;
	start: number;
	end: number;
	head: Buffer;
}

/** The binary COPY rows of several pieces of text rows, and the indexes of the pieces that must stay text. */
export interface BinaryRows {
	/** The rows (no header or trailer: lib/writer/copy.ts copyBinaryInto frames them), none when no piece could be encoded. */
	chunks: Buffer[];
	rows: number;
	/** Pieces with a row outside the common form, in their order. */
	failed: number[];
}

/**
 * Binary COPY rows of `pieces` (laid out as `fields`, after each piece's head) in chunks of ~1 MiB. A piece
 * with a row outside the common form is left out as a whole (its index in `failed`); the chunks hold the others' rows.
 */
export function binaryRows(pieces: readonly TextRows[], fields: readonly Field[], chunkBytes = CHUNK_BYTES): BinaryRows {
	const chunks: Buffer[] = [];
	const failed: number[] = [];
	const hours = fields.map(() => new HourCache());
	const fieldsMax = rowMaxBytes(fields);
	let buf = Buffer.allocUnsafe(chunkBytes);
	let n = 0;
	let rows = 0;
	for (let i = 0; i < pieces.length; i++) {
		const { bytes: src, start, end, head } = pieces[i];
		const rowMax = head.length + fieldsMax;
		// where this piece starts, to take it back if a row of it does not encode
		const markChunks = chunks.length, markBuf = buf, markN = n, markRows = rows;
		let ok = true;
		for (let pos = start; pos < end; ) {
			if (buf.length - n < rowMax) {
				if (n) chunks.push(buf.subarray(0, n));
				buf = Buffer.allocUnsafe(Math.max(chunkBytes, rowMax));
				n = 0;
			}
			for (let k = 0; k < head.length; k++) buf[n++] = head[k];
			const at = writeRow(src, pos, end, fields, hours, buf, n);
			if (at < 0) {
				ok = false;
				break;
			}
			n = at;
			rows++;
			pos = rowEnd + 1;
		}
		if (!ok) {
			chunks.length = markChunks;
			buf = markBuf;
			n = markN;
			rows = markRows;
			failed.push(i);
		}
	}
	if (n) chunks.push(buf.subarray(0, n));
	return { chunks, rows, failed };
}

/** A wire message's verbatim lines as text rows to encode: venue and symbol (from its "venue\tsymbol\t") in the head. */
export function wireRows(l: CopyLines, kind: TickKind): TextRows {
	const p = Buffer.from(l.prefix.buffer, l.prefix.byteOffset, l.prefix.byteLength);
	const tab = p.indexOf(9);
	const head = binaryRowHead([p.subarray(0, tab), p.subarray(tab + 1, p.length - 1)], kind === "trade" ? 8 : 9);
	return { bytes: l.bytes, start: l.start, end: l.end, head };
}
