import { isRecord, expectShape, nonEmpty, type JsonGetter, type ParseResult } from "./source";
import { decimalsOf, trimDecimal, type CatalogInstrument, type InstrumentStatus, type VenueCatalogAdapter } from "./types";

/**
 * Binance exchangeInfo (spot /api/v3, USD-M /fapi/v1, COIN-M /dapi/v1) → catalog rows, all under venue
 * `binance`. Spot: BTCUSDT → BTC-USDT-SPOT. Perpetuals: BTCUSDT → BTC-USDT-PERP (USD-M, linear, settles
 * in the margin asset USDT), BTCUSD_PERP → BTC-USD-PERP (COIN-M, inverse, settles in BTC). Dated
 * futures: BTCUSDT_210924 / BTCUSD_210924 → BTC-USD(T)-FUTURE_210924, expiry = deliveryDate.
 * `meta.market` (spot, usdm, coinm) says which API serves the row.
 */
export type BinanceMarket = "spot" | "usdm" | "coinm";

const PATHS: Record<BinanceMarket, string> = { spot: "/api/v3/exchangeInfo", usdm: "/fapi/v1/exchangeInfo", coinm: "/dapi/v1/exchangeInfo" };

/** Binance's deliveryDate for contracts that never deliver (2100-12-25). */
const NEVER_DELIVERS_MS = 4_133_404_800_000;

/**
 * Spot status: TRADING is online; BREAK is how Binance shows a pair taken off the market (delisted);
 * PRE_TRADING, POST_TRADING, END_OF_DAY, HALT and AUCTION_MATCH are pauses (halted).
 * Futures status: TRADING online; PENDING_TRADING (listed, not yet open), PRE_DELIVERING, DELIVERING,
 * PRE_SETTLE, SETTLING halted; DELIVERED, SETTLED and CLOSE delisted (a delivered contract never trades again).
 */
export function binanceStatus(s: unknown): InstrumentStatus {
	if (s === "TRADING") return "online";
	if (s === "BREAK" || s === "DELIVERED" || s === "SETTLED" || s === "CLOSE") return "delisted";
	return "halted";
}

function filter(sym: Record<string, unknown>, type: string, field: string): string | null {
	const f = Array.isArray(sym.filters) ? sym.filters.find((x) => isRecord(x) && x.filterType === type) : undefined;
	const v = isRecord(f) ? f[field] : undefined;
	return typeof v === "string" && /^\d+(\.\d+)?$/.test(v) && Number(v) !== 0 ? trimDecimal(v) : null;
}

/** yymmdd of a UTC time. */
function yymmdd(ms: number): string {
	return new Date(ms).toISOString().slice(2, 10).replace(/-/g, "");
}

/**
 * The instrument type of a futures row. contractType is PERPETUAL, CURRENT_QUARTER, NEXT_QUARTER,
 * CURRENT_MONTH, NEXT_MONTH or "PERPETUAL DELIVERING" (a perpetual being wound down), and EMPTY for
 * contracts that are not (or no longer) in a cycle: pending listings, delivered and settled ones. For an
 * empty one the symbol decides: a `_yymmdd` suffix is a dated future, otherwise a deliveryDate of
 * 2100-12-25 marks a perpetual; anything else cannot be classified and is rejected.
 */
function futuresType(sym: Record<string, unknown>): { type: "PERP" | "FUTURE"; expiryMs: number | null } | string {
	const ct = typeof sym.contractType === "string" ? sym.contractType : "";
	const dated = /_(\d{6})$/.exec(String(sym.symbol));
	const delivery = typeof sym.deliveryDate === "number" ? sym.deliveryDate : null;
	if (ct === "PERPETUAL" || ct === "PERPETUAL DELIVERING" || /_PERP$/.test(String(sym.symbol))) return { type: "PERP", expiryMs: null };
	if (/^(CURRENT|NEXT)_(QUARTER|MONTH)$/.test(ct) || (ct === "" && dated)) {
		if (delivery === null || delivery >= NEVER_DELIVERS_MS) return `dated contract without a delivery date`;
		return { type: "FUTURE", expiryMs: delivery };
	}
	if (ct === "" && delivery !== null && delivery >= NEVER_DELIVERS_MS) return { type: "PERP", expiryMs: null };
	return `contractType ${JSON.stringify(ct)} with deliveryDate ${delivery} is neither a perpetual nor a dated future`;
}

export function parseBinanceExchangeInfo(market: BinanceMarket, body: unknown): ParseResult {
	const source = `binance ${market}`;
	expectShape(source, isRecord(body) && Array.isArray(body.symbols), "an exchangeInfo object with a symbols array");
	const out: ParseResult = { instruments: [], rejected: [] };
	for (const sym of (body as { symbols: unknown[] }).symbols) {
		if (!isRecord(sym) || typeof sym.symbol !== "string") {
			out.rejected.push({ venueSymbol: String(isRecord(sym) ? sym.symbol : sym), reason: "not a symbol object" });
			continue;
		}
		const base = typeof sym.baseAsset === "string" ? sym.baseAsset.toUpperCase() : "";
		const quote = typeof sym.quoteAsset === "string" ? sym.quoteAsset.toUpperCase() : "";
		if (!/^[A-Z0-9]{1,20}$/.test(base) || !/^[A-Z0-9]{1,20}$/.test(quote)) {
			out.rejected.push({ venueSymbol: sym.symbol, reason: "baseAsset/quoteAsset missing" });
			continue;
		}
		const tickSize = filter(sym, "PRICE_FILTER", "tickSize");
		const lotSize = filter(sym, "LOT_SIZE", "stepSize");
		const common = {
			venue: "binance",
			venueSymbol: sym.symbol,
			assetClass: "crypto" as const,
			base,
			quote,
			tickSize,
			lotSize,
			pricePrecision: tickSize ? decimalsOf(tickSize) : null,
			qtyPrecision: lotSize ? decimalsOf(lotSize) : null,
			status: binanceStatus(market === "coinm" ? sym.contractStatus : sym.status),
			description: null,
		};
		if (market === "spot") {
			out.instruments.push({ ...common, symbol: `${base}-${quote}-SPOT`, settle: null, type: "SPOT", expiry: null, meta: { market } });
			continue;
		}
		const t = futuresType(sym);
		if (typeof t === "string") {
			out.rejected.push({ venueSymbol: sym.symbol, reason: t });
			continue;
		}
		const settle = typeof sym.marginAsset === "string" ? sym.marginAsset.toUpperCase() : market === "coinm" ? base : quote;
		const meta: Record<string, unknown> = { market, contractType: sym.contractType ?? "", pair: sym.pair ?? null };
		if (typeof sym.contractSize === "number") meta.contractSize = sym.contractSize;
		out.instruments.push({
			...common,
			symbol: t.type === "PERP" ? `${base}-${quote}-PERP` : `${base}-${quote}-FUTURE_${yymmdd(t.expiryMs!)}`,
			settle,
			type: t.type,
			expiry: t.expiryMs === null ? null : new Date(t.expiryMs).toISOString(),
			meta,
		});
	}
	return out;
}

export function binanceAdapter(market: BinanceMarket, baseUrl: string, get: JsonGetter): VenueCatalogAdapter {
	return {
		venue: "binance",
		source: `binance ${market}`,
		owns: (row) => row.meta?.market === market,
		async load(signal) {
			return nonEmpty(`binance ${market}`, parseBinanceExchangeInfo(market, await get(`${baseUrl}${PATHS[market]}`, { signal }))).instruments;
		},
	};
}

export type { CatalogInstrument };
