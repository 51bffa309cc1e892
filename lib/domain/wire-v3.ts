import { badBatch, fastIsoMs, MinuteSet, NAME_RE, posDecimal, strictlyPositive, type CopyLines, type WireBatch } from "./codec";
import { isEventMs, isoUtc } from "./time";

/**
 * Quotes in columns (wire v3): the market-data log's format for bulk history, where v2's text lines cost more to
 * write, move and read than the ticks themselves. A JSON header line, then the rows as fixed 16-byte big-endian
 * records:
 *   {"v":3,"kind":"quote","venue":"dukascopy","symbol":"EUR-USD-SPOT","t0":1551657600000,"recvTime":"2026-12-08T00:00:00.000Z","values":["1.13456","1.13458","1500000"]}
 *   uint32 ms after t0 (the event time), uint32 seq, then uint16 indexes into `values`: bid, ask, bidQty, askQty
 * The header is JSON.stringify's (no newline in it) and starts with the bytes {"v":3, so a reader tells the versions
 * apart without parsing; the body is everything after the header's newline. `values` holds each distinct decimal
 * (prices and sizes as exact decimal strings, at most 65,536 of them); `recvTime` is every row's receive time.
 *
 * A row is the v2 line "isoUtc(t0 + ms) \t seq \t values[bid] \t values[ask] \t values[bidQty] \t values[askQty] \t
 * recvTime" and is checked as that line would be: a row that fails (a time outside the accepted range, an index past
 * `values`, a bid or ask that is not a decimal above zero, a size that is not a decimal) is rejected with its reason,
 * the message's good rows are kept. A header that is not one, or a body that is not whole records, rejects the message.
 */

export const V3_RECORD_BYTES = 16;
export const V3_MAX_VALUES = 65_536;
const V3_START = Buffer.from('{"v":3,');

export interface V3Head {
	v: 3;
	kind: "quote";
	venue: string;
	symbol: string;
	/** Epoch ms that the rows' times count from. */
	t0: number;
	recvTime: string;
	values: string[];
}

/** A well-formed v3 message: its header, where its records start and how many there are. */
export interface V3Message {
	head: V3Head;
	start: number;
	rows: number;
}

/** Whether the payload is a v3 message (it starts with {"v":3,). */
export function isV3(buf: Uint8Array): boolean {
	if (buf.length < V3_START.length) return false;
	for (let i = 0; i < V3_START.length; i++) if (buf[i] !== V3_START[i]) return false;
	return true;
}

/** The header of a v3 payload and its records' place, or what is wrong with it. */
export function v3Message(buf: Buffer): V3Message | string {
	const nl = buf.indexOf(10);
	if (nl < 0) return "v3 header without a newline after it";
	let head: any;
	try {
		head = JSON.parse(buf.toString("utf8", 0, nl));
	} catch (err) {
		return `v3 header is not JSON: ${(err as Error).message}`;
	}
	if (head === null || typeof head !== "object" || head.v !== 3) return "not a v3 header";
	if (head.kind !== "quote") return `unknown kind ${JSON.stringify(head.kind)} for a v3 envelope`;
	if (typeof head.venue !== "string" || !NAME_RE.test(head.venue)) return `bad venue ${JSON.stringify(head.venue)}`;
	if (typeof head.symbol !== "string" || !NAME_RE.test(head.symbol)) return `bad symbol ${JSON.stringify(head.symbol)}`;
	if (!Number.isSafeInteger(head.t0) || head.t0 < 0) return `t0 ${JSON.stringify(head.t0)} is not a whole number of epoch ms`;
	if (typeof head.recvTime !== "string" || !(fastIsoMs(head.recvTime) > 0)) return `recvTime ${JSON.stringify(head.recvTime)} is not an ISO-8601 UTC timestamp`;
	const values = head.values;
	if (!Array.isArray(values) || values.length > V3_MAX_VALUES || values.some((x) => typeof x !== "string")) return `values must be an array of at most ${V3_MAX_VALUES} strings`;
	const body = buf.length - nl - 1;
	if (body % V3_RECORD_BYTES !== 0) return `v3 body of ${body} bytes is not a whole number of ${V3_RECORD_BYTES}-byte rows`;
	return { head, start: nl + 1, rows: body / V3_RECORD_BYTES };
}

/** What each value may be: 0 not a decimal, 1 a decimal (a size), 2 a decimal above zero (a price too). */
export function valueClasses(values: readonly string[]): Uint8Array {
	const c = new Uint8Array(values.length);
	for (let i = 0; i < values.length; i++) c[i] = strictlyPositive(values[i]) ? 2 : posDecimal(values[i]) ? 1 : 0;
	return c;
}

/** The record's four value fields, in order, and the class (valueClasses) each needs: bid and ask above zero, sizes any decimal. */
const VALUE_FIELDS = ["bid", "ask", "bidQty", "askQty"] as const;
export const VALUE_FIELD_MIN_CLASS = Uint8Array.of(2, 2, 1, 1);

/** A time for a reason: ISO-8601 where Date can write it (a corrupt t0 may put it past Date's range). */
function timeText(ms: number): string {
	return Number.isNaN(new Date(ms).getTime()) ? `${ms} ms after the epoch` : new Date(ms).toISOString();
}

/** Row `r`'s problem (as the v2 check words it), or null. `cls` is valueClasses(head.values). */
export function v3RowProblem(buf: Buffer, m: V3Message, cls: Uint8Array, r: number): string | null {
	const at = m.start + r * V3_RECORD_BYTES;
	const ms = m.head.t0 + buf.readUInt32BE(at);
	if (!isEventMs(ms)) return `time ${JSON.stringify(timeText(ms))} is not an ISO-8601 UTC timestamp`;
	for (let k = 0; k < 4; k++) {
		const i = buf.readUInt16BE(at + 8 + 2 * k);
		if (i >= cls.length) return `${VALUE_FIELDS[k]} is value ${i}, past the ${cls.length} values`;
		if (cls[i] < VALUE_FIELD_MIN_CLASS[k]) return `${VALUE_FIELDS[k]} ${JSON.stringify(m.head.values[i])} is not a decimal string${VALUE_FIELD_MIN_CLASS[k] === 2 ? " > 0" : ""}`;
	}
	return null;
}

/** Row `r` as its v2 line (no newline). */
function rowLine(buf: Buffer, m: V3Message, r: number): string {
	const at = m.start + r * V3_RECORD_BYTES;
	const v = m.head.values;
	return `${isoUtc(m.head.t0 + buf.readUInt32BE(at))}\t${buf.readUInt32BE(at + 4)}\t${v[buf.readUInt16BE(at + 8)]}\t${v[buf.readUInt16BE(at + 10)]}\t${v[buf.readUInt16BE(at + 12)]}\t${v[buf.readUInt16BE(at + 14)]}\t${m.head.recvTime}`;
}

/** The v2 lines of a message whose every row is good, joined by newlines: the text its rows stand for. */
export function v3Lines(buf: Buffer, m: V3Message): string {
	const lines = new Array<string>(m.rows);
	for (let r = 0; r < m.rows; r++) lines[r] = rowLine(buf, m, r);
	return lines.join("\n");
}

/**
 * A v3 message's rows as CopyLines, rendered as v2 lines only when something reads them: the tick-writer COPYs
 * the rows in binary (lib/writer/wire-v3-binary) and needs their text only should PostgreSQL refuse that.
 */
export class V3Lines implements CopyLines {
	readonly start = 0;
	readonly prefix: Uint8Array;
	private text: Buffer | null = null;
	constructor(
		private readonly buf: Buffer,
		private readonly m: V3Message,
	) {
		this.prefix = Buffer.from(`${m.head.venue}\t${m.head.symbol}\t`, "latin1");
	}
	get bytes(): Uint8Array {
		return (this.text ??= Buffer.from(v3Lines(this.buf, this.m), "latin1"));
	}
	get end(): number {
		return this.bytes.length;
	}
}

/** decodeWireBytes for a v3 payload: the good rows as COPY text, each bad one rejected with its reason. Never throws. */
export function decodeV3(payload: Uint8Array): WireBatch {
	const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
	const m = v3Message(buf);
	if (typeof m === "string") return badBatch(m);
	const { head } = m;
	const out: WireBatch = { kind: "quote", venue: head.venue, symbol: head.symbol, copy: "", rows: 0, minutes: [], minMs: Infinity, maxMs: -Infinity, markers: 0, rejects: [] };
	const cls = valueClasses(head.values);
	const prefix = `${head.venue}\t${head.symbol}\t`;
	const mins = new MinuteSet();
	const rows: string[] = [];
	for (let r = 0; r < m.rows; r++) {
		const problem = v3RowProblem(buf, m, cls, r);
		if (problem) {
			out.rejects.push({ index: r, reason: problem });
			continue;
		}
		const ms = head.t0 + buf.readUInt32BE(m.start + r * V3_RECORD_BYTES);
		mins.addMs(ms, false);
		if (ms < out.minMs) out.minMs = ms;
		if (ms > out.maxMs) out.maxMs = ms;
		rows.push(prefix + rowLine(buf, m, r) + "\n");
		out.rows++;
	}
	out.copy = rows.join("");
	out.minutes = mins.values();
	return out;
}
