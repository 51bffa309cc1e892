import {
	bucketsInRange,
	cascadePlan,
	ceilBucket,
	countBucketsInRange,
	floorBucket,
	minuteWindows,
	nextBucket,
	parentBucket,
	parentWindows,
	summarizeWindows,
	windowColumns,
} from "../../lib/candles/buckets";
import { TIMEFRAMES, TIMEFRAME_MS } from "../../lib/domain/timeframes";

const ms = (s: string) => Date.parse(s);
const iso = (n: number) => new Date(n).toISOString();

describe("bucket math", () => {
	it("floors to epoch-aligned UTC buckets of every timeframe", () => {
		const t = "2024-01-15T13:47:31.250Z";
		expect(iso(floorBucket(t, "1m"))).toBe("2024-01-15T13:47:00.000Z");
		expect(iso(floorBucket(t, "5m"))).toBe("2024-01-15T13:45:00.000Z");
		expect(iso(floorBucket(t, "15m"))).toBe("2024-01-15T13:45:00.000Z");
		expect(iso(floorBucket(t, "1h"))).toBe("2024-01-15T13:00:00.000Z");
		expect(iso(floorBucket(t, "4h"))).toBe("2024-01-15T12:00:00.000Z");
		expect(iso(floorBucket(t, "12h"))).toBe("2024-01-15T12:00:00.000Z");
		expect(iso(floorBucket("2024-01-15T11:59:59.999Z", "12h"))).toBe("2024-01-15T00:00:00.000Z");
		expect(iso(floorBucket("2024-01-15T03:59:59.999Z", "4h"))).toBe("2024-01-15T00:00:00.000Z");
		expect(iso(floorBucket(t, "1d"))).toBe("2024-01-15T00:00:00.000Z");
		expect(iso(floorBucket(t, "1w"))).toBe("2024-01-15T00:00:00.000Z"); // a Monday
	});

	it("cuts weeks at Monday 00:00 UTC (ISO weeks), though the epoch is a Thursday", () => {
		expect(iso(floorBucket("2024-01-21T23:59:59.999Z", "1w"))).toBe("2024-01-15T00:00:00.000Z"); // Sunday
		expect(iso(floorBucket("2024-01-22T00:00:00Z", "1w"))).toBe("2024-01-22T00:00:00.000Z");
		expect(iso(floorBucket("1970-01-01T00:00:00Z", "1w"))).toBe("1969-12-29T00:00:00.000Z");
		expect(iso(ceilBucket("2024-01-17T00:00:00Z", "1w"))).toBe("2024-01-22T00:00:00.000Z");
		expect(iso(parentBucket(ms("2024-01-21T00:00:00Z"), "1w"))).toBe("2024-01-15T00:00:00.000Z");
		expect(bucketsInRange("2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z", "1w").map(iso)).toEqual([
			"2024-01-01T00:00:00.000Z",
			"2024-01-08T00:00:00.000Z",
			"2024-01-15T00:00:00.000Z",
			"2024-01-22T00:00:00.000Z",
			"2024-01-29T00:00:00.000Z",
		]);
		// every Monday of a few years, checked against the calendar
		for (let d = ms("2019-12-30T00:00:00Z"); d < ms("2026-01-01T00:00:00Z"); d += 86_400_000) {
			const monday = d - ((new Date(d).getUTCDay() + 6) % 7) * 86_400_000;
			expect(floorBucket(d + 12_345, "1w")).toBe(monday);
		}
	});

	it("keeps a bucket start where it is and handles times before the epoch", () => {
		for (const tf of TIMEFRAMES) {
			const b = floorBucket("2024-03-01T00:00:00Z", tf);
			expect(floorBucket(b, tf)).toBe(b);
			expect(ceilBucket(b, tf)).toBe(b);
			expect(nextBucket(b, tf)).toBe(b + TIMEFRAME_MS[tf]);
			expect(nextBucket(b + 1, tf)).toBe(b + TIMEFRAME_MS[tf]);
		}
		expect(iso(floorBucket("1969-12-31T23:59:30Z", "1m"))).toBe("1969-12-31T23:59:00.000Z");
		expect(iso(floorBucket("1969-12-31T23:00:00Z", "12h"))).toBe("1969-12-31T12:00:00.000Z");
	});

	it("accepts numbers, Dates and ISO strings and rejects garbage", () => {
		const n = ms("2024-01-15T13:47:31Z");
		expect(floorBucket(n, "5m")).toBe(floorBucket(new Date(n), "5m"));
		expect(floorBucket(n, "5m")).toBe(floorBucket("2024-01-15T13:47:31Z", "5m"));
		expect(() => floorBucket("yesterday", "1m")).toThrow(RangeError);
	});

	it("finds the parent bucket of a child bucket", () => {
		expect(iso(parentBucket(ms("2024-01-15T13:47:00Z"), "5m"))).toBe("2024-01-15T13:45:00.000Z");
		expect(iso(parentBucket(ms("2024-01-15T13:45:00Z"), "15m"))).toBe("2024-01-15T13:45:00.000Z");
		expect(iso(parentBucket(ms("2024-01-15T23:00:00Z"), "4h"))).toBe("2024-01-15T20:00:00.000Z");
		expect(iso(parentBucket(ms("2024-01-15T20:00:00Z"), "12h"))).toBe("2024-01-15T12:00:00.000Z");
		// every level divides the next one, so a child lies in exactly one parent
		for (let i = 1; i < TIMEFRAMES.length; i++) expect(TIMEFRAME_MS[TIMEFRAMES[i]] % TIMEFRAME_MS[TIMEFRAMES[i - 1]]).toBe(0);
	});

	it("lists the buckets whose start is in [from, to)", () => {
		expect(bucketsInRange("2024-01-15T13:02:00Z", "2024-01-15T13:20:00Z", "5m").map(iso)).toEqual([
			"2024-01-15T13:05:00.000Z",
			"2024-01-15T13:10:00.000Z",
			"2024-01-15T13:15:00.000Z",
		]);
		expect(bucketsInRange("2024-01-15T13:00:00Z", "2024-01-15T13:15:00.001Z", "5m").map(iso)).toEqual([
			"2024-01-15T13:00:00.000Z",
			"2024-01-15T13:05:00.000Z",
			"2024-01-15T13:10:00.000Z",
			"2024-01-15T13:15:00.000Z",
		]);
		expect(bucketsInRange("2024-01-15T13:00:00Z", "2024-01-15T13:00:00Z", "1m")).toEqual([]);
		expect(bucketsInRange("2024-01-15T13:01:00Z", "2024-01-15T13:00:00Z", "1m")).toEqual([]);
		for (const [f, t] of [
			["2024-01-15T13:02:00Z", "2024-01-16T13:20:00Z"],
			["2024-01-15T00:00:00Z", "2024-01-15T12:00:00Z"],
			["2024-01-15T00:00:01Z", "2024-01-15T00:00:02Z"],
		]) {
			for (const tf of TIMEFRAMES) expect(countBucketsInRange(f, t, tf)).toBe(bucketsInRange(f, t, tf).length);
		}
	});
});

describe("cascade plan", () => {
	const dirty = [
		{ venue: "kraken", symbol: "BTC-USD-SPOT", source: "trades" as const, bucket: "2024-01-15T11:59:00Z" },
		{ venue: "kraken", symbol: "BTC-USD-SPOT", source: "trades" as const, bucket: "2024-01-15T12:00:00Z" },
		{ venue: "kraken", symbol: "BTC-USD-SPOT", source: "trades" as const, bucket: "2024-01-15T12:03:00Z" },
		{ venue: "kraken", symbol: "BTC-USD-SPOT", source: "trades" as const, bucket: "2024-01-15T12:03:00Z" }, // duplicate
		{ venue: "dukascopy", symbol: "EUR-USD-SPOT", source: "quotes" as const, bucket: new Date("2024-01-15T12:07:00Z") },
	];

	it("expands quote minutes to bid, ask and mid and deduplicates", () => {
		const m = minuteWindows(dirty);
		expect(m.map((w) => `${w.venue}/${w.priceType}/${iso(w.bucket)}`)).toEqual([
			"dukascopy/ask/2024-01-15T12:07:00.000Z",
			"dukascopy/bid/2024-01-15T12:07:00.000Z",
			"dukascopy/mid/2024-01-15T12:07:00.000Z",
			"kraken/trade/2024-01-15T11:59:00.000Z",
			"kraken/trade/2024-01-15T12:00:00.000Z",
			"kraken/trade/2024-01-15T12:03:00.000Z",
		]);
	});

	it("gives every level exactly the parents of the level below", () => {
		const plan = cascadePlan(dirty);
		const k = (tf: keyof typeof plan) => plan[tf].filter((w) => w.venue === "kraken").map((w) => iso(w.bucket));
		expect(k("1m")).toEqual(["2024-01-15T11:59:00.000Z", "2024-01-15T12:00:00.000Z", "2024-01-15T12:03:00.000Z"]);
		expect(k("5m")).toEqual(["2024-01-15T11:55:00.000Z", "2024-01-15T12:00:00.000Z"]);
		expect(k("15m")).toEqual(["2024-01-15T11:45:00.000Z", "2024-01-15T12:00:00.000Z"]);
		expect(k("1h")).toEqual(["2024-01-15T11:00:00.000Z", "2024-01-15T12:00:00.000Z"]);
		expect(k("4h")).toEqual(["2024-01-15T08:00:00.000Z", "2024-01-15T12:00:00.000Z"]);
		expect(k("12h")).toEqual(["2024-01-15T00:00:00.000Z", "2024-01-15T12:00:00.000Z"]);
		expect(plan["12h"].filter((w) => w.venue === "dukascopy").map((w) => `${w.priceType}/${iso(w.bucket)}`)).toEqual([
			"ask/2024-01-15T12:00:00.000Z",
			"bid/2024-01-15T12:00:00.000Z",
			"mid/2024-01-15T12:00:00.000Z",
		]);
		for (let i = 1; i < TIMEFRAMES.length; i++) {
			expect(plan[TIMEFRAMES[i]]).toEqual(parentWindows(plan[TIMEFRAMES[i - 1]], TIMEFRAMES[i]));
		}
	});

	it("turns windows into unnest() columns and summarises them per instrument and level", () => {
		const plan = cascadePlan(dirty);
		const cols = windowColumns(plan["5m"]);
		expect(cols.venue.length).toBe(plan["5m"].length);
		expect(cols.bucket[0]).toBe("2024-01-15T12:05:00.000Z");
		expect(summarizeWindows("1m", plan["1m"])).toEqual([
			{ venue: "dukascopy", symbol: "EUR-USD-SPOT", timeframe: "1m", priceTypes: ["ask", "bid", "mid"], from: "2024-01-15T12:07:00.000Z", to: "2024-01-15T12:08:00.000Z" },
			{ venue: "kraken", symbol: "BTC-USD-SPOT", timeframe: "1m", priceTypes: ["trade"], from: "2024-01-15T11:59:00.000Z", to: "2024-01-15T12:04:00.000Z" },
		]);
		expect(summarizeWindows("12h", [])).toEqual([]);
	});
});
