import { getInstrument } from "../../lib/backfill/dukascopy/instruments";
import { hoursIn } from "../../lib/backfill/hours";
import { JobRangeError, jobHours } from "../../lib/backfill/jobs";
import { fxWeekendHour, marketOpen, openHours, usDaylightTime } from "../../lib/backfill/market-hours";

const H = (s: string) => Date.parse(s);
const iso = (ms: number) => new Date(ms).toISOString().slice(0, 13);

describe("market hours", () => {
	it("closes FX at 17:00 New York on Friday and opens it at 17:00 New York on Sunday", () => {
		// winter (EST, UTC-5): 22:00 UTC
		expect(fxWeekendHour(H("2019-01-04T21:00:00Z"))).toBe(false);
		expect(fxWeekendHour(H("2019-01-04T22:00:00Z"))).toBe(true);
		expect(fxWeekendHour(H("2019-01-06T21:00:00Z"))).toBe(true);
		expect(fxWeekendHour(H("2019-01-06T22:00:00Z"))).toBe(false);
		// summer (EDT, UTC-4): 21:00 UTC
		expect(fxWeekendHour(H("2024-07-05T20:00:00Z"))).toBe(false);
		expect(fxWeekendHour(H("2024-07-05T21:00:00Z"))).toBe(true);
		expect(fxWeekendHour(H("2024-07-07T20:00:00Z"))).toBe(true);
		expect(fxWeekendHour(H("2024-07-07T21:00:00Z"))).toBe(false);
		// a whole winter week: 48 closed hours
		const week = hoursIn(H("2024-01-08T00:00:00Z"), H("2024-01-15T00:00:00Z"));
		expect(week.length - openHours("fx", week).length).toBe(48);
		expect(openHours("crypto", week)).toHaveLength(168);
		expect(marketOpen("crypto", H("2024-01-13T12:00:00Z"))).toBe(true);
	});

	it("knows the US daylight-time switches", () => {
		expect(usDaylightTime(H("2024-03-10T06:59:59Z"))).toBe(false);
		expect(usDaylightTime(H("2024-03-10T07:00:00Z"))).toBe(true);
		expect(usDaylightTime(H("2024-11-03T05:59:59Z"))).toBe(true);
		expect(usDaylightTime(H("2024-11-03T06:00:00Z"))).toBe(false);
	});
});

describe("job hours", () => {
	const EURUSD = getInstrument("EURUSD");
	const now = H("2024-06-01T10:30:00Z");

	it("splits a range into whole UTC hours, weekends included (an empty hour is a valid result)", () => {
		const hours = jobHours(EURUSD, H("2024-01-01T00:00:00Z"), H("2024-02-01T00:00:00Z"), now);
		expect(hours).toHaveLength(31 * 24);
		expect(iso(hours[0])).toBe("2024-01-01T00");
		expect(iso(hours[hours.length - 1])).toBe("2024-01-31T23");
		expect(jobHours(EURUSD, H("2024-01-01T10:30:00Z"), H("2024-01-01T12:00:01Z"), now).map(iso)).toEqual(["2024-01-01T10", "2024-01-01T11", "2024-01-01T12"]);
		// the hour in progress is not published yet
		expect(jobHours(EURUSD, H("2024-06-01T08:00:00Z"), H("2024-06-01T11:00:00Z"), now).map(iso)).toEqual(["2024-06-01T08", "2024-06-01T09"]);
	});

	it("names the bad end of a bad range", () => {
		const bad = (f: string, t: string) => {
			try {
				jobHours(EURUSD, H(f), H(t), now);
			} catch (err) {
				return [(err as JobRangeError).param, (err as Error).message];
			}
			return null;
		};
		expect(bad("2024-02-01T00:00:00Z", "2024-01-01T00:00:00Z")).toEqual(["from", "from (2024-02-01T00:00:00.000Z) must be before to (2024-01-01T00:00:00.000Z)"]);
		expect(bad("2001-01-01T00:00:00Z", "2001-02-01T00:00:00Z")?.[1]).toMatch(/before EURUSD's first tick hour \(2003-05-04T19:00:00.000Z\)/);
		expect(bad("2024-05-01T00:00:00Z", "2024-07-01T00:00:00Z")).toEqual(["to", "to (2024-07-01T00:00:00.000Z) is in the future"]);
	});
});
