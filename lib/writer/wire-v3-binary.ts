import { decodeWireBytes, MinuteSet } from "../domain/codec";
import { isEventMs as isEventMsImport } from "../domain/time";
import { HourCache } from "../domain/wire-bytes";
import { V3_RECORD_BYTES as V3_RECORD_BYTES_IMPORT, V3Lines, v3Message, VALUE_FIELD_MIN_CLASS, valueClasses } from "../domain/wire-v3";
import { binaryRowHead, DECIMAL_MAX, writeDecimal as writeDecimalImport, writeInt8 as writeInt8Import, writeTime, writeTimestampMs as writeTimestampMsImport } from "./copy-binary";
import { encodedBatch, type CopyReadyBatch } from "./wire-binary";

// Bound once: under tsx (how the services run) every use of a named import is a getter call, per row here.
const writeInt8 = writeInt8Import;
const writeTimestampMs = writeTimestampMsImport;
const writeDecimal = writeDecimalImport;

const isEventMs = isEventMsImport;
const RECORD_BYTES = V3_RECORD_BYTES_IMPORT;
const MIN_CLASS = VALUE_FIELD_MIN_CLASS;
const RECV_HOUR = new HourCache();

/**
 * The tick-writer's decode of a v3 message (lib/domain/wire-v3) straight into binary COPY rows: each distinct value
 * is encoded as numeric once per message and copied into the rows that use it, the receive time once per message,
 * and each row's time and seq are written from its record. A message with a bad row (or a receive time outside the
 * common form) is decoded by decodeWireBytes instead, which rejects the bad rows with their reasons; either way the
 * rows are the ones decodeWireBytes gives (test/writer/wire-v3.spec.ts). Never throws.
 */
export function v3ForCopy(payload: Uint8Array): CopyReadyBatch {
	const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
	const m = v3Message(buf);
	if (typeof m === "string" || m.rows === 0) return decodeWireBytes(payload);
	const { head, start, rows } = m;
	const values = head.values;
	const cls = valueClasses(values);
	// every value as a numeric field, once: at[i] .. at[i + 1] in `enc`
	const enc = Buffer.allocUnsafe(values.length * DECIMAL_MAX);
	const at = new Int32Array(values.length + 1);
	let longest = 0;
	for (let i = 0, n = 0; i < values.length; i++) {
		at[i] = n;
		if (cls[i] !== 0) {
			const s = Buffer.from(values[i], "latin1");
			const e = writeDecimal(s, 0, s.length, enc, n);
			if (e < 0) return decodeWireBytes(payload); // a decimal the byte encoder does not take: the text path decides
			n = e;
		}
		at[i + 1] = n;
		if (n - at[i] > longest) longest = n - at[i];
	}
	const recvText = Buffer.from(head.recvTime, "latin1");
	const recv = Buffer.allocUnsafe(12);
	if (writeTime(recvText, 0, recvText.length, RECV_HOUR, recv, 0) < 0) return decodeWireBytes(payload);
	const rowHead = binaryRowHead([Buffer.from(head.venue, "latin1"), Buffer.from(head.symbol, "latin1")], 9);
	const out = Buffer.allocUnsafe(rows * (rowHead.length + 12 + 12 + 4 * longest + 12));
	const mins = new MinuteSet();
	const t0 = head.t0;
	const hl = rowHead.length;
	let minMs = Infinity;
	let maxMs = -Infinity;
	let n = 0;
	for (let r = 0, p = start; r < rows; r++, p += RECORD_BYTES) {
		const ms = t0 + ((buf[p] << 24) >>> 0) + ((buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3]);
		if (!isEventMs(ms)) return decodeWireBytes(payload);
		const seq = ((buf[p + 4] << 24) >>> 0) + ((buf[p + 5] << 16) | (buf[p + 6] << 8) | buf[p + 7]);
		for (let k = 0; k < hl; k++) out[n + k] = rowHead[k];
		n = writeTimestampMs(ms, out, n + hl);
		n = writeInt8(seq, out, n);
		for (let f = 0; f < 4; f++) {
			const i = (buf[p + 8 + 2 * f] << 8) | buf[p + 9 + 2 * f];
			if (i >= values.length || cls[i] < MIN_CLASS[f]) return decodeWireBytes(payload);
			for (let k = at[i], e = at[i + 1]; k < e; k++) out[n++] = enc[k];
		}
		for (let k = 0; k < 12; k++) out[n + k] = recv[k];
		n += 12;
		mins.addMs(ms, false);
		if (ms < minMs) minMs = ms;
		if (ms > maxMs) maxMs = ms;
	}
	return encodedBatch(head, rows, mins, minMs, maxMs, new V3Lines(buf, m), out.subarray(0, n));
}
