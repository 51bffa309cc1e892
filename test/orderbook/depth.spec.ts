import { readFileSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { binanceWeightNeed } from "../../lib/orderbook/rest-source";
import { dueSlotMs, slotOffsetMs } from "../../lib/orderbook/scheduler";
import { binanceTarget, targetsFromCatalog, targetsFromConfig } from "../../lib/orderbook/targets";
import { BookParseError } from "../../lib/orderbook/types";
import { BinanceDepthError, depthLimit, depthWeight, parseBinanceDepth } from "../../lib/venues/binance/rest";
import { parseExact } from "../../lib/venues/kraken/precision";
import { KrakenApiError, parseKrakenDepth } from "../../lib/venues/kraken/rest";

const FIX = path.resolve(__dirname, "../../../shared/fixtures");
const binanceDepthText = readFileSync(path.join(FIX, "binance/spot/nautilus_http_spot_market_depth.json"), "utf8");
const krakenDepthText = readFileSync(path.join(FIX, "kraken/rest/nautilus_http_order_book.json"), "utf8");

describe("Binance depth (real /api/v3/depth answer)", () => {
	const raw = JSON.parse(binanceDepthText);

	it("keeps every level's price and size exactly as Binance wrote them, and lastUpdateId as a string", () => {
		const d = parseBinanceDepth(binanceDepthText);
		expect(d.lastUpdateId).toBe("14527958487");
		expect(d.time).toBeNull(); // spot depth carries no time: the retrieval time is used
		expect(d.bids).toEqual(raw.bids);
		expect(d.asks).toEqual(raw.asks);
		expect(d.bids[0]).toEqual(["60650.00000000", "0.00213000"]);
		expect(d.bids).toHaveLength(10);
		expect(d.asks).toHaveLength(10);
	});

	it("takes USD-M's transaction time T as the book time", () => {
		const d = parseBinanceDepth(JSON.stringify({ ...raw, E: 1589436922972, T: 1589436922959 }));
		expect(d.time).toBe("2020-05-14T06:15:22.959Z");
	});

	it("refuses numbers where Binance sends strings, a missing lastUpdateId and garbage", () => {
		expect(() => parseBinanceDepth(JSON.stringify({ ...raw, bids: [[60650.0, "0.1"]] }))).toThrow(BinanceDepthError);
		expect(() => parseBinanceDepth(JSON.stringify({ ...raw, asks: [["1e5", "0.1"]] }))).toThrow(/price "1e5" is not a decimal string/);
		expect(() => parseBinanceDepth(JSON.stringify({ bids: raw.bids, asks: raw.asks }))).toThrow(/lastUpdateId/);
		expect(() => parseBinanceDepth("<html>busy</html>")).toThrow(/not JSON/);
		expect(() => parseBinanceDepth(JSON.stringify({ ...raw, T: "soon" }))).toThrow(/T "soon"/);
	});

	it("asks USD-M for a size it serves, and knows each call's weight", () => {
		expect(depthLimit("spot", 100)).toBe(100);
		expect(depthLimit("usdm", 100)).toBe(100);
		expect(depthLimit("usdm", 30)).toBe(50);
		expect(depthLimit("usdm", 2000)).toBe(1000);
		expect([1, 100, 101, 500, 501, 1000, 1001, 5000].map((l) => depthWeight("spot", l))).toEqual([5, 5, 25, 25, 50, 50, 250, 250]);
		expect([5, 50, 100, 500, 1000].map((l) => depthWeight("usdm", l))).toEqual([2, 2, 5, 10, 20]);
	});
});

describe("Kraken Depth (real /0/public/Depth answers)", () => {
	it("reads the recorded XBTUSDT book: [price, volume, timestamp] rows as exact [price, qty]", () => {
		const body = parseExact(krakenDepthText) as { result: Record<string, unknown> };
		const d = parseKrakenDepth(body.result);
		const raw = JSON.parse(krakenDepthText).result.XBTUSDT;
		expect(d.bids).toEqual(raw.bids.map((r: unknown[]) => [r[0], r[1]]));
		expect(d.asks).toEqual(raw.asks.map((r: unknown[]) => [r[0], r[1]]));
		expect(d.asks[0]).toEqual(["105944.30000", "0.136"]);
		expect(d.bids).toHaveLength(5);
	});

	it("reads Kraken's documented example (XXBTZUSD)", () => {
		const doc = parseYaml(readFileSync(path.join(FIX, "kraken/rest_docs_examples/depth.yaml"), "utf8"));
		const d = parseKrakenDepth(doc.result);
		expect(d.asks).toEqual([
			["3539.90000", "0.801"],
			["3540.20000", "1.000"],
		]);
		expect(d.bids[0]).toEqual(["3538.90000", "0.754"]);
	});

	it("refuses a result without exactly one book, and levels that are not decimal strings", () => {
		expect(() => parseKrakenDepth({})).toThrow(KrakenApiError);
		expect(() => parseKrakenDepth({ A: { bids: [], asks: [] }, B: { bids: [], asks: [] } })).toThrow(/2 pairs/);
		expect(() => parseKrakenDepth({ XBTUSDT: { bids: [["abc", "1", 1]], asks: [] } })).toThrow(BookParseError);
		expect(() => parseKrakenDepth({ XBTUSDT: { bids: [], asks: "none" } })).toThrow(/asks is not a list/);
	});
});

describe("snapshot slots", () => {
	it("spreads books over the interval with offsets every replica computes alike", () => {
		const interval = 60_000;
		const offsets = Array.from({ length: 200 }, (_, i) => slotOffsetMs("binance", `SYM${i}-USDT-SPOT`, interval));
		for (const o of offsets) expect(o >= 0 && o < interval).toBe(true);
		// spread: each sixth of the minute gets some of the 200 books
		const sixths = new Set(offsets.map((o) => Math.floor(o / 10_000)));
		expect(sixths.size).toBe(6);
		expect(slotOffsetMs("kraken", "BTC-USD-SPOT", interval)).toBe(slotOffsetMs("kraken", "BTC-USD-SPOT", interval));
	});

	it("the due slot is the latest interval start plus offset at or before now, and moves one interval at a time", () => {
		const interval = 1000;
		const off = slotOffsetMs("kraken", "BTC-USD-SPOT", interval);
		const base = 1_700_000_000_000; // a multiple of 1000
		expect(dueSlotMs("kraken", "BTC-USD-SPOT", interval, base + off)).toBe(base + off);
		expect(dueSlotMs("kraken", "BTC-USD-SPOT", interval, base + off - 1)).toBe(base + off - interval);
		expect(dueSlotMs("kraken", "BTC-USD-SPOT", interval, base + off + interval - 1)).toBe(base + off);
	});
});

describe("books to poll", () => {
	it("from the configuration: KRAKEN_SYMBOLS and ORDERBOOK_SYMBOLS, once each", () => {
		const t = targetsFromConfig(["BTC/USD", "ETH/USD"], [
			{ venue: "kraken", symbol: "BTC-USD-SPOT" },
			{ venue: "binance", symbol: "BTC-USDT-SPOT" },
			{ venue: "binance", symbol: "ETH-USDT-PERP" },
			{ venue: "binance", symbol: "BTC-USDT-FUTURE_240329" },
		]);
		expect(t).toEqual([
			{ venue: "kraken", symbol: "BTC-USD-SPOT", venueSymbol: "BTC/USD", market: "kraken-spot" },
			{ venue: "kraken", symbol: "ETH-USD-SPOT", venueSymbol: "ETH/USD", market: "kraken-spot" },
			{ venue: "binance", symbol: "BTC-USDT-SPOT", venueSymbol: "BTCUSDT", market: "binance-spot" },
			{ venue: "binance", symbol: "ETH-USDT-PERP", venueSymbol: "ETHUSDT", market: "binance-usdm" },
			{ venue: "binance", symbol: "BTC-USDT-FUTURE_240329", venueSymbol: "BTCUSDT_240329", market: "binance-usdm" },
		]);
	});

	it("from the catalog: active Kraken and Binance spot/USD-M rows; inverse contracts and other venues left out", () => {
		const t = targetsFromCatalog([
			{ venue: "kraken", venueSymbol: "ETH/USD", symbol: "ETH-USD-SPOT", type: "spot" },
			{ venue: "binance", venueSymbol: "BTCUSDT", symbol: "BTC-USDT-SPOT", type: "spot", base: "BTC", quote: "USDT", settle: null },
			{ venue: "binance", venueSymbol: "BTCUSDT", symbol: "BTC-USDT-PERP", type: "perpetual", base: "BTC", quote: "USDT", settle: "USDT" },
			{ venue: "binance", venueSymbol: "BTCUSD_PERP", symbol: "BTC-USD-PERP", type: "perpetual", base: "BTC", quote: "USD", settle: "BTC" },
			{ venue: "binance", venueSymbol: "LTCUSDT", symbol: "LTC-USDT-SPOT", active: false },
			{ venue: "dukascopy", venueSymbol: "EURUSD", symbol: "EUR-USD-SPOT" },
		]);
		expect(t.map((x) => `${x.venue}:${x.symbol}:${x.venueSymbol}:${x.market}`)).toEqual([
			"kraken:ETH-USD-SPOT:ETH/USD:kraken-spot",
			"binance:BTC-USDT-SPOT:BTCUSDT:binance-spot",
			"binance:BTC-USDT-PERP:BTCUSDT:binance-usdm",
		]);
		expect(binanceTarget("EUR_USD")).toBeNull();
	});

	it("reports the Binance weight the books need against the budget", () => {
		const targets = Array.from({ length: 700 }, (_, i) => binanceTarget(`S${i}-USDT-SPOT`)!);
		const [spot] = binanceWeightNeed(targets, 100, 60_000, 0.5);
		expect(spot).toEqual({ market: "spot", needPerMin: 3500, budgetPerMin: 3000 });
	});
});
