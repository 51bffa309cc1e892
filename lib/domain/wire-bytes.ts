import { daysInMonth as daysInMonthImport, isEventMs as isEventMsImport } from "./time";

// Bound once: under tsx (how the services run) every use of a named import is a getter call, per line here.
const daysInMonth = daysInMonthImport;
const isEventMs = isEventMsImport;

/**
 * The byte-level checks of a v2 wire line (lib/domain/codec's decodeWireBytes): char codes on the
 * payload, no string per line or field. Each check is the exact equivalent of the string check in
 * codec's itemProblem for the common form, and answers "not sure" for everything else, which then
 * takes the string path (test/domain/wire-bytes.spec holds the two paths to the same results).
 */

const MINUTE = 60_000;

export function digitsAt(b: Uint8Array, from: number, n: number): number {
	let v = 0;
	for (let i = from; i < from + n; i++) {
		const c = b[i] - 48;
		if (c < 0 || c > 9) return -1;
		v = v * 10 + c;
	}
	return v;
}

/** The start of a time's hour ("YYYY-MM-DDTHH") last read in one field, and its ms: most lines of a message share it. */
export class HourCache {
	readonly bytes = new Uint8Array(13);
	ms = NaN;
}

/**
 * The ms of the whole second of the time [s, e) in the form "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z" between 1990
 * and 2099 (the fraction checked, not read), NaN for anything else. The hour's date is validated once per
 * hour that `hour` sees.
 */
export function isoSecondMsAt(b: Uint8Array, s: number, e: number, hour: HourCache): number {
	const n = e - s;
	if (n < 20 || n > 30 || b[e - 1] !== 90 /* Z */ || b[s + 13] !== 58 || b[s + 16] !== 58) return NaN;
	if (n > 20 && (b[s + 19] !== 46 /* . */ || n < 22 || digitsAt(b, s + 20, n - 21) < 0)) return NaN;
	const m1 = b[s + 14] - 48, m2 = b[s + 15] - 48, s1 = b[s + 17] - 48, s2 = b[s + 18] - 48;
	if (m1 < 0 || m1 > 5 || m2 < 0 || m2 > 9 || s1 < 0 || s1 > 5 || s2 < 0 || s2 > 9) return NaN;
	const c = hour.bytes;
	let same = !Number.isNaN(hour.ms);
	for (let i = 12; same && i >= 0; i--) same = b[s + i] === c[i];
	if (!same) {
		if (b[s + 4] !== 45 || b[s + 7] !== 45 || b[s + 10] !== 84) return NaN;
		const y = digitsAt(b, s, 4);
		const mo = digitsAt(b, s + 5, 2);
		const d = digitsAt(b, s + 8, 2);
		const h = digitsAt(b, s + 11, 2);
		if (y < 1990 || y > 2099 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || d > daysInMonth(y, mo)) return NaN;
		c.set(b.subarray(s, s + 13));
		hour.ms = Date.UTC(y, mo - 1, d, h);
	}
	return hour.ms + (m1 * 10 + m2) * 60_000 + (s1 * 10 + s2) * 1000;
}

/** The whole ms of the fraction of the time [s, e) in the common form (its first 3 digits, as fastIsoMs reads them). */
export function fractionMs(b: Uint8Array, s: number, e: number): number {
	const f = e - s - 21;
	if (f <= 0) return 0;
	return f >= 3 ? digitsAt(b, s + 20, 3) : digitsAt(b, s + 20, f) * (f === 1 ? 100 : 10);
}

/** fastIsoMs on the bytes [s, e): the common form only (see isoSecondMsAt), NaN for anything else (the caller then asks the string path, which also knows offsets). */
function isoMsAt(b: Uint8Array, s: number, e: number, hour: HourCache): number {
	return isoSecondMsAt(b, s, e, hour) + fractionMs(b, s, e);
}

/** The tabs of the line [s, e) into `tabs`, when it has exactly `nFields` fields; false otherwise. */
export function lineTabs(b: Uint8Array, s: number, e: number, nFields: number, tabs: Int32Array): boolean {
	let nTabs = 0;
	for (let i = s; i < e; i++) {
		if (b[i] === 9) {
			if (nTabs === nFields - 1) return false;
			tabs[nTabs++] = i;
		}
	}
	return nTabs === nFields - 1;
}

/** ID_RE on bytes [s, e): "0" or up to 18 digits without a leading zero. */
function idAt(b: Uint8Array, s: number, e: number): boolean {
	const n = e - s;
	if (n < 1 || n > 18 || (n > 1 && b[s] === 48)) return false;
	return digitsAt(b, s, n) >= 0;
}

/** posDecimal on bytes [s, e) (0 = not one, 1 = a decimal >= 0, 2 = a decimal > 0): (0|[1-9]\d*)(\.\d+)?, at most 64 long. */
function decimalAt(b: Uint8Array, s: number, e: number): 0 | 1 | 2 {
	const n = e - s;
	if (n < 1 || n > 64) return 0;
	let nonZero = false;
	let i = s;
	if (b[i] === 48) i++;
	else {
		for (; i < e; i++) {
			const c = b[i];
			if (c === 46) break;
			if (c < 48 || c > 57) return 0;
			nonZero = true;
		}
		if (i === s) return 0;
	}
	if (i < e) {
		if (b[i] !== 46 || i + 1 === e) return 0;
		for (i++; i < e; i++) {
			const c = b[i];
			if (c < 48 || c > 57) return 0;
			if (c !== 48) nonZero = true;
		}
	}
	return nonZero ? 2 : 1;
}

function bytesEqual(b: Uint8Array, s1: number, e1: number, s2: number, e2: number): boolean {
	if (e1 - s1 !== e2 - s2) return false;
	for (let i = 0; i < e1 - s1; i++) if (b[s1 + i] !== b[s2 + i]) return false;
	return true;
}

const TAB_AT = new Int32Array(8);
const TIME_HOUR = new HourCache();
const RECV_HOUR = new HourCache();

/**
 * The byte check of one v2 line [s, e): true only when itemProblem would accept it (then `t` is set as
 * itemProblem sets it). False means "ask the string path", not "invalid": times with offsets, non-ASCII,
 * a time in a minute's last millisecond (whose sub-µs rounding the MinuteSet checks on the text) and
 * every malformed line go there.
 */
export function lineFast(b: Uint8Array, s: number, e: number, isTrade: boolean, t: { ms: number; placeholder: boolean }): boolean {
	if (!lineTabs(b, s, e, isTrade ? 6 : 7, TAB_AT)) return false;
	const t0 = TAB_AT[0], t1 = TAB_AT[1], t2 = TAB_AT[2], t3 = TAB_AT[3], t4 = TAB_AT[4];
	const ms = isoMsAt(b, s, t0, TIME_HOUR);
	if (!isEventMs(ms) || ms % MINUTE === MINUTE - 1) return false;
	if (!idAt(b, t0 + 1, t1)) return false;
	if (decimalAt(b, t1 + 1, t2) !== 2 || decimalAt(b, t2 + 1, t3) !== 2) return false;
	let placeholder: boolean;
	let recvAt: number;
	if (isTrade) {
		if (t4 - t3 !== 2) return false;
		const side = b[t3 + 1];
		if (side !== 98 /* b */ && side !== 115 /* s */ && side !== 45 /* - */) return false;
		placeholder = side === 45;
		recvAt = t4 + 1;
	} else {
		const t5 = TAB_AT[5];
		const bidDash = t4 - t3 === 2 && b[t3 + 1] === 45;
		const askDash = t5 - t4 === 2 && b[t4 + 1] === 45;
		if (!bidDash && decimalAt(b, t3 + 1, t4) === 0) return false;
		if (!askDash && decimalAt(b, t4 + 1, t5) === 0) return false;
		placeholder = bidDash || askDash;
		recvAt = t5 + 1;
	}
	if (!bytesEqual(b, s, t0, recvAt, e) && !(isoMsAt(b, recvAt, e, RECV_HOUR) > 0)) return false;
	t.ms = ms;
	t.placeholder = placeholder;
	return true;
}
