import { EPOCH_MS_MAX, EPOCH_MS_MIN, intervalGrid, parseKlines, type Kline } from "./binance-klines";
import { grownBuffer } from "../domain/ascii";
import { isoUtc } from "../domain/time";
import { DECIMAL_MAX, writeDecimal, writeInt8, writeTimestampMs } from "../writer/copy-binary";

/**
 * One /api/v3/klines answer as the pager needs it: the open times it holds, its rows for COPY, and the Kline
 * objects only when someone asks (the upsert fallback, a page reaching outside its window).
 *
 * Binance answers in compact JSON (`[[1672531200000,"16541.77",...,"0"],...]`). The fast path reads that text
 * once, checking every field as parseKlines does, and writes binary COPY rows as it goes: no JSON.parse into
 * arrays, no object per kline, and PostgreSQL parses no timestamp or numeric text. Anything it does not expect
 * (whitespace, another number form, a field that fails a check) sends the page down the general path,
 * JSON.parse + parseKlines, whose rows are COPY text, which accepts what is valid and names the first bad row
 * exactly as before; so the fast path never decides what is an error.
 */
export interface KlinePage {
	/** open times, ascending */
	openTimes: number[];
	/** the rows for COPY: binary from the fast path, text from the general one */
	copy: KlineCopy;
	klines(): Kline[];
}

/**
 * Kline rows for COPY, in KLINE_COLUMNS order: binary COPY rows (no header or trailer; lib/writer/copy-binary's
 * format) or COPY text rows (each ending in a newline).
 */
export type KlineCopy = { binary: Buffer } | string;

/** How a key's rows start: `prefix`, the escaped "venue\tsymbol\tinterval\t" of a text row; `head`, a binary row's field count and those three fields. */
export interface KlineRowFormat {
	prefix: string;
	head: Buffer;
}

/** The page from its response body. */
export function klinePage(bytes: Buffer, interval: string, format: KlineRowFormat): KlinePage {
	let parsed: Kline[] | null = null;
	const klines = () => (parsed ??= parseKlines(JSON.parse(bytes.toString("utf8")), interval));
	const fast = scanKlineBytes(bytes, interval, format.head);
	if (fast) return { openTimes: fast.openTimes, copy: { binary: fast.binary }, klines };
	const rows = klines(); // throws KlineParseError (or SyntaxError) naming the problem
	return { openTimes: rows.map((k) => k.openTime), copy: klineRowsCopy(format.prefix, rows), klines };
}

/** Klines as COPY text rows after `copyPrefix`. */
export function klineRowsCopy(copyPrefix: string, rows: readonly Kline[]): string {
	const out: string[] = [];
	for (const k of rows) {
		out.push(`${copyPrefix}${isoUtc(k.openTime)}\t${isoUtc(k.closeTime)}\t${k.open}\t${k.high}\t${k.low}\t${k.close}\t${k.volume}\t${k.quoteVolume}\t${k.trades}\t${k.takerBaseVolume}\t${k.takerQuoteVolume}\n`);
	}
	return out.join("");
}

// The scanner's state (one scan at a time: it never awaits): input bytes and position, output bytes and length.
let t: Buffer = Buffer.alloc(0);
let pos = 0;
let out: Buffer = Buffer.alloc(0);
let n = 0;

/** A JSON integer without sign, fraction or exponent that is a safe integer; -1 otherwise. */
function int(): number {
	const s = pos;
	let v = 0;
	let c = t[pos];
	while (c >= 48 && c <= 57) {
		v = v * 10 + (c - 48);
		c = t[++pos];
	}
	const len = pos - s;
	if (len === 0 || len > 16 || (len > 1 && t[s] === 48) || !Number.isSafeInteger(v)) return -1;
	return v;
}

/**
 * A JSON string holding a non-negative plain decimal (0|[1-9]\d*)(\.\d+)?, at most 64 characters, written to the
 * output as a binary numeric field; false otherwise.
 */
function dec(): boolean {
	if (t[pos] !== 34) return false;
	const s = ++pos;
	let c = t[pos];
	if (c === 48) c = t[++pos];
	else if (c >= 49 && c <= 57) while (c >= 48 && c <= 57) c = t[++pos];
	else return false;
	if (c === 46) {
		const f = ++pos;
		c = t[pos];
		while (c >= 48 && c <= 57) c = t[++pos];
		if (pos === f) return false;
	}
	if (c !== 34 || pos - s > 64) return false;
	n = writeDecimal(t, s, pos, out, n);
	pos++;
	return n >= 0;
}

const comma = () => t[pos++] === 44;

/** A binary row's fields after its head: two times, eight decimals, a count. */
const ROW_MAX = 3 * 12 + 8 * DECIMAL_MAX;

/**
 * The fast path; null when the body is not exactly the expected compact, valid shape. Reads the answer's bytes and
 * writes binary COPY rows (KLINE_COLUMNS order, each starting with `head`): no string per field or row, nothing for
 * the collector to copy while a batch of pages waits for its write.
 */
export function scanKlineBytes(body: Buffer, interval: string, head: Buffer): { openTimes: number[]; binary: Buffer } | null {
	const grid = intervalGrid(interval);
	t = body;
	pos = 0;
	// a row is the head plus at most ROW_MAX bytes; an answer's row is ~150 bytes of text, a binary row a little more
	out = Buffer.allocUnsafe(body.length + 64 * 1024);
	n = 0;
	try {
		const openTimes: number[] = [];
		if (t[pos++] !== 91) return null;
		if (t[pos] === 93) return pos + 1 === t.length ? { openTimes, binary: out.subarray(0, 0) } : null;
		let prev = -Infinity;
		for (;;) {
			if (out.length - n < head.length + ROW_MAX) out = grownBuffer(out, n, head.length + ROW_MAX);
			if (t[pos++] !== 91) return null;
			const open = int();
			if (open < EPOCH_MS_MIN || open > EPOCH_MS_MAX || (open - grid.offsetMs) % grid.ms !== 0 || open <= prev || !comma()) return null;
			n += head.copy(out, n);
			n = writeTimestampMs(open, out, n);
			// the close time comes after five decimals in the answer and before them in the row: its place is kept
			const closeAt = n;
			n += 12;
			if (!dec() || !comma() || !dec() || !comma() || !dec() || !comma() || !dec() || !comma() || !dec() || !comma()) return null;
			const close = int();
			if (close !== open + grid.ms - 1 || !comma()) return null;
			writeTimestampMs(close, out, closeAt);
			if (!dec() || !comma()) return null;
			const trades = int();
			if (trades < 0 || !comma()) return null;
			n = writeInt8(trades, out, n);
			if (!dec() || !comma() || !dec()) return null;
			if (t[pos] === 44) {
				pos++; // Binance's unused 12th field, a string
				if (t[pos] !== 34) return null;
				let c = t[++pos];
				while (c !== 34 && c !== 92 && pos < t.length) c = t[++pos];
				if (c !== 34) return null; // an escape, or the end of the body
				pos++;
			}
			if (t[pos++] !== 93) return null;
			prev = open;
			openTimes.push(open);
			const next = t[pos++];
			if (next === 93) return pos === t.length ? { openTimes, binary: out.subarray(0, n) } : null;
			if (next !== 44) return null;
		}
	} finally {
		t = Buffer.alloc(0);
		out = Buffer.alloc(0);
	}
}
