import { isRecord, expectShape, nonEmpty, type JsonGetter, type ParseResult } from "./source";
import { stepOfDecimals, type CatalogAssetClass, type VenueCatalogAdapter } from "./types";

/**
 * OANDA v20 GET /v3/accounts/{accountID}/instruments → catalog rows (venue `oanda`). Each instrument:
 * {name: "EUR_USD", type: "CURRENCY" | "METAL" | "CFD", displayName, displayPrecision, pipLocation,
 * tradeUnitsPrecision, minimumTradeSize}. Currencies are fx SPOT (EUR_USD → EUR-USD-SPOT), metals
 * metal SPOT (XAU_USD), CFDs CFD: commodities by their OANDA names, everything else (DE30_EUR, US30_USD,
 * bonds) index. Only used when OANDA_API_KEY and OANDA_ACCOUNT_ID are set.
 */
const OANDA_COMMODITIES = new Set(["BCO", "WTICO", "NATGAS", "CORN", "SOYBN", "SUGAR", "WHEAT", "XCU"]);

function oandaClass(type: string, base: string): { assetClass: CatalogAssetClass; type: "SPOT" | "CFD" } | null {
	if (type === "CURRENCY") return { assetClass: "fx", type: "SPOT" };
	if (type === "METAL") return { assetClass: "metal", type: "SPOT" };
	if (type === "CFD") return { assetClass: OANDA_COMMODITIES.has(base) ? "commodity" : "index", type: "CFD" };
	return null;
}

export function parseOandaInstruments(body: unknown): ParseResult {
	const source = "oanda";
	expectShape(source, isRecord(body) && Array.isArray(body.instruments), "an instruments answer");
	const out: ParseResult = { instruments: [], rejected: [] };
	for (const x of (body as { instruments: unknown[] }).instruments) {
		const name = isRecord(x) && typeof x.name === "string" ? x.name : null;
		const m = name ? /^([A-Z0-9]+)_([A-Z]+)$/.exec(name) : null;
		const cls = m && isRecord(x) && typeof x.type === "string" ? oandaClass(x.type, m[1]) : null;
		if (!isRecord(x) || !m || !cls || typeof x.displayPrecision !== "number") {
			out.rejected.push({ venueSymbol: String(name ?? "?"), reason: "not an instrument with name BASE_QUOTE, a known type and displayPrecision" });
			continue;
		}
		const [, base, quote] = m;
		const units = typeof x.tradeUnitsPrecision === "number" ? x.tradeUnitsPrecision : 0;
		out.instruments.push({
			venue: "oanda",
			venueSymbol: name!,
			symbol: `${base}-${quote}-${cls.type}`,
			assetClass: cls.assetClass,
			base,
			quote,
			settle: null,
			type: cls.type,
			expiry: null,
			tickSize: stepOfDecimals(x.displayPrecision),
			lotSize: stepOfDecimals(units),
			pricePrecision: x.displayPrecision,
			qtyPrecision: units,
			status: "online",
			description: typeof x.displayName === "string" ? x.displayName : null,
			meta: { oandaType: x.type, pipLocation: typeof x.pipLocation === "number" ? x.pipLocation : null, minimumTradeSize: typeof x.minimumTradeSize === "string" ? x.minimumTradeSize : null },
		});
	}
	return out;
}

export function oandaAdapter(restUrl: string, apiKey: string, accountId: string, get: JsonGetter): VenueCatalogAdapter {
	return {
		venue: "oanda",
		source: "oanda",
		async load(signal) {
			const body = await get(`${restUrl}/v3/accounts/${encodeURIComponent(accountId)}/instruments`, { signal, headers: { Authorization: `Bearer ${apiKey}` } });
			return nonEmpty("oanda", parseOandaInstruments(body)).instruments;
		},
	};
}
