import { readFileSync } from "node:fs";
import path from "node:path";
import { parseBinanceExchangeInfo } from "../../lib/catalog/binance";
import { parseDukascopyMeta } from "../../lib/catalog/dukascopy";
import { parseKrakenAssetPairs } from "../../lib/catalog/kraken";
import { parseOandaInstruments } from "../../lib/catalog/oanda";
import { pickPerSymbol } from "../../lib/catalog/pick";
import { CatalogSourceError } from "../../lib/catalog/types";

const FIX = path.resolve(__dirname, "../../../shared/fixtures");
/** cryptofeed recordings: line 1 is "<url> -> <ts>: <json>". */
function recorded(file: string): any {
	const line = readFileSync(path.join(FIX, file), "utf8").split("\n")[0];
	return JSON.parse(line.slice(line.indexOf(": ") + 2));
}
const json = (file: string) => JSON.parse(readFileSync(path.join(FIX, file), "utf8"));

describe("Binance exchangeInfo", () => {
	it("normalises every spot symbol of the recorded exchangeInfo", () => {
		const body = recorded("binance/spot/cryptofeed_BINANCE.0");
		const r = parseBinanceExchangeInfo("spot", body);
		expect(r.rejected).toEqual([]);
		expect(r.instruments).toHaveLength(body.symbols.length);
		for (const [i, s] of body.symbols.entries()) {
			const x = r.instruments[i];
			expect(x.symbol).toBe(`${s.baseAsset}-${s.quoteAsset}-SPOT`);
			expect(x.venueSymbol).toBe(s.symbol);
			expect(x.status).toBe(s.status === "TRADING" ? "online" : "delisted");
			const tick = s.filters.find((f: any) => f.filterType === "PRICE_FILTER").tickSize;
			expect(Number(x.tickSize)).toBe(Number(tick));
			expect(x.tickSize).not.toMatch(/\.\d*0$/);
		}
		expect(r.instruments.find((x) => x.venueSymbol === "ETHBTC")).toMatchObject({ symbol: "ETH-BTC-SPOT", tickSize: "0.000001", lotSize: "0.0001", pricePrecision: 6, qtyPrecision: 4, settle: null, type: "SPOT", meta: { market: "spot" } });
	});

	it("normalises every USD-M perpetual, quarterly and the empty-contractType listing", () => {
		const body = recorded("binance/futures/cryptofeed_BINANCE_FUTURES.0");
		const r = parseBinanceExchangeInfo("usdm", body);
		expect(r.rejected).toEqual([]);
		expect(r.instruments).toHaveLength(body.symbols.length);
		for (const [i, s] of body.symbols.entries()) {
			const x = r.instruments[i];
			expect(x.settle).toBe(s.marginAsset);
			expect(x.settle).toBe(s.quoteAsset); // linear: settles in the quote
			if (s.contractType === "PERPETUAL") expect(x).toMatchObject({ type: "PERP", symbol: `${s.baseAsset}-${s.quoteAsset}-PERP`, expiry: null });
			else if (s.contractType === "CURRENT_QUARTER") expect(x).toMatchObject({ type: "FUTURE", symbol: `${s.baseAsset}-${s.quoteAsset}-FUTURE_${s.symbol.split("_")[1]}`, expiry: new Date(s.deliveryDate).toISOString() });
		}
		expect(r.instruments.find((x) => x.venueSymbol === "BTCUSDT_210924")).toMatchObject({ symbol: "BTC-USDT-FUTURE_210924", expiry: "2021-09-24T08:00:00.000Z", status: "online" });
		// contractType "" with the never-delivers date and PENDING_TRADING: a perpetual not yet open
		expect(r.instruments.find((x) => x.venueSymbol === "BTCSTUSDT")).toMatchObject({ symbol: "BTCST-USDT-PERP", type: "PERP", status: "halted" });
	});

	it("normalises every COIN-M perpetual and delivery contract as inverse (settles in the base)", () => {
		const body = recorded("binance/futures/cryptofeed_BINANCE_DELIVERY.0");
		const r = parseBinanceExchangeInfo("coinm", body);
		expect(r.rejected).toEqual([]);
		expect(r.instruments).toHaveLength(36);
		for (const [i, s] of body.symbols.entries()) {
			const x = r.instruments[i];
			expect(x.settle).toBe(s.baseAsset);
			expect(x.type).toBe(s.contractType === "PERPETUAL" ? "PERP" : "FUTURE");
			if (x.type === "FUTURE") expect(x.symbol).toBe(`${s.baseAsset}-${s.quoteAsset}-FUTURE_${s.symbol.split("_")[1]}`);
		}
		expect(r.instruments.find((x) => x.venueSymbol === "BTCUSD_PERP")).toMatchObject({ symbol: "BTC-USD-PERP", settle: "BTC", quote: "USD", tickSize: "0.1", lotSize: "1", meta: { contractSize: 100, market: "coinm" } });
	});

	it("classifies delivered, settled and unclassifiable contracts explicitly", () => {
		const mk = (o: object) => ({ symbols: [{ symbol: "ETHUSDT_210625", baseAsset: "ETH", quoteAsset: "USDT", marginAsset: "USDT", filters: [], ...o }] });
		expect(parseBinanceExchangeInfo("usdm", mk({ contractType: "", deliveryDate: 1624608000000, status: "DELIVERED" })).instruments[0]).toMatchObject({ type: "FUTURE", symbol: "ETH-USDT-FUTURE_210625", status: "delisted" });
		expect(parseBinanceExchangeInfo("usdm", mk({ contractType: "", symbol: "ETHUSDT", deliveryDate: 1624608000000, status: "SETTLING" })).rejected[0].reason).toMatch(/neither a perpetual nor a dated future/);
		expect(() => parseBinanceExchangeInfo("spot", { code: -1121, msg: "Invalid symbol." })).toThrow(CatalogSourceError);
	});
});

describe("Kraken AssetPairs", () => {
	for (const file of ["kraken/rest/cryptofeed_KRAKEN.0", "kraken/rest/nautilus_http_asset_pairs.json"]) {
		it(`normalises every pair of ${path.basename(file)}`, () => {
			const body = file.endsWith(".json") ? json(file) : recorded(file);
			const r = parseKrakenAssetPairs(body);
			expect(r.rejected).toEqual([]);
			expect(r.instruments).toHaveLength(Object.keys(body.result).length);
			for (const x of r.instruments) {
				expect(x.symbol).toMatch(/^[A-Z0-9.]+-[A-Z0-9.]+-SPOT$/);
				expect(x.symbol).not.toMatch(/^(XBT|XDG|XX|XZ|ZUSD)|-(XBT|XDG|ZUSD|ZEUR)-/);
				const p = body.result[x.meta.key as string];
				expect(x.pricePrecision).toBe(p.pair_decimals);
				expect(x.qtyPrecision).toBe(p.lot_decimals);
				if (p.wsname) expect(x.venueSymbol).toBe(`${x.base}/${x.quote}`);
			}
		});
	}

	it("maps XBT, XDG and X/Z prefixes, and classes fiat pairs as fx", () => {
		const r = parseKrakenAssetPairs(recorded("kraken/rest/cryptofeed_KRAKEN.0"));
		const by = (k: string) => r.instruments.find((x) => x.meta.key === k);
		expect(by("XXBTZUSD")).toMatchObject({ venueSymbol: "BTC/USD", symbol: "BTC-USD-SPOT", base: "BTC", quote: "USD", tickSize: "0.1", lotSize: "0.00000001", assetClass: "crypto" });
		expect(by("XDGUSD")).toMatchObject({ venueSymbol: "DOGE/USD", symbol: "DOGE-USD-SPOT" });
		expect(by("ZEURZUSD")).toMatchObject({ symbol: "EUR-USD-SPOT", assetClass: "fx" });
		expect(by("XXBTZUSD.d")).toMatchObject({ venueSymbol: "XBTUSD.d", symbol: "BTC-USD-SPOT" });
	});

	it("keeps one row per standard symbol by the documented rule, whatever the listing order", () => {
		const r = parseKrakenAssetPairs(recorded("kraken/rest/cryptofeed_KRAKEN.0"));
		const a = pickPerSymbol(r.instruments);
		const b = pickPerSymbol([...r.instruments].reverse());
		expect(new Set(a.kept.map((x) => x.symbol)).size).toBe(a.kept.length);
		expect(a.kept.find((x) => x.symbol === "BTC-USD-SPOT")?.venueSymbol).toBe("BTC/USD");
		expect(a.dropped.map((x) => x.venueSymbol).sort()).toEqual(r.instruments.filter((x) => x.venueSymbol.endsWith(".d")).map((x) => x.venueSymbol).sort());
		expect(b.kept.map((x) => x.venueSymbol).sort()).toEqual(a.kept.map((x) => x.venueSymbol).sort());
	});

	it("refuses an error answer", () => {
		expect(() => parseKrakenAssetPairs({ error: ["EGeneral:Internal error"], result: {} })).toThrow(CatalogSourceError);
		expect(() => parseKrakenAssetPairs("<html>")).toThrow(CatalogSourceError);
	});
});

describe("Dukascopy metadata", () => {
	const body = json("dukascopy/meta/instrument-meta-data.json");
	const r = parseDukascopyMeta(body);
	const by = (id: string) => r.instruments.find((x) => x.venueSymbol === id);

	it("normalises all 1,499 instruments", () => {
		expect(r.rejected).toEqual([]);
		expect(r.instruments).toHaveLength(1499);
		expect(new Set(r.instruments.map((x) => x.symbol)).size).toBe(1499);
	});

	it("classes FX, metals, crypto, equity CFDs, indices and commodities", () => {
		expect(by("AUDCAD")).toMatchObject({ symbol: "AUD-CAD-SPOT", assetClass: "fx", pricePrecision: 5, tickSize: "0.00001" });
		expect(by("AAPLUSUSD")).toMatchObject({ symbol: "AAPL.US-USD-CFD", assetClass: "equity", type: "CFD", description: "APPLE INC", meta: { exchange: "US", code: "AAPL.US-USD", decimalFactor: 1000 } });
		expect(by("TSLAUSUSD")).toMatchObject({ symbol: "TSLA.US-USD-CFD", assetClass: "equity" });
		expect(by("XAUUSD")).toMatchObject({ symbol: "XAU-USD-SPOT", assetClass: "metal" });
		expect(by("BTCUSD")).toMatchObject({ symbol: "BTC-USD-SPOT", assetClass: "crypto", pricePrecision: 1 });
		expect(by("USA500IDXUSD")).toMatchObject({ assetClass: "index", type: "CFD" });
		expect(by("BRENTCMDUSD")).toMatchObject({ assetClass: "commodity" });
		const counts: Record<string, number> = {};
		for (const x of r.instruments) counts[x.assetClass] = (counts[x.assetClass] ?? 0) + 1;
		expect(counts.equity).toBeGreaterThan(1000);
		expect(counts.fx).toBeGreaterThan(200);
	});
});

describe("OANDA instruments", () => {
	// The v20 Instrument shape (developer.oanda.com account-ep); the fixtures hold no instruments answer.
	const body = {
		instruments: [
			{ name: "EUR_USD", type: "CURRENCY", displayName: "EUR/USD", pipLocation: -4, displayPrecision: 5, tradeUnitsPrecision: 0, minimumTradeSize: "1" },
			{ name: "XAU_USD", type: "METAL", displayName: "Gold", pipLocation: -2, displayPrecision: 3, tradeUnitsPrecision: 0, minimumTradeSize: "1" },
			{ name: "DE30_EUR", type: "CFD", displayName: "Germany 30", pipLocation: 0, displayPrecision: 1, tradeUnitsPrecision: 1, minimumTradeSize: "0.1" },
			{ name: "BCO_USD", type: "CFD", displayName: "Brent Crude Oil", pipLocation: -2, displayPrecision: 3, tradeUnitsPrecision: 0, minimumTradeSize: "1" },
			{ name: "weird", type: "CURRENCY", displayPrecision: 5 },
		],
		lastTransactionID: "6356",
	};
	it("normalises currencies, metals and CFDs and rejects a malformed entry", () => {
		const r = parseOandaInstruments(body);
		expect(r.instruments.map((x) => [x.venueSymbol, x.symbol, x.assetClass])).toEqual([
			["EUR_USD", "EUR-USD-SPOT", "fx"],
			["XAU_USD", "XAU-USD-SPOT", "metal"],
			["DE30_EUR", "DE30-EUR-CFD", "index"],
			["BCO_USD", "BCO-USD-CFD", "commodity"],
		]);
		expect(r.instruments[2]).toMatchObject({ tickSize: "0.1", lotSize: "0.1", qtyPrecision: 1, description: "Germany 30" });
		expect(r.rejected).toHaveLength(1);
	});
});
