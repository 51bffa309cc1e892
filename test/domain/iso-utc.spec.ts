import { isoUtc, writeIsoUtc } from "../../lib/domain/time";

describe("isoUtc (epoch ms to ISO text without a Date per call)", () => {
	// isoUtc and its byte writer (at an offset into a used buffer) both give exactly Date's text
	const out = Buffer.alloc(64, 0x2a);
	const same = (ms: number) => {
		const want = new Date(ms).toISOString();
		expect(isoUtc(ms)).toBe(want);
		const n = writeIsoUtc(ms, out, 5);
		expect(out.toString("latin1", 5, 5 + n)).toBe(want);
	};

	it("writes exactly what Date#toISOString writes at the edges of days, months, leap years and the range", () => {
		const edges = [
			0,
			1,
			999,
			1000,
			59_999,
			86_399_999,
			86_400_000,
			Date.UTC(1999, 11, 31, 23, 59, 59, 999),
			Date.UTC(2000, 0, 1),
			Date.UTC(2000, 1, 29, 12, 30, 45, 678), // 2000 is a leap year (divisible by 400)
			Date.UTC(2000, 2, 1),
			Date.UTC(2023, 1, 28, 23, 59, 59, 999),
			Date.UTC(2023, 2, 1),
			Date.UTC(2024, 1, 29),
			Date.UTC(2100, 1, 28, 23, 59, 59, 999), // 2100 is not
			Date.UTC(2100, 2, 1),
			Date.UTC(9999, 11, 31, 23, 59, 59, 999),
		];
		for (const ms of edges) same(ms);
	});

	it("agrees with Date for every minute of a day and for random times, in any order (the day cache)", () => {
		const day = Date.UTC(2024, 0, 1);
		for (let t = day - 60_000; t <= day + 86_400_000; t += 60_000) {
			same(t);
			same(t + 59_999);
		}
		let seed = 7;
		const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
		for (let i = 0; i < 5_000; i++) same(Math.floor(rnd() * Date.UTC(2200, 0, 1)));
	});

	it("leaves what it does not cover to Date, errors included", () => {
		for (const ms of [-1, -86_400_001, 1.5, Date.UTC(10000, 0, 1), 8.64e15]) same(ms);
		expect(() => isoUtc(NaN)).toThrow(RangeError);
		expect(() => writeIsoUtc(NaN, out, 0)).toThrow(RangeError);
		expect(() => isoUtc(8.64e15 + 1)).toThrow(RangeError);
	});
});
