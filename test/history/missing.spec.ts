import { klineCount, missingKlineRanges, pageWindows, subtractRanges } from "../../lib/history/missing";

const M = 60_000;
const T0 = Date.parse("2024-01-01T00:00:00Z");
const grid = { ms: M, offsetMs: 0 };
const at = (min: number) => T0 + min * M;
const r = (a: number, b: number) => ({ from: at(a), to: at(b) });
const NOW = Date.parse("2030-01-01T00:00:00Z");

describe("missing kline ranges", () => {
	it("nothing stored: the whole range, aligned to the grid", () => {
		expect(missingKlineRanges(at(0), at(1440), grid, [], [], NOW)).toEqual([r(0, 1440)]);
		// from inside a minute starts at the next kline; to inside a minute keeps the kline opening before it
		expect(missingKlineRanges(at(0) + 1, at(10) + 1, grid, [], [], NOW)).toEqual([r(1, 11)]);
	});

	it("everything stored: nothing to ask the venue", () => {
		expect(missingKlineRanges(at(0), at(1440), grid, [r(0, 1440)], [], NOW)).toEqual([]);
		expect(missingKlineRanges(at(0), at(1440), grid, [r(-100, 2000)], [], NOW)).toEqual([]);
	});

	it("holes in the middle, at the start and at the end", () => {
		const stored = [r(10, 500), r(510, 511), r(600, 1430)];
		const m = missingKlineRanges(at(0), at(1440), grid, stored, [], NOW);
		expect(m).toEqual([r(0, 10), r(500, 510), r(511, 600), r(1430, 1440)]);
		expect(m.map((x) => klineCount(x, grid))).toEqual([10, 10, 89, 10]);
	});

	it("ranges the venue answered empty are not missing", () => {
		expect(missingKlineRanges(at(0), at(100), grid, [r(0, 40)], [r(40, 45)], NOW)).toEqual([r(45, 100)]);
	});

	it("partial last page: stops at the kline still open at `now`", () => {
		const now = at(100) + 30_000; // minute 100 is half done
		expect(missingKlineRanges(at(0), at(200), grid, [], [], now)).toEqual([r(0, 100)]);
		expect(missingKlineRanges(at(0), at(200), grid, [], [], at(100))).toEqual([r(0, 100)]); // exactly at its open
		expect(missingKlineRanges(at(150), at(200), grid, [], [], now)).toEqual([]);
	});

	it("an empty or reversed range has nothing missing", () => {
		expect(missingKlineRanges(at(5), at(5), grid, [], [], NOW)).toEqual([]);
		expect(missingKlineRanges(at(5) + 1, at(5) + 2, grid, [], [], NOW)).toEqual([]); // no open time inside
		expect(subtractRanges(r(9, 3), [])).toEqual([]);
	});

	it("subtracts overlapping, unsorted and outside ranges", () => {
		expect(subtractRanges(r(0, 100), [r(50, 60), r(55, 70), r(-5, 10), r(200, 300), r(90, 90)])).toEqual([r(10, 50), r(70, 100)]);
	});

	it("works on a shifted grid (Binance weeks start on Monday)", () => {
		const week = { ms: 7 * 86_400_000, offsetMs: 4 * 86_400_000 };
		const m = missingKlineRanges(Date.parse("2024-01-01T00:00:00Z"), Date.parse("2024-02-01T00:00:00Z"), week, [], [], NOW);
		expect(m.map((x) => [new Date(x.from).toISOString(), new Date(x.to).toISOString()])).toEqual([["2024-01-01T00:00:00.000Z", "2024-02-05T00:00:00.000Z"]]);
		expect(klineCount(m[0], week)).toBe(5);
	});

	it("cuts missing ranges into request windows of at most `limit` klines, never across a range's end", () => {
		expect(pageWindows([r(0, 1440)], M, 1000)).toEqual([r(0, 1000), r(1000, 1440)]);
		expect(pageWindows([r(0, 2000), r(2500, 2501)], M, 1000)).toEqual([r(0, 1000), r(1000, 2000), r(2500, 2501)]);
		expect(pageWindows([r(5, 5)], M, 1000)).toEqual([]);
		const windows = pageWindows([r(0, 100_000)], M, 1000);
		expect(windows).toHaveLength(100);
		for (const w of windows) expect(klineCount(w, grid)).toBe(1000);
	});
});
