import { EPOCH_MS_MAX, EPOCH_MS_MIN, intervalGrid, parseKlines, type Kline } from "./binance-klines";
import { grownBuffer, writeUint } from "../domain/ascii";
import { isoUtc, writeIsoUtc } from "../domain/time";

/**
 * One /api/v3/klines answer as the pager needs it: the open times it holds, its rows as COPY text, and the
 * Kline objects only when someone asks (the upsert fallback, a page reaching outside its window).
 *
 * Binance answers in compact JSON (`[[1672531200000,"16541.77",...,"0"],...]`). The fast path reads that text
 * once, checking every field as parseKlines does, and writes the COPY rows as it goes: no JSON.parse into
 * arrays, no object per kline. Anything it does not expect (whitespace, another number form, a field that
 * fails a check) sends the page down the general path, JSON.parse + parseKlines, which accepts what is valid
 * and names the first bad row exactly as before; so the fast path never decides what is an error.
 */
export interface KlinePage {
	/** open times, ascending */
	openTimes: number[];
	/** COPY text rows (KLINE_COLUMNS order, each ending in a newline): bytes from the fast path, text from the general one */
	copy: string | Buffer;
	klines(): Kline[];
}

/** The page from its response body; `copyPrefix` is the escaped "venue\tsymbol\tinterval\t" of every row. */
export function klinePage(bytes: Buffer, interval: string, copyPrefix: string): KlinePage {
	let parsed: Kline[] | null = null;
	const klines = () => (parsed ??= parseKlines(JSON.parse(bytes.toString("utf8")), interval));
	const fast = scanKlineBytes(bytes, interval, Buffer.from(copyPrefix));
	if (fast) return { ...fast, klines };
	const rows = klines(); // throws KlineParseError (or SyntaxError) naming the problem
	return { openTimes: rows.map((k) => k.openTime), copy: klineRowsCopy(copyPrefix, rows), klines };
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
 * A JSON string holding a non-negative plain decimal (0|[1-9]\d*)(\.\d+)?, at most 64 characters, copied to the
 * output followed by a tab; false otherwise.
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
	for (let i = s; i < pos; i++) out[n++] = t[i];
	out[n++] = 9;
	pos++;
	return true;
}

const comma = () => t[pos++] === 44;

/** Epoch ms (in the bounds checked before) as ISO-8601 UTC text (24 bytes) into the output, without a string. */
function isoBytes(ms: number): void {
	n += writeIsoUtc(ms, out, n);
}

const ROW_MAX = 2 * 25 + 8 * 65 + 17;

/**
 * The fast path; null when the body is not exactly the expected compact, valid shape. Reads the answer's bytes and
 * writes the COPY rows as bytes: no string per field or row, nothing for the collector to copy while a batch of
 * pages waits for its write (strings held across awaits made the collector this process's largest cost).
 */
export function scanKlineBytes(body: Buffer, interval: string, prefix: Buffer): { openTimes: number[]; copy: Buffer } | null {
	const grid = intervalGrid(interval);
	t = body;
	pos = 0;
	// an output row is the prefix plus at most ROW_MAX bytes (two times, eight decimals of up to 64 characters, a count)
	out = Buffer.allocUnsafe(body.length + 64 * 1024);
	n = 0;
	try {
		const openTimes: number[] = [];
		if (t[pos++] !== 91) return null;
		if (t[pos] === 93) return pos + 1 === t.length ? { openTimes, copy: out.subarray(0, 0) } : null;
		let prev = -Infinity;
		for (;;) {
			if (out.length - n < prefix.length + ROW_MAX) out = grownBuffer(out, n, prefix.length + ROW_MAX);
			if (t[pos++] !== 91) return null;
			const open = int();
			if (open < EPOCH_MS_MIN || open > EPOCH_MS_MAX || (open - grid.offsetMs) % grid.ms !== 0 || open <= prev || !comma()) return null;
			n += prefix.copy(out, n);
			isoBytes(open);
			out[n++] = 9;
			// the close time comes after five decimals in the answer and before them in the row: its place is kept
			const closeAt = n;
			n += 25;
			if (!dec() || !comma() || !dec() || !comma() || !dec() || !comma() || !dec() || !comma() || !dec() || !comma()) return null;
			const close = int();
			if (close !== open + grid.ms - 1 || !comma()) return null;
			const afterFive = n;
			n = closeAt;
			isoBytes(close);
			out[n++] = 9;
			n = afterFive;
			if (!dec() || !comma()) return null;
			const trades = int();
			if (trades < 0 || !comma()) return null;
			n = writeUint(trades, out, n);
			out[n++] = 9;
			if (!dec() || !comma() || !dec()) return null;
			out[n - 1] = 10; // the last field ends the row
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
			if (next === 93) return pos === t.length ? { openTimes, copy: out.subarray(0, n) } : null;
			if (next !== 44) return null;
		}
	} finally {
		t = Buffer.alloc(0);
		out = Buffer.alloc(0);
	}
}
