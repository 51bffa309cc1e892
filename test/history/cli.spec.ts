import { klinesProgressLine, parseHistoryArgs, tradesProgressLine } from "../../lib/history/cli";

describe("history CLI arguments", () => {
	it("reads the three forms", () => {
		expect(parseHistoryArgs(["binance", "BTCUSDT", "1m", "2024-01-01", "2024-01-02"])).toEqual({
			venue: "binance",
			symbol: "BTCUSDT",
			interval: "1m",
			from: Date.parse("2024-01-01T00:00:00Z"),
			to: Date.parse("2024-01-02T00:00:00Z"),
		});
		expect(parseHistoryArgs(["kraken", "XBTUSD", "2024-01-01", "2024-01-01T12:00:00Z", "--full"])).toMatchObject({ venue: "kraken", pair: "XBTUSD", full: true, to: Date.parse("2024-01-01T12:00:00Z") });
		expect(parseHistoryArgs(["catalog", "2024-01-01", "2024-01-02"])).toMatchObject({ venue: "catalog", interval: "1m" });
	});

	it("names what is wrong", () => {
		expect(() => parseHistoryArgs([])).toThrow(/say which venue/);
		expect(() => parseHistoryArgs(["bitstamp", "X"])).toThrow(/unknown venue "bitstamp"/);
		expect(() => parseHistoryArgs(["binance", "BTCUSDT", "2024-01-01", "2024-01-02"])).toThrow(/binance takes SYMBOL INTERVAL FROM TO/);
		expect(() => parseHistoryArgs(["binance", "BTCUSDT", "1x", "2024-01-01", "2024-01-02"])).toThrow(/interval="1x" is not one of/);
		expect(() => parseHistoryArgs(["kraken", "XBTUSD", "2024-13-01", "2024-01-02"])).toThrow(/from="2024-13-01" is not a date/);
		expect(() => parseHistoryArgs(["kraken", "XBTUSD", "2024-01-02", "2024-01-01"])).toThrow(/must be before/);
		expect(() => parseHistoryArgs(["binance", "BTCUSDT", "1m", "2024-01-01", "2024-01-02", "--full"])).toThrow(/unknown option --full/);
	});

	it("prints progress with a bar, counts and an ETA", () => {
		const t = Date.parse("2024-01-01T16:40:00Z");
		expect(klinesProgressLine({ symbol: "BTC-USDT-SPOT", interval: "1m", pages: 1, inserted: 1000, klinesDone: 1000, klinesMissing: 4000, at: t }, 2000)).toBe(
			"binance BTC-USDT-SPOT 1m [#####...............] 25.0% 1000/4000 klines, 1 pages, 1000 inserted, at 2024-01-01T16:40:00.000Z, ETA 6s",
		);
		expect(tradesProgressLine({ symbol: "BTC-USD-SPOT", pages: 3, published: 2400, at: Date.parse("2024-01-01T18:00:00Z") }, Date.parse("2024-01-01"), Date.parse("2024-01-02"), 90_000)).toBe(
			"kraken BTC-USD-SPOT trades [###############.....] 75.0% 2400 trades, 3 pages, at 2024-01-01T18:00:00.000Z, ETA 30s",
		);
	});
});
