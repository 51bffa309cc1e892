import { readFileSync } from "node:fs";
import path from "node:path";
import { intervalGrid, klineRow, KlineParseError, parseKlines } from "../../lib/history/binance-klines";

const FIXTURE = path.resolve(__dirname, "../../../shared/fixtures/binance/spot/nautilus_http_spot_market_klines.json");
const raw = readFileSync(FIXTURE, "utf8");

describe("Binance klines parse (real /api/v3/klines BTCUSDT 1m response)", () => {
	const rows = JSON.parse(raw);
	const klines = parseKlines(rows, "1m");

	it("keeps every price and volume string exactly as the venue sent it", () => {
		expect(klines).toHaveLength(10);
		expect(klines[0]).toEqual({
			openTime: 1634943780000,
			closeTime: 1634943839999,
			open: "60685.22000000",
			high: "60729.84000000",
			low: "60670.90000000",
			close: "60719.27000000",
			volume: "21.63272000",
			quoteVolume: "1313200.01340410",
			trades: 617,
			takerBaseVolume: "12.28492000",
			takerQuoteVolume: "745719.41022840",
		});
		// every field of every row, compared with the raw text: nothing went through a float
		for (const k of klines) {
			for (const v of [k.open, k.high, k.low, k.close, k.volume, k.quoteVolume, k.takerBaseVolume, k.takerQuoteVolume]) expect(raw).toContain(`"${v}"`);
		}
		expect(klines.map(klineRow)).toEqual(rows);
	});

	it("identifies klines by open time: consecutive minutes on the UTC grid, close = open + 1m - 1ms", () => {
		expect(new Date(klines[0].openTime).toISOString()).toBe("2021-10-22T23:03:00.000Z");
		expect(klines.map((k) => k.openTime - klines[0].openTime)).toEqual(Array.from({ length: 10 }, (_, i) => i * 60_000));
		for (const k of klines) expect(k.closeTime - k.openTime).toBe(59_999);
		// read as 5m klines, the same rows are off the grid and refused
		expect(() => parseKlines(rows, "5m")).toThrow(/not on the 5m grid|closeTime/);
	});

	it("refuses rows that are not Binance's shape, naming the row", () => {
		const bad = (mut: (r: any[]) => void) => {
			const copy = JSON.parse(raw);
			mut(copy[3]);
			return () => parseKlines(copy, "1m");
		};
		expect(bad((r) => (r[1] = 60773.18))).toThrow(/kline 3: open 60773.18 is not a non-negative decimal string/);
		expect(bad((r) => (r[0] = r[0] / 1000))).toThrow(/kline 3: openTime .* is not epoch milliseconds/);
		expect(bad((r) => (r[6] = r[6] + 1))).toThrow(/kline 3: closeTime/);
		expect(bad((r) => (r[8] = "673"))).toThrow(/kline 3: trades "673" is not a count/);
		expect(bad((r) => r.splice(5))).toThrow(KlineParseError);
		expect(() => parseKlines({ code: -1121, msg: "Invalid symbol." }, "1m")).toThrow(/not an array/);
		expect(() => parseKlines([rows[1], rows[0]], "1m")).toThrow(/kline 1: openTime 1634943780000 does not follow/);
	});

	it("knows each interval's grid, weeks starting on Monday", () => {
		expect(intervalGrid("1h").ceil(Date.parse("2024-01-01T00:00:00.001Z"))).toBe(Date.parse("2024-01-01T01:00:00Z"));
		expect(new Date(intervalGrid("1w").ceil(Date.parse("2024-01-03T00:00:00Z"))).toISOString()).toBe("2024-01-08T00:00:00.000Z"); // a Monday
		expect(() => intervalGrid("1M")).toThrow(/not one of/);
	});
});
