import Decimal from "decimal.js";
import { unsignedDecimalEnd } from "../../domain/decimal";

const decimalEnd = unsignedDecimalEnd; // bound once: under tsx an imported call is a getter call per use

/**
 * Exact numbers for Kraken frames (parseExact lives in lib/domain/exact-json). WebSocket v2 sends prices and sizes as JSON numbers, and
 * `JSON.parse` would turn "29430.20" into the float 29430.2 (and lose digits past 2^53 in trade ids).
 * `parseExact` quotes every number token before `JSON.parse`, so each number reaches our code as its
 * original text; `renderDecimal` then pads or trims that text to the pair's precision without any
 * float arithmetic.
 */

export { parseExact, quoteJsonNumbers } from "../../domain/exact-json";

const MINUS = 45;

const PLAIN_RE = /^-?\d+(\.\d+)?$/;
const NUMBER_RE = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/** True when s is the text of a JSON number. */
export function isNumberText(s: unknown): s is string {
	return typeof s === "string" && s.length <= 64 && NUMBER_RE.test(s);
}

/**
 * The exact decimal `raw` (JSON number text such as "4.0", "29430.2", "1e-8") written with exactly
 * `dp` decimals: zeros are added or trailing zeros removed. Digits that are not zero are never
 * dropped: if `raw` carries more significant decimals than `dp`, the result keeps them (and a
 * checksum over it will then rightly fail). Without `dp` the shortest exact plain form is returned.
 */
export function renderDecimal(raw: string, dp?: number): string {
	const plain = renderPlain(raw, dp ?? 0);
	return plain ?? renderSlow(raw, dp);
}

const ZEROS = Array.from({ length: 33 }, (_, i) => "0".repeat(i));

/**
 * renderDecimal for the text Kraken sends nearly always, a non-negative plain decimal without leading
 * zeros, scanned once: the text itself when it already has `dp` decimals (no new string), else padded
 * or trimmed. Null for anything else (signs, exponents, leading zeros, not a number).
 */
function renderPlain(raw: string, keep: number): string | null {
	const n = raw.length;
	if (n === 0 || decimalEnd(raw, 0) !== n) return null;
	const dot = raw.indexOf(".");
	const frac = dot < 0 ? 0 : n - dot - 1;
	if (frac === keep) return raw;
	if (frac < keep) {
		const pad = keep - frac;
		const zeros = pad < ZEROS.length ? ZEROS[pad] : "0".repeat(pad);
		return dot < 0 ? raw + "." + zeros : raw + zeros;
	}
	// more decimals than dp: trailing zeros go, significant digits stay
	const min = dot + 1 + keep;
	let end = n;
	while (end > min && raw.charCodeAt(end - 1) === 48) end--;
	if (end === dot + 1) end = dot;
	return end === n ? raw : raw.slice(0, end);
}

function renderSlow(raw: string, dp?: number): string {
	let s = raw;
	if (!PLAIN_RE.test(s)) {
		if (!NUMBER_RE.test(s)) throw new RangeError(`not a number: ${JSON.stringify(raw)}`);
		s = new Decimal(s).toFixed(); // exponent form: decimal.js expands it exactly
	}
	let sign = "";
	if (s.charCodeAt(0) === MINUS) {
		sign = "-";
		s = s.slice(1);
	}
	const dot = s.indexOf(".");
	let int = dot < 0 ? s : s.slice(0, dot);
	let frac = dot < 0 ? "" : s.slice(dot + 1);
	if (int.length > 1 && int.charCodeAt(0) === 48) int = int.replace(/^0+(?=\d)/, "");
	const keep = dp ?? 0;
	if (frac.length > keep) {
		let end = frac.length;
		while (end > keep && frac.charCodeAt(end - 1) === 48) end--;
		frac = frac.slice(0, end);
	} else if (frac.length < keep) frac = frac + "0".repeat(keep - frac.length);
	if (sign && /^0*$/.test(int + frac)) sign = "";
	return sign + (frac ? `${int}.${frac}` : int);
}

/** A rendered decimal as Kraken's checksum wants it: '.' removed, leading zeros stripped. */
export function checksumToken(rendered: string): string {
	let s = rendered.replace(".", "");
	let i = 0;
	while (i < s.length - 1 && s.charCodeAt(i) === 48) i++;
	if (i > 0) s = s.slice(i);
	return s;
}

/** Order two non-negative plain decimal strings numerically without converting them to floats. */
export function compareDecimal(a: string, b: string): number {
	if (a === b) return 0;
	let da = a.indexOf(".");
	if (da < 0) da = a.length;
	let db = b.indexOf(".");
	if (db < 0) db = b.length;
	if (da !== db) return da < db ? -1 : 1; // integer parts of different lengths (no leading zeros)
	// same integer length: digit by digit, the shorter fraction read as padded with zeros
	const n = a.length > b.length ? a.length : b.length;
	for (let i = 0; i < n; i++) {
		if (i === da) continue;
		const ca = i < a.length ? a.charCodeAt(i) : 48;
		const cb = i < b.length ? b.charCodeAt(i) : 48;
		if (ca !== cb) return ca < cb ? -1 : 1;
	}
	return 0;
}

/** True when the plain decimal string is zero ("0", "0.0", "0.00000000"). */
export function isZeroDecimal(s: string): boolean {
	for (let i = 0; i < s.length; i++) {
		const c = s.charCodeAt(i);
		if (c !== 48 && c !== 46 && c !== MINUS) return false;
	}
	return true;
}
