import { daysInMonth, isEventMs, isIsoTimestamp, parseIsoMs } from "./time";
import { lineFast } from "./wire-bytes";
import { decodeV3, isV3 } from "./wire-v3";
import type { Envelope, MarkerItem, Quote, QuoteItem, Trade, TradeItem } from "./types";

/**
 * Wire format of the market-data log. One message = one batch of one kind for one venue and symbol.
 *
 * Trades and quotes (v2) are a JSON header line followed by one tab-separated line per item, fields in
 * the order of the tables' COPY columns, so the tick-writer turns a valid message into COPY rows by
 * prefixing "venue\tsymbol\t" to each line instead of rebuilding every field:
 *   {"v":2,"kind":"trade","venue":"kraken","symbol":"BTC-USD-SPOT"}
 *   time \t tradeId \t price \t qty \t side (b | s | -) \t recvTime
 *   {"v":2,"kind":"quote",...}
 *   time \t seq \t bid \t ask \t bidQty (or -) \t askQty (or -) \t recvTime
 * Quotes of bulk history may come as columns instead (v3, lib/domain/wire-v3), which decodeWireBytes reads too.
 * Markers, and trades/quotes from older producers, are plain JSON envelopes (v1, see Envelope).
 * Decoding validates every item; a bad item is rejected with its reason while the good items of the
 * same message are kept.
 */

export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._\-/]{0,63}$/; // venue and symbol names: safe in COPY text format
/** A trade id or sequence number: a non-negative integer that fits a bigint. */
export const ID_RE = /^(0|[1-9]\d{0,17})$/;
const POS_DEC_RE = /^(0|[1-9]\d*)(\.\d+)?$/;
const MARKER_TYPES = new Set(["disconnect", "reconnect", "book-reset", "gap"]);
const MINUTE = 60_000;

/** A decimal string >= 0 (sizes of a quote side may be 0). */
export function posDecimal(s: unknown): s is string {
	return typeof s === "string" && s.length <= 64 && POS_DEC_RE.test(s);
}

/** A decimal string > 0: a trade's price and qty, a quote's bid and ask. */
export function strictlyPositive(s: unknown): s is string {
	return posDecimal(s) && /[1-9]/.test(s);
}

export function encodeEnvelope(env: Envelope): Buffer {
	if (env.kind === "marker") return Buffer.from(JSON.stringify(env));
	const head = JSON.stringify({ v: 2, kind: env.kind, venue: env.venue, symbol: env.symbol });
	const lines: string[] = [head];
	if (env.kind === "trade") {
		for (const t of env.items) lines.push(`${t.time}\t${t.tradeId}\t${t.price}\t${t.qty}\t${t.side === "buy" ? "b" : t.side === "sell" ? "s" : "-"}\t${t.recvTime}`);
	} else {
		for (const q of env.items) lines.push(`${q.time}\t${q.seq}\t${q.bid}\t${q.ask}\t${q.bidQty ?? "-"}\t${q.askQty ?? "-"}\t${q.recvTime}`);
	}
	return Buffer.from(lines.join("\n"));
}

export function tradeEnvelope(venue: string, symbol: string, items: TradeItem[]): Envelope {
	return { v: 1, kind: "trade", venue, symbol, items };
}

export function quoteEnvelope(venue: string, symbol: string, items: QuoteItem[]): Envelope {
	return { v: 1, kind: "quote", venue, symbol, items };
}

export interface Rejection {
	index: number; // item index, -1 for the whole message
	reason: string;
}

/**
 * What the tick-writer needs of one message: COPY text rows for its table (each ending in "\n"),
 * the 1m buckets it touches and its time span. Kept as text so a million rows cost a million string
 * slices, not a million objects.
 */
export interface WireBatch {
	kind: "trade" | "quote" | "marker" | null;
	venue: string;
	symbol: string;
	/** COPY text-format rows for trades or quotes, in the column order of lib/writer/copy. */
	copy: string;
	rows: number;
	/** Distinct 1m bucket starts (ms) of the valid rows. */
	minutes: number[];
	minMs: number;
	maxMs: number;
	markers: number;
	rejects: Rejection[];
	/**
	 * Set by decodeWireBytes instead of `copy` when every line of a v2 message is valid and usable as it
	 * is: the COPY rows are `prefix` + each body line, copied byte for byte from the payload.
	 */
	lines?: CopyLines;
}

/** A v2 message's body, whose lines are COPY rows after `prefix` (see WireBatch.lines). */
export interface CopyLines {
	/** The message payload. */
	bytes: Uint8Array;
	/** The body: from the first line's first byte to one past the last line's last byte (a trailing newline excluded). */
	start: number;
	end: number;
	/** "venue\tsymbol\t" in UTF-8. */
	prefix: Uint8Array;
}

/** The COPY text of CopyLines as a string (what `copy` would have held). */
export function copyLinesText(l: CopyLines): string {
	const prefix = Buffer.from(l.prefix.buffer, l.prefix.byteOffset, l.prefix.byteLength).toString("latin1");
	const body = Buffer.from(l.bytes.buffer, l.bytes.byteOffset, l.bytes.byteLength).toString("utf8", l.start, l.end);
	return prefix + body.replaceAll("\n", "\n" + prefix) + "\n";
}

export function badBatch(reason: string): WireBatch {
	return { kind: null, venue: "", symbol: "", copy: "", rows: 0, minutes: [], minMs: Infinity, maxMs: -Infinity, markers: 0, rejects: [{ index: -1, reason }] };
}

function digits(s: string, from: number, n: number): number {
	let v = 0;
	for (let i = from; i < from + n; i++) {
		const c = s.charCodeAt(i) - 48;
		if (c < 0 || c > 9) return -1;
		v = v * 10 + c;
	}
	return v;
}

/**
 * "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z" to ms without a regex or a Date object (the hot path: every tick
 * carries two such times); anything else (offsets) goes through the general parser. NaN when invalid.
 */
export function fastIsoMs(s: string): number {
	const n = s.length;
	if (n < 20 || n > 30 || s.charCodeAt(n - 1) !== 90 /* Z */ || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 84 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) {
		return isIsoTimestamp(s) ? parseIsoMs(s) : NaN;
	}
	const y = digits(s, 0, 4);
	const mo = digits(s, 5, 2);
	const d = digits(s, 8, 2);
	const h = digits(s, 11, 2);
	const mi = digits(s, 14, 2);
	const se = digits(s, 17, 2);
	if (y < 1990 || y > 2099 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 59) return NaN;
	if (d > daysInMonth(y, mo)) return NaN;
	let ms = 0;
	if (n > 20) {
		if (s.charCodeAt(19) !== 46 /* . */ || n < 22) return NaN;
		const f = digits(s, 20, n - 21);
		if (f < 0) return NaN;
		ms = n - 21 >= 3 ? digits(s, 20, 3) : f * (n - 21 === 1 ? 100 : 10);
	}
	return Date.UTC(y, mo - 1, d, h, mi, se, ms);
}

const SIDE_OK: Record<string, string> = { b: "b", s: "s", "-": "\\N" };

/** Decode and validate one message for the tick-writer, with its COPY text in `copy`. Never throws. */
export function decodeWire(payload: Uint8Array): WireBatch {
	const w = decodeWireBytes(payload);
	if (!w.lines) return w;
	const { lines, ...rest } = w;
	return { ...rest, copy: copyLinesText(lines) };
}

/**
 * decodeWire for the tick-writer's hot path: a v2 message is validated on its bytes (char codes, no
 * string per line or field) and, when every line is usable as it is, its COPY rows are left in the
 * payload (`lines`, `copy` empty). Lines the byte check cannot vouch for (offsets in times, non-ASCII,
 * anything malformed) go through the string validation, which gives the same verdict and reason as
 * decodeWire always did. Never throws.
 */
export function decodeWireBytes(payload: Uint8Array): WireBatch {
	if (isV3(payload)) return decodeV3(payload);
	const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
	const v2 = v2Header(buf);
	if (!v2) return decodeWireText(buf.toString("utf8"));
	const { head, start, end } = v2;
	const out: WireBatch = { kind: head.kind, venue: head.venue, symbol: head.symbol, copy: "", rows: 0, minutes: [], minMs: Infinity, maxMs: -Infinity, markers: 0, rejects: [] };
	if (end <= start) return out;
	const isTrade = head.kind === "trade";
	const prefix = `${head.venue}\t${head.symbol}\t`;
	const mins = new MinuteSet();
	const t = { ms: NaN, placeholder: false };
	let allVerbatim = true;
	// Rows rebuilt as text, only needed once a line is not verbatim (a placeholder or a reject).
	let rebuilt: string[] | null = null;
	let index = 0;
	for (let pos = start; pos <= end; index++) {
		let eol = buf.indexOf(10, pos);
		if (eol < 0 || eol > end) eol = end;
		let line: string | null = null;
		let ok = lineFast(buf, pos, eol, isTrade, t);
		if (!ok) {
			line = buf.toString("utf8", pos, eol);
			const { f, problem } = checkLine(line, isTrade, t);
			if (problem) out.rejects.push({ index, reason: problem });
			else {
				ok = true;
				mins.add(t.ms, f[0]);
			}
		} else mins.add(t.ms, "");
		if (ok) {
			if (t.ms < out.minMs) out.minMs = t.ms;
			if (t.ms > out.maxMs) out.maxMs = t.ms;
			out.rows++;
		}
		if (allVerbatim && (!ok || t.placeholder)) {
			// From here on the COPY text is rebuilt: first the verbatim rows before this line.
			allVerbatim = false;
			rebuilt = [];
			if (pos > start) rebuilt.push(prefix + buf.toString("utf8", start, pos - 1).replaceAll("\n", "\n" + prefix) + "\n");
		}
		if (!allVerbatim && ok) {
			line ??= buf.toString("utf8", pos, eol);
			const f = line.split("\t");
			rebuilt!.push(t.placeholder ? (isTrade ? tradeRowFromFields : quoteRowFromFields)(prefix, f) : prefix + line + "\n");
		}
		pos = eol + 1;
	}
	if (allVerbatim) out.lines = { bytes: payload, start, end, prefix: Buffer.from(prefix, "latin1") };
	else out.copy = rebuilt!.join("");
	out.minutes = mins.values();
	return out;
}

/** A well-formed v2 header (the message's first line) and where the body's lines are: [start, end), no line when end <= start. */
export interface V2Header {
	head: { v: 2; kind: "trade" | "quote"; venue: string; symbol: string };
	/** After the header's newline, to before the message's one trailing newline. */
	start: number;
	end: number;
}

/** The v2 header of a payload, or null when it has none that is well formed (decodeWireText then reads the message). */
export function v2Header(buf: Buffer): V2Header | null {
	if (buf.length === 0 || buf[0] !== 123 /* { */) return null;
	const nl = buf.indexOf(10);
	let head: any;
	try {
		head = JSON.parse(buf.toString("utf8", 0, nl < 0 ? buf.length : nl));
	} catch {
		return null;
	}
	if (head === null || typeof head !== "object" || head.v !== 2 || v2HeadProblem(head)) return null;
	if (nl < 0) return { head, start: buf.length, end: buf.length };
	let end = buf.length;
	if (end > nl + 1 && buf[end - 1] === 10) end--;
	return { head, start: nl + 1, end };
}

/**
 * decodeWire on the message as text: the path of every message without a well-formed v2 header (v1
 * envelopes, garbage), and the reference the byte path of decodeWireBytes is tested against.
 */
export function decodeWireText(text: string): WireBatch {
	if (text.charCodeAt(0) !== 123 /* { */) return badBatch("not a market-data envelope (expected a JSON header)");
	const nl = text.indexOf("\n");
	let head: any;
	try {
		head = JSON.parse(nl < 0 ? text : text.slice(0, nl));
	} catch (err) {
		if (nl >= 0) {
			// maybe a v1 JSON envelope pretty-printed over several lines
			try {
				return fromObjects(JSON.parse(text));
			} catch {
				/* report the header error below */
			}
		}
		return badBatch(`not JSON: ${(err as Error).message}`);
	}
	if (head === null || typeof head !== "object" || Array.isArray(head)) return badBatch("not an envelope object");
	if (head.v === 1) return fromObjects(head);
	if (head.v !== 2) return badBatch(`unsupported envelope version ${JSON.stringify(head.v)}`);
	const headProblem = v2HeadProblem(head);
	if (headProblem) return badBatch(headProblem);
	const out: WireBatch = { kind: head.kind, venue: head.venue, symbol: head.symbol, copy: "", rows: 0, minutes: [], minMs: Infinity, maxMs: -Infinity, markers: 0, rejects: [] };
	if (nl < 0) return out;
	let body = text.slice(nl + 1);
	if (body.endsWith("\n")) body = body.slice(0, -1);
	if (!body) return out;
	const lines = body.split("\n");
	const prefix = `${head.venue}\t${head.symbol}\t`;
	const mins = new MinuteSet();
	const isTrade = head.kind === "trade";
	const t = { ms: NaN, placeholder: false };
	let allVerbatim = true; // every line usable as-is after the prefix (no '-' placeholders, no rejects)
	const goodLines: number[] = [];
	for (let i = 0; i < lines.length; i++) {
		const { f, problem } = checkLine(lines[i], isTrade, t);
		const ms = t.ms;
		if (problem) {
			out.rejects.push({ index: i, reason: problem });
			allVerbatim = false;
			continue;
		}
		if (t.placeholder) allVerbatim = false;
		mins.add(ms, f[0]);
		if (ms < out.minMs) out.minMs = ms;
		if (ms > out.maxMs) out.maxMs = ms;
		goodLines.push(i);
		out.rows++;
	}
	// The line's field order is the table's column order after venue and symbol, so a message with no
	// placeholders and no rejects becomes COPY text with one replace; others are rebuilt row by row.
	if (allVerbatim) out.copy = prefix + body.replaceAll("\n", "\n" + prefix) + "\n";
	else out.copy = goodLines.map((i) => (isTrade ? tradeRowFromFields : quoteRowFromFields)(prefix, lines[i].split("\t"))).join("");
	out.minutes = mins.values();
	return out;
}

/** What is wrong with a v2 header's kind, venue or symbol, or null. */
function v2HeadProblem(head: { kind?: unknown; venue?: unknown; symbol?: unknown }): string | null {
	if (head.kind !== "trade" && head.kind !== "quote") return `unknown kind ${JSON.stringify(head.kind)} for a v2 envelope`;
	if (typeof head.venue !== "string" || !NAME_RE.test(head.venue)) return `bad venue ${JSON.stringify(head.venue)}`;
	if (typeof head.symbol !== "string" || !NAME_RE.test(head.symbol)) return `bad symbol ${JSON.stringify(head.symbol)}`;
	return null;
}

/** A v2 wire line split into its fields and checked (see itemProblem for `t`). */
function checkLine(line: string, isTrade: boolean, t: { ms: number; placeholder: boolean }): { f: string[]; problem: string | null } {
	const f = line.split("\t");
	const nFields = isTrade ? 6 : 7;
	return { f, problem: f.length !== nFields ? `expected ${nFields} tab-separated fields, got ${f.length}` : itemProblem(isTrade, f, t) };
}

function tradeRowFromFields(prefix: string, f: string[]): string {
	return `${prefix}${f[0]}\t${f[1]}\t${f[2]}\t${f[3]}\t${SIDE_OK[f[4]]}\t${f[5]}\n`;
}

function quoteRowFromFields(prefix: string, f: string[]): string {
	return `${prefix}${f[0]}\t${f[1]}\t${f[2]}\t${f[3]}\t${f[4] === "-" ? "\\N" : f[4]}\t${f[5] === "-" ? "\\N" : f[5]}\t${f[6]}\n`;
}

/**
 * Distinct 1m buckets (WireBatch.minutes); a sub-microsecond time in a minute's last microsecond also marks the next
 * (PostgreSQL rounds to µs).
 */
export class MinuteSet {
	private last = NaN;
	private set = new Set<number>();
	/** A valid row's time: its ms and its ISO text. */
	add(ms: number, iso: string): void {
		this.addMs(ms, ms % MINUTE === MINUTE - 1 && /\.\d{7,}/.test(iso));
	}
	/** The same, told whether the time has digits below the ms (a fraction of 7 digits or more). */
	addMs(ms: number, subMs: boolean): void {
		const b = Math.floor(ms / MINUTE) * MINUTE;
		if (b !== this.last) {
			this.set.add(b);
			this.last = b;
		}
		if (subMs && ms - b === MINUTE - 1) this.set.add(b + MINUTE);
	}
	values(): number[] {
		return [...this.set];
	}
}

/**
 * Check one trade or quote given as its fields in line order (time, id, ...; "-" for a missing side or
 * size): the one validation both wire versions go through. Returns the problem, or null after setting
 * `t.ms` (event time) and `t.placeholder` (a "-" that COPY needs as \N).
 */
function itemProblem(isTrade: boolean, f: readonly unknown[], t: { ms: number; placeholder: boolean }): string | null {
	const [time, id] = f;
	t.ms = typeof time === "string" ? fastIsoMs(time) : NaN;
	t.placeholder = false;
	if (!isEventMs(t.ms)) return `time ${JSON.stringify(time)} is not an ISO-8601 UTC timestamp`;
	if (typeof id !== "string" || !ID_RE.test(id)) return `${isTrade ? "tradeId" : "seq"} ${JSON.stringify(id)} must be a non-negative integer string`;
	const recv = f[isTrade ? 5 : 6];
	if (isTrade) {
		if (!strictlyPositive(f[2])) return `price ${JSON.stringify(f[2])} is not a decimal string > 0`;
		if (!strictlyPositive(f[3])) return `qty ${JSON.stringify(f[3])} is not a decimal string > 0`;
		if (typeof f[4] !== "string" || SIDE_OK[f[4]] === undefined) return `side ${JSON.stringify(f[4])} is not buy (b), sell (s) or unknown (- / null)`;
		t.placeholder = f[4] === "-";
	} else {
		if (!strictlyPositive(f[2])) return `bid ${JSON.stringify(f[2])} is not a decimal string > 0`;
		if (!strictlyPositive(f[3])) return `ask ${JSON.stringify(f[3])} is not a decimal string > 0`;
		if (f[4] !== "-" && !posDecimal(f[4])) return `bidQty ${JSON.stringify(f[4])} is not a decimal string`;
		if (f[5] !== "-" && !posDecimal(f[5])) return `askQty ${JSON.stringify(f[5])} is not a decimal string`;
		t.placeholder = f[4] === "-" || f[5] === "-";
	}
	if (recv !== time && !(typeof recv === "string" && fastIsoMs(recv) > 0)) return `recvTime ${JSON.stringify(recv)} is not an ISO-8601 UTC timestamp`;
	return null;
}

/** Fields of a v1 trade or quote object in wire line order ("-" for an absent side or size). */
function fieldsOf(kind: "trade" | "quote", it: any): unknown[] {
	return kind === "trade"
		? [it.time, it.tradeId, it.price, it.qty, it.side === "buy" ? "b" : it.side === "sell" ? "s" : it.side === null || it.side === undefined ? "-" : it.side, it.recvTime]
		: [it.time, it.seq, it.bid, it.ask, it.bidQty ?? "-", it.askQty ?? "-", it.recvTime];
}

/**
 * The codec's own check of one trade or quote object, for producers that refuse bad items before
 * publishing (the ingest route): null when the tick-writer would accept it, else the problem, naming the field.
 */
export function itemObjectProblem(kind: "trade" | "quote", it: unknown): string | null {
	if (it === null || typeof it !== "object") return "item is not an object";
	return itemProblem(kind === "trade", fieldsOf(kind, it), { ms: NaN, placeholder: false });
}

function markerProblem(m: any): string | null {
	if (!MARKER_TYPES.has(m.type)) return `marker type ${JSON.stringify(m.type)} is unknown`;
	if (!isIsoTimestamp(m.time)) return `time ${JSON.stringify(m.time)} is not an ISO-8601 UTC timestamp`;
	return null;
}

/** A v1 JSON envelope (objects per item) into a WireBatch. */
function fromObjects(env: any): WireBatch {
	if (env === null || typeof env !== "object" || Array.isArray(env)) return badBatch("not an envelope object");
	if (env.v !== 1) return badBatch(`unsupported envelope version ${JSON.stringify(env.v)}`);
	if (env.kind !== "trade" && env.kind !== "quote" && env.kind !== "marker") return badBatch(`unknown kind ${JSON.stringify(env.kind)}`);
	if (typeof env.venue !== "string" || !NAME_RE.test(env.venue)) return badBatch(`bad venue ${JSON.stringify(env.venue)}`);
	if (typeof env.symbol !== "string" || !NAME_RE.test(env.symbol)) return badBatch(`bad symbol ${JSON.stringify(env.symbol)}`);
	if (!Array.isArray(env.items)) return badBatch("items is not an array");
	const out: WireBatch = { kind: env.kind, venue: env.venue, symbol: env.symbol, copy: "", rows: 0, minutes: [], minMs: Infinity, maxMs: -Infinity, markers: 0, rejects: [] };
	const prefix = `${env.venue}\t${env.symbol}\t`;
	const mins = new MinuteSet();
	const rows: string[] = [];
	const t = { ms: NaN, placeholder: false };
	const items: any[] = env.items;
	for (let i = 0; i < items.length; i++) {
		const it = items[i];
		let problem: string | null;
		let f: unknown[] = [];
		if (it === null || typeof it !== "object") problem = "item is not an object";
		else if (env.kind === "marker") problem = markerProblem(it);
		else {
			f = fieldsOf(env.kind, it);
			problem = itemProblem(env.kind === "trade", f, t);
		}
		if (problem) {
			out.rejects.push({ index: i, reason: problem });
			continue;
		}
		if (env.kind === "marker") {
			out.markers++;
			continue;
		}
		mins.add(t.ms, it.time);
		if (t.ms < out.minMs) out.minMs = t.ms;
		if (t.ms > out.maxMs) out.maxMs = t.ms;
		rows.push((env.kind === "trade" ? tradeRowFromFields : quoteRowFromFields)(prefix, f as string[]));
		out.rows++;
	}
	out.copy = rows.join("");
	out.minutes = mins.values();
	return out;
}

export interface Decoded {
	kind: "trade" | "quote" | "marker" | null;
	venue: string;
	symbol: string;
	trades: Trade[];
	quotes: Quote[];
	markers: number;
	rejects: Rejection[];
}

const SIDE_NAME: Record<string, Trade["side"]> = { b: "buy", s: "sell", "\\N": null };

/** Decode one message into normalized objects (for readers other than the tick-writer). Never throws. */
export function decodeEnvelope(payload: Uint8Array): Decoded {
	const w = decodeWire(payload);
	const out: Decoded = { kind: w.kind, venue: w.venue, symbol: w.symbol, trades: [], quotes: [], markers: w.markers, rejects: w.rejects };
	if (!w.copy) return out;
	for (const row of w.copy.slice(0, -1).split("\n")) {
		const f = row.split("\t");
		if (w.kind === "trade") out.trades.push({ venue: f[0], symbol: f[1], time: f[2], tradeId: f[3], price: f[4], qty: f[5], side: SIDE_NAME[f[6]], recvTime: f[7] });
		else out.quotes.push({ venue: f[0], symbol: f[1], time: f[2], seq: f[3], bid: f[4], ask: f[5], bidQty: f[6] === "\\N" ? null : f[6], askQty: f[7] === "\\N" ? null : f[7], recvTime: f[8] });
	}
	return out;
}

export type { MarkerItem };
