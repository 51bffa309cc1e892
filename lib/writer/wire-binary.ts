import { decodeWireBytes, MinuteSet, v2Header, type CopyLines, type WireBatch } from "../domain/codec";
import { isEventMs as isEventMsImport } from "../domain/time";
import { fractionMs as fractionMsImport, HourCache, isoSecondMsAt as isoSecondMsAtImport, lineTabs as lineTabsImport } from "../domain/wire-bytes";
import {
	DECIMAL_MAX,
	fractionUs as fractionUsImport,
	writeDecimal as writeDecimalImport,
	writeId as writeIdImport,
	writeSecondUs as writeSecondUsImport,
	writeSide as writeSideImport,
	writeTime as writeTimeImport,
	wireRows,
} from "./copy-binary";
import { isV3 } from "../domain/wire-v3";
import { v3ForCopy } from "./wire-v3-binary";

// Bound once: under tsx (how the services run) every use of a named import is a getter call, several per line here.
const isEventMs = isEventMsImport;
const fractionMs = fractionMsImport;
const isoSecondMsAt = isoSecondMsAtImport;
const lineTabs = lineTabsImport;
const fractionUs = fractionUsImport;
const writeDecimal = writeDecimalImport;
const writeId = writeIdImport;
const writeSecondUs = writeSecondUsImport;
const writeSide = writeSideImport;
const writeTime = writeTimeImport;

/**
 * The tick-writer's decode of a message (lib/domain/codec decodeWireBytes) and its binary COPY encoding
 * (lib/writer/copy-binary binaryRows of its verbatim lines) in one pass over the bytes: a v2 message whose every
 * line is in the common form (see lineBinary) is checked and encoded line by line, instead of being read once by
 * the wire check and again by the encoder. Any other message (a line with a placeholder, an offset in a time, a
 * line the check rejects) is decoded by decodeWireBytes as before, and its rows are encoded, if at all, at COPY
 * time. The result is decodeWireBytes's, byte for byte the same rows (test/writer/wire-binary.spec.ts).
 */

/** A decoded message, with its rows already encoded as binary COPY rows when they all were in the common form. */
export interface CopyReadyBatch extends WireBatch {
	/** The rows as binary COPY rows (no header or trailer), as binaryRows(wireRows(lines)) would give them. */
	binary?: Buffer;
}

const TAB_AT = new Int32Array(8);
const TIME_HOUR = new HourCache();
const RECV_HOUR = new HourCache();
/** The event time (ms, as the wire check reads it) of the last line lineBinary encoded, and whether it has digits below the ms. */
let lineMs = NaN;
let lineSubMs = false;
/** Where lines are encoded before the message's rows are copied out (grown as needed, kept between messages). */
let scratch = Buffer.allocUnsafe(1 << 20);

/** A decimal field's digit count (its int16 after the length), 0 for zero. */
function digitCount(out: Uint8Array, at: number): number {
	return (out[at + 4] << 8) | out[at + 5];
}

/**
 * One v2 line [s, e) encoded as its binary COPY fields into `out` at `at` (after the row's head), when the wire
 * check (lib/domain/codec itemProblem) accepts it as it is: no placeholder ("-"), times in the common form, prices
 * (trades: and sizes) above zero. Returns the end and sets lineMs and lineSubMs, or -1: the line is left to
 * decodeWireBytes.
 */
function lineBinary(b: Uint8Array, s: number, e: number, isTrade: boolean, out: Uint8Array, at: number): number {
	if (!lineTabs(b, s, e, isTrade ? 6 : 7, TAB_AT)) return -1;
	const t0 = TAB_AT[0], t1 = TAB_AT[1], t2 = TAB_AT[2], t3 = TAB_AT[3], t4 = TAB_AT[4];
	// event time: ms as the wire check reads it (the fraction's first 3 digits), µs as PostgreSQL rounds it
	const sec = isoSecondMsAt(b, s, t0, TIME_HOUR);
	if (Number.isNaN(sec)) return -1;
	const ms = sec + fractionMs(b, s, t0);
	if (!isEventMs(ms)) return -1;
	at = writeSecondUs(sec, fractionUs(b, s, t0), out, at);
	at = writeId(b, t0 + 1, t1, out, at);
	if (at < 0) return -1;
	// price and qty, or bid and ask: above zero
	let d = at;
	at = writeDecimal(b, t1 + 1, t2, out, at);
	if (at < 0 || digitCount(out, d) === 0) return -1;
	d = at;
	at = writeDecimal(b, t2 + 1, t3, out, at);
	if (at < 0 || digitCount(out, d) === 0) return -1;
	let recvAt: number;
	if (isTrade) {
		at = t4 - t3 === 2 ? writeSide(b[t3 + 1], out, at) : -1;
		recvAt = t4 + 1;
	} else {
		// sizes: zero or more
		at = writeDecimal(b, t3 + 1, t4, out, at);
		if (at >= 0) at = writeDecimal(b, t4 + 1, TAB_AT[5], out, at);
		recvAt = TAB_AT[5] + 1;
	}
	if (at < 0) return -1;
	at = writeTime(b, recvAt, e, RECV_HOUR, out, at);
	if (at < 0) return -1;
	lineMs = ms;
	lineSubMs = t0 - s - 21 >= 7;
	return at;
}

/** The most one row takes: its head and the fields of the larger layout (quotes: 2 times, an id, 4 decimals). */
const FIELDS_MAX = 12 + 12 + 4 * DECIMAL_MAX + 12;

/** decodeWireBytes, with the rows also encoded for binary COPY when every line is in the common form (v3 messages: lib/writer/wire-v3-binary). Never throws. */
export function decodeWireForCopy(payload: Uint8Array): CopyReadyBatch {
	if (isV3(payload)) return v3ForCopy(payload);
	const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
	const v2 = v2Header(buf);
	if (!v2 || v2.end <= v2.start) return decodeWireBytes(payload);
	const { head, start, end } = v2;
	const isTrade = head.kind === "trade";
	const lines = { bytes: payload, start, end, prefix: Buffer.from(`${head.venue}\t${head.symbol}\t`, "latin1") };
	const rowHead = wireRows(lines, head.kind).head;
	const rowMax = rowHead.length + FIELDS_MAX;
	const mins = new MinuteSet();
	let minMs = Infinity;
	let maxMs = -Infinity;
	let rows = 0;
	let n = 0;
	for (let pos = start; pos <= end; ) {
		let eol = buf.indexOf(10, pos);
		if (eol < 0 || eol > end) eol = end;
		if (scratch.length - n < rowMax) {
			const bigger = Buffer.allocUnsafe(Math.max(scratch.length * 2, n + rowMax));
			scratch.copy(bigger, 0, 0, n);
			scratch = bigger;
		}
		rowHead.copy(scratch, n);
		const at = lineBinary(buf, pos, eol, isTrade, scratch, n + rowHead.length);
		if (at < 0) return decodeWireBytes(payload);
		n = at;
		rows++;
		mins.addMs(lineMs, lineSubMs);
		if (lineMs < minMs) minMs = lineMs;
		if (lineMs > maxMs) maxMs = lineMs;
		pos = eol + 1;
	}
	const binary = Buffer.allocUnsafe(n);
	scratch.copy(binary, 0, 0, n);
	return encodedBatch(head, rows, mins, minMs, maxMs, lines, binary);
}

/** A message whose every row is good, encoded: its rows in `binary`, their text in `lines`. */
export function encodedBatch(
	head: { kind: "trade" | "quote"; venue: string; symbol: string },
	rows: number,
	mins: MinuteSet,
	minMs: number,
	maxMs: number,
	lines: CopyLines,
	binary: Buffer,
): CopyReadyBatch {
	return { kind: head.kind, venue: head.venue, symbol: head.symbol, copy: "", rows, minutes: mins.values(), minMs, maxMs, markers: 0, rejects: [], lines, binary };
}
