import { decodeCursor, encodeCursor, intParam, parseCandleQuery, parseTickQuery, ParamError } from "../../lib/api/params";

const now = new Date("2024-01-15T13:07:00Z");
const base = { venue: "kraken", symbol: "BTC-USD-SPOT" };

function problem(fn: () => unknown): { param: string; message: string } {
	try {
		fn();
	} catch (err) {
		if (err instanceof ParamError) return { param: err.param, message: err.message };
		throw err;
	}
	throw new Error("expected a ParamError");
}

describe("candle query parameters", () => {
	it("parses a full query", () => {
		const q = parseCandleQuery({ ...base, timeframe: "5m", from: "2024-01-15", to: "2024-01-15T12:00:00Z", price: "mid", fill: "previous" }, { now, maxBuckets: 1000 });
		expect(q).toEqual({ ...base, timeframe: "5m", from: new Date("2024-01-15T00:00:00Z"), to: new Date("2024-01-15T12:00:00Z"), price: "mid", fill: "previous" });
	});

	it("defaults to trade prices, no fill, and a window ending now", () => {
		const q = parseCandleQuery({ ...base, timeframe: "1h" }, { now, maxBuckets: 1000 });
		expect(q.to).toEqual(now);
		expect(q.from.getTime()).toBe(now.getTime() - 500 * 3_600_000);
		expect(q.price).toBe("trade");
		expect(q.fill).toBe("none");
	});

	it("says what is wrong", () => {
		expect(problem(() => parseCandleQuery({ ...base, timeframe: "2m" }, { now, maxBuckets: 10 }))).toEqual({ param: "timeframe", message: expect.stringMatching(/"2m" is not one of 1m, 5m, 15m, 1h, 4h, 12h, 1d, 1w/) });
		expect(problem(() => parseCandleQuery({ symbol: "X", timeframe: "1m" }, { now, maxBuckets: 10 })).param).toBe("venue");
		expect(problem(() => parseCandleQuery({ ...base, timeframe: "1m", from: "2024-02-30x" }, { now, maxBuckets: 10 })).message).toMatch(/is not a date/);
		expect(problem(() => parseCandleQuery({ ...base, timeframe: "1m", from: "2024-02-30" }, { now, maxBuckets: 10 })).message).toMatch(/2024-02-30 does not exist/);
		expect(problem(() => parseCandleQuery({ ...base, timeframe: "1m", from: "2023-02-29T10:00:00Z" }, { now, maxBuckets: 10 })).message).toMatch(/2023-02-29 does not exist/);
		expect(parseCandleQuery({ ...base, timeframe: "1m", from: "2024-02-29T23:59:00Z", to: "2024-03-01" }, { now, maxBuckets: 10 }).from.toISOString()).toBe("2024-02-29T23:59:00.000Z");
		expect(problem(() => parseCandleQuery({ ...base, timeframe: "1m", from: "1705323600" }, { now, maxBuckets: 10 })).message).toMatch(/epoch seconds/);
		expect(problem(() => parseCandleQuery({ ...base, timeframe: "1m", from: "2024-01-16", to: "2024-01-15" }, { now, maxBuckets: 10 })).message).toMatch(/must be before/);
		expect(problem(() => parseCandleQuery({ ...base, timeframe: "1m", from: "2024-01-01", to: "2024-01-15" }, { now, maxBuckets: 10_000 })).message).toMatch(/range too large: 20160 1m buckets/);
		expect(problem(() => parseCandleQuery({ ...base, timeframe: "1m", price: "last" }, { now, maxBuckets: 10 })).param).toBe("price");
		expect(problem(() => parseCandleQuery({ ...base, timeframe: "1m", fill: "zero" }, { now, maxBuckets: 10 })).param).toBe("fill");
	});
});

describe("tick query parameters", () => {
	it("parses limit and cursor and checks them", () => {
		const c = encodeCursor("2024-01-15T13:00:00.123456Z", "77");
		const q = parseTickQuery({ ...base, limit: "10", cursor: c }, { now, maxRows: 100 });
		expect(q.limit).toBe(10);
		expect(q.cursor).toEqual({ time: "2024-01-15T13:00:00.123456Z", id: "77" });
		expect(problem(() => parseTickQuery({ ...base, limit: "1000" }, { now, maxRows: 100 })).param).toBe("limit");
		expect(problem(() => parseTickQuery({ ...base, limit: "-1" }, { now, maxRows: 100 })).param).toBe("limit");
		expect(problem(() => decodeCursor("garbage")).param).toBe("cursor");
	});
});

describe("integer parameters (intParam, shared by every limit)", () => {
	it("takes a query-string text or a JSON number in range, the default when absent, and names the parameter otherwise", () => {
		expect(intParam({ limit: "10" }, "limit", 50, 1, 1000)).toBe(10);
		expect(intParam({ limit: 1000 }, "limit", 50, 1, 1000)).toBe(1000);
		expect(intParam({}, "limit", 50, 1, 1000)).toBe(50);
		for (const bad of ["0", "1001", "1.5", "-1", "abc", 2.5, "5e1"]) {
			const p = problem(() => intParam({ limit: bad }, "limit", 50, 1, 1000));
			expect(p).toEqual({ param: "limit", message: `limit=${JSON.stringify(String(bad))} must be an integer from 1 to 1000` });
		}
	});
});
