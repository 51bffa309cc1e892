import { exchangeHourOpen, easterSunday } from "../../lib/backfill/exchange-calendar";
import { marketOpen } from "../../lib/backfill/market-hours";
import { closestMatches, resolveName } from "../../lib/catalog/match";
import { planSync } from "../../lib/catalog/sync";
import type { CatalogInstrument, CatalogRow } from "../../lib/catalog/types";

const T = (iso: string) => Date.parse(iso);

describe("trading calendars", () => {
	it("crypto never closes; fx, metals, indices follow the FX week", () => {
		expect(marketOpen("crypto", T("2024-01-06T12:00:00Z"))).toBe(true); // Saturday
		for (const c of ["fx", "metal", "index", "commodity"] as const) {
			expect(marketOpen(c, T("2024-01-06T12:00:00Z"))).toBe(false);
			expect(marketOpen(c, T("2024-01-08T12:00:00Z"))).toBe(true);
		}
	});

	it("US equity CFDs follow the NYSE session, daylight time and holidays", () => {
		// winter: 09:30-16:00 New York = 14:30-21:00 UTC; the 14:00 hour overlaps the open, the 21:00 hour is after the close
		expect(marketOpen("equity", T("2024-01-09T13:00:00Z"), "US")).toBe(false);
		expect(marketOpen("equity", T("2024-01-09T14:00:00Z"), "US")).toBe(true);
		expect(marketOpen("equity", T("2024-01-09T20:00:00Z"), "US")).toBe(true);
		expect(marketOpen("equity", T("2024-01-09T21:00:00Z"), "US")).toBe(false);
		// summer: 13:30-20:00 UTC
		expect(marketOpen("equity", T("2024-07-09T13:00:00Z"), "US")).toBe(true);
		expect(marketOpen("equity", T("2024-07-09T20:00:00Z"), "US")).toBe(false);
		// Independence Day, Good Friday 2024 (29 March), Thanksgiving 2024 (28 November), Juneteenth 2024
		for (const d of ["2024-07-04", "2024-03-29", "2024-11-28", "2024-06-19", "2024-01-15"]) expect(marketOpen("equity", T(`${d}T15:00:00Z`), "US")).toBe(false);
		expect(marketOpen("equity", T("2024-01-13T15:00:00Z"), "US")).toBe(false); // Saturday
	});

	it("European, Asian and Mexican exchanges in their own time", () => {
		expect(exchangeHourOpen("DE", T("2024-01-09T07:00:00Z"))).toBe(false); // 08:00 Frankfurt
		expect(exchangeHourOpen("DE", T("2024-01-09T08:00:00Z"))).toBe(true); // 09:00
		expect(exchangeHourOpen("GB", T("2024-04-01T10:00:00Z"))).toBe(false); // Easter Monday
		expect(exchangeHourOpen("JP", T("2024-01-09T00:00:00Z"))).toBe(true); // 09:00 Tokyo
		expect(exchangeHourOpen("JP", T("2024-01-09T07:00:00Z"))).toBe(false); // 16:00 Tokyo
		expect(exchangeHourOpen("HK", T("2024-01-09T01:00:00Z"))).toBe(true); // 09:00-10:00 HK overlaps the 09:30 open
		expect(easterSunday(2025).toISOString().slice(0, 10)).toBe("2025-04-20");
	});
});

const inst = (o: Partial<CatalogInstrument>): CatalogInstrument => ({
	venue: "kraken",
	venueSymbol: "BTC/USD",
	symbol: "BTC-USD-SPOT",
	assetClass: "crypto",
	base: "BTC",
	quote: "USD",
	settle: null,
	type: "SPOT",
	expiry: null,
	tickSize: "0.1",
	lotSize: "0.00000001",
	pricePrecision: 1,
	qtyPrecision: 8,
	status: "online",
	description: null,
	meta: {},
	...o,
});
const row = (o: Partial<CatalogRow>): CatalogRow => ({ ...inst(o), id: `kraken:${o.symbol ?? "BTC-USD-SPOT"}`, active: false, updatedAt: "", createdAt: "", changedAt: {}, ...o });

describe("sync planning", () => {
	const now = new Date("2024-05-01T00:00:00Z");
	it("inserts new rows inactive, writes only changed attributes with their change time, delists what the venue dropped, never touches active", () => {
		const existing = [row({ active: true }), row({ symbol: "ETH-USD-SPOT", venueSymbol: "ETH/USD", base: "ETH" }), row({ symbol: "LTC-USD-SPOT", venueSymbol: "LTC/USD", base: "LTC", active: true })];
		const listing = [inst({ tickSize: "0.5" }), inst({ symbol: "ETH-USD-SPOT", venueSymbol: "ETH/USD", base: "ETH" }), inst({ symbol: "SOL-USD-SPOT", venueSymbol: "SOL/USD", base: "SOL" })];
		const plan = planSync(existing, listing, now);
		expect(plan.insert.map((x) => [x.symbol, x.active])).toEqual([["SOL-USD-SPOT", false]]);
		expect(plan.update).toEqual([{ id: "kraken:BTC-USD-SPOT", set: { tickSize: "0.5", changedAt: { tickSize: now.toISOString() }, updatedAt: now.toISOString() } }]);
		expect(plan.delist).toEqual([{ id: "kraken:LTC-USD-SPOT", set: { status: "delisted", changedAt: { status: now.toISOString() }, updatedAt: now.toISOString() } }]);
		expect(plan.unchanged).toBe(1);
		expect(JSON.stringify(plan)).not.toMatch(/"active":true/);
	});

	it("compares stored times and JSON by value", () => {
		const fut = { symbol: "BTC-USD-FUTURE_240329", venueSymbol: "BTCUSD_240329", type: "FUTURE" as const, expiry: "2024-03-29T08:00:00.000Z", meta: { b: 1, a: 2 } };
		expect(planSync([row({ ...fut, expiry: "2024-03-29T08:00:00.000Z", meta: { a: 2, b: 1 } })], [inst(fut)], now).unchanged).toBe(1);
	});
});

describe("names", () => {
	const rows = [
		row({}),
		row({ symbol: "BTC-USD-PERP", venueSymbol: "BTCUSD_PERP", type: "PERP" }),
		row({ symbol: "ETH-USD-SPOT", venueSymbol: "ETH/USD", base: "ETH" }),
		row({ symbol: "AAPL.US-USD-CFD", venueSymbol: "AAPLUSUSD", base: "AAPL.US", type: "CFD" }),
		row({ symbol: "EUR-USD-SPOT", venueSymbol: "EUR_USD", base: "EUR" }),
	];
	it.each([
		["BTC-USD-SPOT", "BTC-USD-SPOT"],
		["btc/usd", "BTC-USD-SPOT"],
		["BTCUSD", "BTC-USD-SPOT"],
		["BTC-USD", "BTC-USD-SPOT"],
		["btcusd_perp", "BTC-USD-PERP"],
		["AAPL", "AAPL.US-USD-CFD"],
		["EURUSD", "EUR-USD-SPOT"],
	])("%s resolves to %s", (name, symbol) => expect(resolveName(rows, name)?.symbol).toBe(symbol));

	it("an unknown name resolves to nothing and gets the closest names", () => {
		expect(resolveName(rows, "NOPE")).toBeNull();
		expect(closestMatches(rows, "ETH-USDX")[0]).toBe("ETH-USD-SPOT");
		expect(closestMatches(rows, "BTC").slice(0, 2).sort()).toEqual(["BTC-USD-PERP", "BTC-USD-SPOT"]);
		expect(closestMatches(rows, "x", 3)).toHaveLength(3);
	});
});

describe("catalog configuration", () => {
	it("reads durations, venues and the ingest switch", () => {
		const { loadConfig } = require("../../lib/config") as typeof import("../../lib/config");
		const c = loadConfig({ ADD_SYMBOL_BACKFILL: "7d", CATALOG_SYNC_INTERVAL_MS: "90m", CATALOG_VENUES: "kraken, Dukascopy", INGEST_ALLOW_UNKNOWN: "true" });
		expect([c.addSymbolBackfillMs, c.catalogSyncIntervalMs, c.catalogVenues, c.ingestAllowUnknown]).toEqual([7 * 86_400_000, 90 * 60_000, ["kraken", "dukascopy"], true]);
		const d = loadConfig({});
		expect([d.addSymbolBackfillMs, d.catalogSyncIntervalMs, d.oandaRestUrl, d.ingestAllowUnknown, d.services]).toEqual([86_400_000, 21_600_000, "https://api-fxpractice.oanda.com", false, expect.arrayContaining(["symbol-catalog"])]);
		expect(() => loadConfig({ ADD_SYMBOL_BACKFILL: "a day" })).toThrow(/ADD_SYMBOL_BACKFILL/);
		expect(() => loadConfig({ CATALOG_VENUES: "kraken,nasdaq" })).toThrow(/unknown venue "nasdaq"/);
	});
});

describe("retrying schedule", () => {
	it("runs at start, retries a failure with a doubling delay, and logs one line per failure streak", async () => {
		const { RetryingSchedule } = require("../../lib/catalog/schedule") as typeof import("../../lib/catalog/schedule");
		const runs: number[] = [];
		const info: string[] = [];
		const debug: string[] = [];
		let fail = 3;
		const s = new RetryingSchedule({
			what: "sync",
			intervalMs: 3_600_000,
			retryBaseMs: 5,
			retryMaxMs: 40,
			logger: { info: (m: unknown) => info.push(String(m)), warn: () => undefined, error: () => undefined, debug: (m: unknown) => debug.push(String(m)) },
			run: async () => {
				runs.push(Date.now());
				if (fail-- > 0) throw new Error("unreachable");
				return true;
			},
		});
		s.start(["kraken"]);
		const deadline = Date.now() + 5000;
		while (runs.length < 4 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
		await s.stop();
		expect(runs).toHaveLength(4); // three failures, then the success; the next run is an interval away
		expect(info.filter((l) => /failed: unreachable/.test(l))).toHaveLength(1);
		expect(debug).toHaveLength(2);
		expect(info.some((l) => /succeeded again after 3/.test(l))).toBe(true);
	});
});
