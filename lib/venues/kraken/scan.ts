import { unsignedDecimalEnd } from "../../domain/decimal";
import { daysInMonth, isIsoTimestamp } from "../../domain/time";
import type { WsBook, WsLevel, WsTicker, WsTrade } from "./messages";

/**
 * The fast path of decodeFrame: an exact scanner for Kraken v2 data frames (trade, ticker, book) in the
 * compact layout and key order Kraken sends them, reading the text with charCodeAt and keeping every
 * number's source text (exact decimals, no float ever made). It validates as it goes exactly what
 * parse.ts validates (non-negative plain decimals for prices and sizes, integer ids and checksums,
 * RFC 3339 UTC timestamps, buy/sell) and gives up (returns null) at the first thing it does not expect:
 * another key order, whitespace, escapes, exponent notation, a bad value, trailing text. decodeFrame
 * then decodes that frame with the full parser (parseExact + validation), which accepts, reports or
 * rejects it as it always did; so this path can only be faster, never decide differently.
 */

const decimalEnd = unsignedDecimalEnd; // bound once: under tsx an imported call is a getter call per use

const QUOTE = 34;
const COMMA = 44;
const MINUS = 45;
const DOT = 46;
const ZERO = 48;
const NINE = 57;
const RBRACK = 93;
const BACKSLASH = 92;
const RBRACE = 125;
const LOWER_E = 101;
const UPPER_E = 69;
const PLUS = 43;

/** The char codes of a literal, for lit(). */
function codes(text: string): readonly number[] {
	return Array.from(text, (c) => c.charCodeAt(0));
}

/** Whether s has the literal at i (a charCodeAt loop: faster here than String.prototype.startsWith, a builtin call per key). */
function lit(s: string, i: number, code: readonly number[]): boolean {
	const n = code.length;
	for (let k = 0; k < n; k++) if (s.charCodeAt(i + k) !== code[k]) return false;
	return true;
}

/** Whether s has the text t at i. */
function sameText(s: string, i: number, t: string): boolean {
	const n = t.length;
	for (let k = 0; k < n; k++) if (s.charCodeAt(i + k) !== t.charCodeAt(k)) return false;
	return true;
}

// The keys and literals of Kraken's layout.
const L_ASK = codes(',"ask":');
const L_ASKS = codes(',"asks":');
const L_ASK_QTY = codes(',"ask_qty":');
const L_BID = codes(',"bid":');
const L_BIDS = codes(',"bids":');
const L_BID_QTY = codes(',"bid_qty":');
const L_BOOK = codes('book"');
const L_BUY = codes('buy"');
const L_CHANGE = codes(',"change":');
const L_CHANGE_PCT = codes(',"change_pct":');
const L_CHANNEL = codes('{"channel":"');
const L_CHECKSUM = codes(',"checksum":');
const L_HIGH = codes(',"high":');
const L_LAST = codes(',"last":');
const L_LIMIT = codes('"limit"');
const L_LOW = codes(',"low":');
const L_MARKET = codes('"market"');
const L_ORD_TYPE = codes(',"ord_type":');
const L_LEVEL_PRICE = codes('{"price":');
const L_PRICE = codes(',"price":');
const L_QTY = codes(',"qty":');
const L_SELL = codes('sell"');
const L_SIDE = codes(',"side":"');
const L_SYMBOL = codes('{"symbol":');
const L_TICKER = codes('ticker"');
const L_TIMESTAMP = codes(',"timestamp":');
const L_TRADE = codes('trade"');
const L_TRADE_ID = codes(',"trade_id":');
const L_TYPE_SNAPSHOT_DATA = codes(',"type":"snapshot","data":[');
const L_TYPE_UPDATE_DATA = codes(',"type":"update","data":[');
const L_VOLUME = codes(',"volume":');
const L_VWAP = codes(',"vwap":');

/** The text of the token scanned last (a module slot instead of a result object per token). */
let tok = "";
/** The symbol read last: frames repeat it item after item, so it is compared in place, not sliced again. */
let lastSymbol = "";

/** A string without escapes or control characters at s[i] (the opening quote); the index after its closing quote, or -1. */
function plainString(s: string, i: number): number {
	if (s.charCodeAt(i) !== QUOTE) return -1;
	const start = i + 1;
	const end = s.indexOf('"', start);
	if (end < 0) return -1;
	for (let j = start; j < end; j++) {
		const c = s.charCodeAt(j);
		if (c < 32 || c === BACKSLASH) return -1;
	}
	tok = s.slice(start, end);
	return end + 1;
}

function symbolAt(s: string, i: number): number {
	const n = lastSymbol.length;
	if (n > 0 && s.charCodeAt(i) === QUOTE && s.charCodeAt(i + n + 1) === QUOTE && sameText(s, i + 1, lastSymbol)) {
		tok = lastSymbol;
		return i + n + 2;
	}
	const j = plainString(s, i);
	if (j >= 0) lastSymbol = tok;
	return j;
}

/** A non-negative plain decimal `(0|[1-9]\d*)(\.\d+)?` of at most 64 characters (what parse.ts calls pos), ending at ',' or '}'. */
function unsignedAt(s: string, i: number): number {
	const start = i;
	i = decimalEnd(s, i);
	if (i < 0) return -1;
	const c = s.charCodeAt(i);
	if ((c !== COMMA && c !== RBRACE) || i - start > 64) return -1;
	tok = s.slice(start, i);
	return i;
}

/** Any JSON number `-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?` (fields kept as text, not validated further), ending at ',' or '}'. */
function numberAt(s: string, i: number): number {
	const start = i;
	i = decimalEnd(s, s.charCodeAt(i) === MINUS ? i + 1 : i);
	if (i < 0) return -1;
	let c = s.charCodeAt(i);
	if (c === LOWER_E || c === UPPER_E) {
		c = s.charCodeAt(++i);
		if (c === PLUS || c === MINUS) c = s.charCodeAt(++i);
		if (!(c >= ZERO && c <= NINE)) return -1;
		do c = s.charCodeAt(++i);
		while (c >= ZERO && c <= NINE);
	}
	if (c !== COMMA && c !== RBRACE) return -1;
	tok = s.slice(start, i);
	return i;
}

/** An id `0|[1-9]\d{0,maxDigits-1}` (ID_RE for trade ids), ending at ',' or '}'. */
function idAt(s: string, i: number, maxDigits: number): number {
	const start = i;
	let c = s.charCodeAt(i);
	if (c === ZERO) c = s.charCodeAt(++i);
	else if (c > ZERO && c <= NINE) {
		do c = s.charCodeAt(++i);
		while (c >= ZERO && c <= NINE);
	} else return -1;
	if ((c !== COMMA && c !== RBRACE) || i - start > maxDigits) return -1;
	tok = s.slice(start, i);
	return i;
}

function isDigit(s: string, i: number): boolean {
	const c = s.charCodeAt(i);
	return c >= ZERO && c <= NINE;
}

/** Two decimal digits at s[i] as a number, or -1. */
function two(s: string, i: number): number {
	const a = s.charCodeAt(i) - ZERO;
	const b = s.charCodeAt(i + 1) - ZERO;
	return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/**
 * Whether s[start, end) is what isIsoTimestamp accepts. The form Kraken sends (`YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z`,
 * years 1991-2099, well inside isIsoTimestamp's 1990-2100 window) is checked in place; anything else is
 * handed to isIsoTimestamp itself.
 */
export function isoTimestampAt(s: string, start: number, end: number): boolean {
	return krakenFormAt(s, start, end) || isIsoTimestamp(s.slice(start, end));
}

/** Whether s[start, end) is a valid time in Kraken's form (see isoTimestampAt); false says only "not this form". */
function krakenFormAt(s: string, start: number, end: number): boolean {
	const n = end - start;
	if (n < 20 || s.charCodeAt(end - 1) !== 90 /* Z */ || s.charCodeAt(start + 4) !== MINUS || s.charCodeAt(start + 7) !== MINUS || s.charCodeAt(start + 10) !== 84 /* T */ || s.charCodeAt(start + 13) !== 58) return false;
	const c = two(s, start);
	const yy = two(s, start + 2);
	const y = c < 0 || yy < 0 ? -1 : c * 100 + yy;
	const mo = two(s, start + 5);
	const d = two(s, start + 8);
	const h = two(s, start + 11);
	if (!(y > 1990 && y < 2100 && mo >= 1 && mo <= 12 && h >= 0 && h <= 23 && d >= 1)) return false;
	return d <= daysInMonth(y, mo) && minutesSecondsAt(s, start + 14, end);
}

/** `MM:SS[.f{1,9}]Z` exactly filling s[i, end). */
function minutesSecondsAt(s: string, i: number, end: number): boolean {
	const mi = two(s, i);
	const se = two(s, i + 3);
	if (!(mi >= 0 && mi <= 59 && s.charCodeAt(i + 2) === 58 && se >= 0 && se <= 59)) return false;
	const n = end - i;
	if (n === 6) return true; // MM:SSZ
	if (n < 8 || n > 16 || s.charCodeAt(i + 5) !== DOT) return false;
	for (let j = i + 6; j < end - 1; j++) if (!isDigit(s, j)) return false;
	return true;
}

/** `YYYY-MM-DDTHH:` of the last timestamp accepted in Kraken's form: a frame's times share it, so only the rest is checked. */
let lastTimeHead: string | null = null;

/** A timestamp string at s[i] (the opening quote): the index after its closing quote (its text in `tok`), or -1 when it is not a valid time. */
function timestampAt(s: string, i: number): number {
	const j = plainString(s, i);
	if (j < 0) return -1;
	const start = i + 1;
	const end = j - 1;
	if (lastTimeHead !== null && end - start >= 20 && s.charCodeAt(end - 1) === 90 && sameText(s, start, lastTimeHead) && minutesSecondsAt(s, start + 14, end)) return j;
	if (krakenFormAt(s, start, end)) {
		lastTimeHead = s.slice(start, start + 14);
		return j;
	}
	return isIsoTimestamp(tok) ? j : -1;
}

// ---- items ----

let item: unknown = null;

function tradeAt(s: string, i: number): number {
	if (!lit(s, i, L_SYMBOL)) return -1;
	i = symbolAt(s, i + 10);
	if (i < 0) return -1;
	const symbol = tok;
	if (!lit(s, i, L_SIDE)) return -1;
	i += 9;
	let side: "buy" | "sell";
	if (lit(s, i, L_BUY)) {
		side = "buy";
		i += 4;
	} else if (lit(s, i, L_SELL)) {
		side = "sell";
		i += 5;
	} else return -1;
	if (!lit(s, i, L_PRICE)) return -1;
	i = unsignedAt(s, i + 9);
	if (i < 0) return -1;
	const price = tok;
	if (!lit(s, i, L_QTY)) return -1;
	i = unsignedAt(s, i + 7);
	if (i < 0) return -1;
	const qty = tok;
	let ordType: string | undefined;
	if (lit(s, i, L_ORD_TYPE)) {
		i += 12;
		if (lit(s, i, L_LIMIT)) {
			ordType = "limit";
			i += 7;
		} else if (lit(s, i, L_MARKET)) {
			ordType = "market";
			i += 8;
		} else {
			i = plainString(s, i);
			if (i < 0) return -1;
			ordType = tok;
		}
	}
	if (!lit(s, i, L_TRADE_ID)) return -1;
	i = idAt(s, i + 12, 18);
	if (i < 0) return -1;
	const tradeId = tok;
	if (!lit(s, i, L_TIMESTAMP)) return -1;
	i = timestampAt(s, i + 13);
	if (i < 0 || s.charCodeAt(i) !== RBRACE) return -1;
	const timestamp = tok;
	const t: WsTrade =
		ordType === undefined ? { symbol, side, price, qty, trade_id: tradeId, timestamp } : { symbol, side, price, qty, ord_type: ordType, trade_id: tradeId, timestamp };
	item = t;
	return i + 1;
}

/** `,"key":<number>` at s[i]; the index after the number, or -1. */
function numberField(s: string, i: number, key: readonly number[]): number {
	if (!lit(s, i, key)) return -1;
	return numberAt(s, i + key.length);
}

function unsignedField(s: string, i: number, key: readonly number[]): number {
	if (!lit(s, i, key)) return -1;
	return unsignedAt(s, i + key.length);
}

function tickerAt(s: string, i: number): number {
	if (!lit(s, i, L_SYMBOL)) return -1;
	i = symbolAt(s, i + 10);
	if (i < 0) return -1;
	const symbol = tok;
	if ((i = unsignedField(s, i, L_BID)) < 0) return -1;
	const bid = tok;
	if ((i = unsignedField(s, i, L_BID_QTY)) < 0) return -1;
	const bidQty = tok;
	if ((i = unsignedField(s, i, L_ASK)) < 0) return -1;
	const ask = tok;
	if ((i = unsignedField(s, i, L_ASK_QTY)) < 0) return -1;
	const askQty = tok;
	if ((i = numberField(s, i, L_LAST)) < 0) return -1;
	const last = tok;
	if ((i = numberField(s, i, L_VOLUME)) < 0) return -1;
	const volume = tok;
	if ((i = numberField(s, i, L_VWAP)) < 0) return -1;
	const vwap = tok;
	if ((i = numberField(s, i, L_LOW)) < 0) return -1;
	const low = tok;
	if ((i = numberField(s, i, L_HIGH)) < 0) return -1;
	const high = tok;
	if ((i = numberField(s, i, L_CHANGE)) < 0) return -1;
	const change = tok;
	if ((i = numberField(s, i, L_CHANGE_PCT)) < 0) return -1;
	const changePct = tok;
	let t: WsTicker;
	if (lit(s, i, L_TIMESTAMP)) {
		i = timestampAt(s, i + 13);
		if (i < 0) return -1;
		const timestamp = tok;
		t = { symbol, bid, bid_qty: bidQty, ask, ask_qty: askQty, last, volume, vwap, low, high, change, change_pct: changePct, timestamp };
	} else t = { symbol, bid, bid_qty: bidQty, ask, ask_qty: askQty, last, volume, vwap, low, high, change, change_pct: changePct };
	if (s.charCodeAt(i) !== RBRACE) return -1;
	item = t;
	return i + 1;
}

let levels: WsLevel[] = [];

/** `[{"price":p,"qty":q},…]` at s[i]; fills `levels`, returns the index after ']' or -1. */
function levelsAt(s: string, i: number): number {
	levels = [];
	if (s.charCodeAt(i) !== 91 /* [ */) return -1;
	i++;
	if (s.charCodeAt(i) === RBRACK) return i + 1;
	for (;;) {
		if (!lit(s, i, L_LEVEL_PRICE)) return -1;
		i = unsignedAt(s, i + 9);
		if (i < 0) return -1;
		const price = tok;
		if (!lit(s, i, L_QTY)) return -1;
		i = unsignedAt(s, i + 7);
		if (i < 0 || s.charCodeAt(i) !== RBRACE) return -1;
		levels.push({ price, qty: tok });
		const c = s.charCodeAt(i + 1);
		i += 2;
		if (c === RBRACK) return i;
		if (c !== COMMA) return -1;
	}
}

function bookAt(s: string, i: number): number {
	if (!lit(s, i, L_SYMBOL)) return -1;
	i = symbolAt(s, i + 10);
	if (i < 0) return -1;
	const symbol = tok;
	if (!lit(s, i, L_BIDS)) return -1;
	i = levelsAt(s, i + 8);
	if (i < 0) return -1;
	const bids = levels;
	if (!lit(s, i, L_ASKS)) return -1;
	i = levelsAt(s, i + 8);
	if (i < 0) return -1;
	const asks = levels;
	if (!lit(s, i, L_CHECKSUM)) return -1;
	i = idAt(s, i + 12, 10);
	if (i < 0 || Number(tok) > 0xffffffff) return -1;
	const checksum = tok;
	let b: WsBook;
	if (lit(s, i, L_TIMESTAMP)) {
		i = timestampAt(s, i + 13);
		if (i < 0) return -1;
		b = { symbol, bids, asks, checksum, timestamp: tok };
	} else b = { symbol, bids, asks, checksum };
	if (s.charCodeAt(i) !== RBRACE) return -1;
	item = b;
	return i + 1;
}

// ---- frames ----

export type ScannedFrame =
	| { kind: "trade"; type: "snapshot" | "update"; trades: WsTrade[]; problems: string[] }
	| { kind: "ticker"; type: "snapshot" | "update"; tickers: WsTicker[]; problems: string[] }
	| { kind: "book"; type: "snapshot" | "update"; books: WsBook[]; problems: string[] };

/**
 * A trade, ticker or book frame decoded in one pass, every item valid; null when the frame is anything
 * else or not in the exact compact layout (decodeFrame's full parser then has the last word).
 */
export function scanDataFrame(s: string): ScannedFrame | null {
	if (!lit(s, 0, L_CHANNEL)) return null;
	let i = 12;
	let scanItem: (s: string, i: number) => number;
	let kind: 0 | 1 | 2;
	if (lit(s, i, L_TRADE)) {
		scanItem = tradeAt;
		kind = 0;
		i += 6;
	} else if (lit(s, i, L_TICKER)) {
		scanItem = tickerAt;
		kind = 1;
		i += 7;
	} else if (lit(s, i, L_BOOK)) {
		scanItem = bookAt;
		kind = 2;
		i += 5;
	} else return null;
	let type: "snapshot" | "update";
	if (lit(s, i, L_TYPE_UPDATE_DATA)) {
		type = "update";
		i += 25;
	} else if (lit(s, i, L_TYPE_SNAPSHOT_DATA)) {
		type = "snapshot";
		i += 27;
	} else return null;
	const items: unknown[] = [];
	for (;;) {
		i = scanItem(s, i);
		if (i < 0) return null;
		items.push(item);
		const c = s.charCodeAt(i++);
		if (c === RBRACK) break;
		if (c !== COMMA) return null;
	}
	if (s.charCodeAt(i) !== RBRACE || i + 1 !== s.length) return null;
	item = null;
	if (kind === 0) return { kind: "trade", type, trades: items as WsTrade[], problems: [] };
	if (kind === 1) return { kind: "ticker", type, tickers: items as WsTicker[], problems: [] };
	return { kind: "book", type, books: items as WsBook[], problems: [] };
}
