import { intervalGrid, parseKlines, type Kline } from "./binance-klines";
import { unsignedDecimalEnd } from "../domain/decimal";
import { isoUtc } from "../domain/time";

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
	/** COPY text rows (KLINE_COLUMNS order, each ending in a newline) */
	copy: string;
	klines(): Kline[];
}

const EPOCH_MS_MIN = 631152000000; // the bounds parseKlines checks
const EPOCH_MS_MAX = 4102444800000;

/** The page from its response text; `copyPrefix` is the escaped "venue\tsymbol\tinterval\t" of every row. */
export function klinePage(text: string, interval: string, copyPrefix: string): KlinePage {
	let parsed: Kline[] | null = null;
	const klines = () => (parsed ??= parseKlines(JSON.parse(text), interval));
	const fast = scanKlines(text, interval, copyPrefix);
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

// The scanner's cursor (one scan at a time: it never awaits).
let t = "";
let pos = 0;

/** A JSON integer without sign, fraction or exponent that is a safe integer; -1 otherwise. */
function int(): number {
	const s = pos;
	let v = 0;
	let c = t.charCodeAt(pos);
	while (c >= 48 && c <= 57) {
		v = v * 10 + (c - 48);
		c = t.charCodeAt(++pos);
	}
	const len = pos - s;
	if (len === 0 || len > 16 || (len > 1 && t.charCodeAt(s) === 48) || !Number.isSafeInteger(v)) return -1;
	return v;
}

/** A JSON string holding a non-negative plain decimal (0|[1-9]\d*)(\.\d+)?, at most 64 characters; null otherwise. */
function dec(): string | null {
	if (t.charCodeAt(pos) !== 34) return null;
	const s = ++pos;
	const end = unsignedDecimalEnd(t, s);
	if (end < 0 || t.charCodeAt(end) !== 34 || end - s > 64) return null;
	pos = end;
	return t.slice(s, pos++);
}

const comma = () => t.charCodeAt(pos++) === 44;

/** The fast path; null when the text is not exactly the expected compact, valid shape. */
export function scanKlines(text: string, interval: string, copyPrefix: string): { openTimes: number[]; copy: string } | null {
	const grid = intervalGrid(interval);
	t = text;
	pos = 0;
	try {
		const openTimes: number[] = [];
		// Rows gathered and joined once at the end: one flat string per page, and the intermediate strings die
		// young (a page held across awaits as a tree of concatenations made the collector the biggest cost).
		const lines: string[] = [];
		if (t.charCodeAt(pos++) !== 91) return null;
		if (t.charCodeAt(pos) === 93) return pos + 1 === t.length ? { openTimes, copy: "" } : null;
		let prev = -Infinity;
		for (;;) {
			if (t.charCodeAt(pos++) !== 91) return null;
			const open = int();
			if (open < EPOCH_MS_MIN || open > EPOCH_MS_MAX || (open - grid.offsetMs) % grid.ms !== 0 || open <= prev || !comma()) return null;
			const o = dec();
			if (o === null || !comma()) return null;
			const h = dec();
			if (h === null || !comma()) return null;
			const l = dec();
			if (l === null || !comma()) return null;
			const c = dec();
			if (c === null || !comma()) return null;
			const v = dec();
			if (v === null || !comma()) return null;
			const close = int();
			if (close !== open + grid.ms - 1 || !comma()) return null;
			const qv = dec();
			if (qv === null || !comma()) return null;
			const trades = int();
			if (trades < 0 || !comma()) return null;
			const tbv = dec();
			if (tbv === null || !comma()) return null;
			const tqv = dec();
			if (tqv === null) return null;
			if (t.charCodeAt(pos) === 44) {
				pos++; // Binance's unused 12th field, a string
				if (t.charCodeAt(pos) !== 34) return null;
				let c = t.charCodeAt(++pos);
				while (c !== 34 && c !== 92 && pos < t.length) c = t.charCodeAt(++pos);
				if (c !== 34) return null; // an escape, or the end of the text
				pos++;
			}
			if (t.charCodeAt(pos++) !== 93) return null;
			prev = open;
			openTimes.push(open);
			lines.push(`${copyPrefix}${isoUtc(open)}\t${isoUtc(close)}\t${o}\t${h}\t${l}\t${c}\t${v}\t${qv}\t${trades}\t${tbv}\t${tqv}\n`);
			const next = t.charCodeAt(pos++);
			if (next === 93) return pos === t.length ? { openTimes, copy: lines.join("") } : null;
			if (next !== 44) return null;
		}
	} finally {
		t = "";
	}
}
