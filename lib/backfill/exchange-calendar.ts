import { HOUR_MS, usDaylightTime } from "./hours";

/**
 * Trading sessions of the stock exchanges behind Dukascopy's equity CFDs (the suffix of AAPL.US/USD,
 * SAP.DE/EUR, 0700.HK/HKD), which follow their exchange: regular session only, Monday to Friday, local
 * time, with the exchange's full-day holidays. US (NYSE/Nasdaq) holidays are complete; elsewhere the
 * holidays that close every European market (New Year, Good Friday, Easter Monday, Christmas, 26 December)
 * and New Year in Asia and Mexico are modelled. An unmodelled holiday comes back as an empty hour, which
 * the backfill records as a valid result.
 */
type Zone = "us" | "eu" | "uk" | "eet" | "wet" | { fixed: number };

interface Session {
	zone: Zone;
	open: number; // minutes after local midnight
	close: number;
	holidays: "us" | "europe" | "newyear";
}

const hm = (h: number, m = 0) => h * 60 + m;
const EU_CASH: Session = { zone: "eu", open: hm(9), close: hm(17, 30), holidays: "europe" };

export const EXCHANGE_SESSIONS: Record<string, Session> = {
	US: { zone: "us", open: hm(9, 30), close: hm(16), holidays: "us" },
	GB: { zone: "uk", open: hm(8), close: hm(16, 30), holidays: "europe" },
	FN: { zone: "uk", open: hm(8), close: hm(16, 30), holidays: "europe" }, // Irish-domiciled funds, traded in London
	IE: { zone: "uk", open: hm(8), close: hm(16, 30), holidays: "europe" },
	PT: { zone: "wet", open: hm(8), close: hm(16, 30), holidays: "europe" },
	DE: EU_CASH,
	FR: EU_CASH,
	NL: EU_CASH,
	BE: EU_CASH,
	IT: EU_CASH,
	ES: EU_CASH,
	AT: EU_CASH,
	CH: EU_CASH,
	SE: EU_CASH,
	DK: EU_CASH,
	NO: { zone: "eu", open: hm(9), close: hm(16, 20), holidays: "europe" },
	FI: { zone: "eet", open: hm(10), close: hm(18, 30), holidays: "europe" },
	JP: { zone: { fixed: 9 }, open: hm(9), close: hm(15, 30), holidays: "newyear" },
	HK: { zone: { fixed: 8 }, open: hm(9, 30), close: hm(16), holidays: "newyear" },
	MX: { zone: { fixed: -6 }, open: hm(8, 30), close: hm(15), holidays: "newyear" },
};

/** EU summer time: last Sunday of March 01:00 UTC to last Sunday of October 01:00 UTC. */
function euSummerTime(ms: number): boolean {
	const y = new Date(ms).getUTCFullYear();
	const lastSunday = (month: number) => {
		const d = new Date(Date.UTC(y, month + 1, 0));
		return Date.UTC(y, month, d.getUTCDate() - d.getUTCDay(), 1);
	};
	return ms >= lastSunday(2) && ms < lastSunday(9);
}

function offsetHours(zone: Zone, ms: number): number {
	if (typeof zone === "object") return zone.fixed;
	if (zone === "us") return usDaylightTime(ms) ? -4 : -5;
	const summer = euSummerTime(ms) ? 1 : 0;
	return { eu: 1, uk: 0, wet: 0, eet: 2 }[zone] + summer;
}

/** Easter Sunday (Gregorian, anonymous algorithm) as a UTC date. */
export function easterSunday(y: number): Date {
	const a = y % 19, b = Math.floor(y / 100), c = y % 100, d = Math.floor(b / 4), e = b % 4;
	const f = Math.floor((b + 8) / 25), g = Math.floor((b - f + 1) / 3), h = (19 * a + b - d - g + 15) % 30;
	const i = Math.floor(c / 4), k = c % 4, l = (32 + 2 * e + 2 * i - h - k) % 7, m = Math.floor((a + 11 * h + 22 * l) / 451);
	const month = Math.floor((h + l - 7 * m + 114) / 31), day = ((h + l - 7 * m + 114) % 31) + 1;
	return new Date(Date.UTC(y, month - 1, day));
}

const ymd = (d: Date) => d.toISOString().slice(0, 10);
const utcDate = (y: number, m: number, d: number) => new Date(Date.UTC(y, m, d));
/** The n-th (1-based) weekday `wd` of a month; n = -1 for the last. */
function nthWeekday(y: number, m: number, wd: number, n: number): Date {
	if (n > 0) {
		const first = utcDate(y, m, 1).getUTCDay();
		return utcDate(y, m, 1 + ((wd - first + 7) % 7) + (n - 1) * 7);
	}
	const last = utcDate(y, m + 1, 0);
	return utcDate(y, m, last.getUTCDate() - ((last.getUTCDay() - wd + 7) % 7));
}
/** NYSE moves a Saturday holiday to Friday and a Sunday one to Monday. */
function observed(d: Date): Date {
	const wd = d.getUTCDay();
	return wd === 6 ? new Date(d.getTime() - 86_400_000) : wd === 0 ? new Date(d.getTime() + 86_400_000) : d;
}

const holidayCache = new Map<string, Set<string>>();
export function holidays(kind: Session["holidays"], y: number): Set<string> {
	const key = `${kind}:${y}`;
	let s = holidayCache.get(key);
	if (s) return s;
	const easter = easterSunday(y).getTime();
	const goodFriday = new Date(easter - 2 * 86_400_000);
	const list: Date[] = [utcDate(y, 0, 1)];
	if (kind === "us") {
		list.push(observed(utcDate(y, 0, 1)), nthWeekday(y, 0, 1, 3), nthWeekday(y, 1, 1, 3), goodFriday, nthWeekday(y, 4, 1, -1), observed(utcDate(y, 6, 4)), nthWeekday(y, 8, 1, 1), nthWeekday(y, 10, 4, 4), observed(utcDate(y, 11, 25)));
		if (y >= 2022) list.push(observed(utcDate(y, 5, 19)));
	} else if (kind === "europe") {
		list.push(goodFriday, new Date(easter + 86_400_000), utcDate(y, 11, 25), utcDate(y, 11, 26));
	}
	s = new Set(list.map(ymd));
	holidayCache.set(key, s);
	return s;
}

/** True when the hour starting at hourStartMs overlaps the exchange's regular session on a trading day. Unknown exchange: the US session. */
export function exchangeHourOpen(exchange: string, hourStartMs: number): boolean {
	const s = EXCHANGE_SESSIONS[exchange] ?? EXCHANGE_SESSIONS.US;
	const off = offsetHours(s.zone, hourStartMs);
	const local = new Date(hourStartMs + off * HOUR_MS); // local wall clock in UTC fields
	const wd = local.getUTCDay();
	if (wd === 0 || wd === 6) return false;
	if (holidays(s.holidays, local.getUTCFullYear()).has(ymd(local))) return false;
	const startMin = local.getUTCHours() * 60 + local.getUTCMinutes();
	return startMin + 60 > s.open && startMin < s.close;
}
