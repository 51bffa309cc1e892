import { writeAscii } from "./ascii";

/** UTC time parsing for the wire format: strict ISO-8601 with an explicit zone. */

const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** Milliseconds since the epoch of a strict ISO-8601 timestamp with an explicit zone; NaN if not one. */
export function parseIsoMs(s: unknown): number {
	if (typeof s !== "string") return NaN;
	const m = ISO_RE.exec(s);
	if (!m) return NaN;
	// Date.parse rolls 2024-02-30 over into March; PostgreSQL refuses it. Refuse it here, clearly.
	const [y, mo, d, h, mi, se] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number);
	if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || se > 59) return NaN;
	return Date.parse(s);
}

const MONTH_DAYS = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Days in month `mo` (1-12) of year `y` in the proleptic Gregorian calendar. */
export function daysInMonth(y: number, mo: number): number {
	return mo === 2 && y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : MONTH_DAYS[mo];
}

/** An event time (epoch ms) strictly between 1990 and 2100: that rejects a time in the wrong unit (seconds read as ms and so on). */
export function isEventMs(ms: number): boolean {
	return ms > 631152000000 && ms < 4102444800000;
}

export function isIsoTimestamp(s: unknown): s is string {
	const ms = parseIsoMs(s);
	return Number.isFinite(ms) && isEventMs(ms);
}

/**
 * Epoch ms to the ISO-8601 UTC text `Date.prototype.toISOString` gives ("2024-01-01T00:01:00.000Z"), without a
 * Date per call: a page of klines has two times per row, and consecutive rows share a day, so the day's
 * "YYYY-MM-DDT" is made once (by Date) and the time of day from arithmetic on lookup tables. Anything outside
 * the fast path (negative, fractional, after year 9999, not a number) is left to Date itself, errors included.
 */
const DAY_MS = 86_400_000;
/** 10000-01-01T00:00:00Z: from here on toISOString writes a six-digit signed year. */
const YEAR_10000_MS = 253_402_300_800_000;
const TWO = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, "0"));
const THREE = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, "0"));

let cachedDay = NaN;
let cachedPrefix = "";
let cachedPrefixBytes = new Uint8Array(11);
// The time of day of the last splitUtc call, as scalars (no object per call: both hot writers below read them).
let hh = 0;
let mi = 0;
let ss = 0;
let mss = 0;

/** Split ms (inside the fast range) into the day's "YYYY-MM-DDT", cached while days repeat, and the time of day. */
function splitUtc(ms: number): void {
	const day = Math.floor(ms / DAY_MS);
	if (day !== cachedDay) {
		cachedPrefix = new Date(day * DAY_MS).toISOString().slice(0, 11);
		cachedPrefixBytes = Uint8Array.from(cachedPrefix, (c) => c.charCodeAt(0));
		cachedDay = day;
	}
	let r = ms - day * DAY_MS;
	hh = Math.floor(r / 3_600_000);
	r -= hh * 3_600_000;
	mi = Math.floor(r / 60_000);
	r -= mi * 60_000;
	ss = Math.floor(r / 1000);
	mss = r - ss * 1000;
}

const fastRange = (ms: number) => Number.isInteger(ms) && ms >= 0 && ms < YEAR_10000_MS;

export function isoUtc(ms: number): string {
	if (!fastRange(ms)) return new Date(ms).toISOString();
	splitUtc(ms);
	return `${cachedPrefix}${TWO[hh]}:${TWO[mi]}:${TWO[ss]}.${THREE[mss]}Z`;
}

/** isoUtc's text as ASCII bytes into `out` at `at`, without a string in the fast range; returns the bytes written. */
export function writeIsoUtc(ms: number, out: Uint8Array, at: number): number {
	if (!fastRange(ms)) return writeAscii(new Date(ms).toISOString(), out, at) - at;
	splitUtc(ms);
	out.set(cachedPrefixBytes, at);
	out[at + 11] = 48 + Math.floor(hh / 10);
	out[at + 12] = 48 + (hh % 10);
	out[at + 13] = 58; // :
	return writeMinuteSecondMs(mi, ss, mss, out, at + 14) - at;
}

/** "MM:SS.mmmZ" into `out` at `at`; returns the end. */
function writeMinuteSecondMs(mi: number, ss: number, mss: number, out: Uint8Array, at: number): number {
	out[at] = 48 + Math.floor(mi / 10);
	out[at + 1] = 48 + (mi % 10);
	out[at + 2] = 58; // :
	out[at + 3] = 48 + Math.floor(ss / 10);
	out[at + 4] = 48 + (ss % 10);
	out[at + 5] = 46; // .
	out[at + 6] = 48 + Math.floor(mss / 100);
	out[at + 7] = 48 + (Math.floor(mss / 10) % 10);
	out[at + 8] = 48 + (mss % 10);
	out[at + 9] = 90; // Z
	return at + 10;
}

const HOUR_MS = 3_600_000;

/**
 * A writer of writeIsoUtc's text for offsets (ms) into one hour: the hour's "YYYY-MM-DDTHH:" once, then minutes,
 * seconds and milliseconds from the offset. An hour that does not start on the hour or lies outside the fast
 * range, and an offset outside the hour, are written by writeIsoUtc. The writer returns the end.
 */
export function hourIsoWriter(hourStartMs: number): (offset: number, out: Uint8Array, at: number) => number {
	if (!fastRange(hourStartMs) || hourStartMs % HOUR_MS !== 0) return (o, out, at) => at + writeIsoUtc(hourStartMs + o, out, at);
	const prefix = Buffer.from(isoUtc(hourStartMs).slice(0, 14));
	return (o, out, at) => {
		if (!(o >= 0 && o < HOUR_MS && Number.isInteger(o))) return at + writeIsoUtc(hourStartMs + o, out, at);
		out.set(prefix, at);
		const mi = Math.floor(o / 60_000);
		const rest = o - mi * 60_000;
		const ss = Math.floor(rest / 1000);
		return writeMinuteSecondMs(mi, ss, rest - ss * 1000, out, at + 14);
	};
}
