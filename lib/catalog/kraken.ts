import { normalizeAsset, wsSymbolFromWsname } from "../venues/kraken/symbols";
import { isFiat } from "./assets";
import { isRecord, expectShape, nonEmpty, type JsonGetter, type ParseResult } from "./source";
import { decimalsOf, stepOfDecimals, trimDecimal, type InstrumentStatus, type VenueCatalogAdapter } from "./types";

/**
 * Kraken /0/public/AssetPairs → catalog rows (venue `kraken`). The venue symbol is the WebSocket v2 name
 * (wsname with Kraken's legacy codes mapped: XBT/USD → BTC/USD, XDG → DOGE), which is what the stream
 * subscribes; pairs without a wsname (dark-pool `.d` pairs) keep their altname. Standard symbol:
 * BASE-QUOTE-SPOT from the X/Z-stripped asset codes (XXBT/ZUSD → BTC-USD-SPOT), so a dark-pool twin
 * maps to the same symbol as its public pair and loses to it by the pick rule (lib/catalog/pick.ts).
 */

/** AssetPairs status: online; cancel_only, post_only, limit_only, reduce_only and maintenance are halts; delisted. Absent (older API): online. */
export function krakenStatus(s: unknown): InstrumentStatus {
	if (s === undefined || s === "online") return "online";
	if (s === "delisted") return "delisted";
	return "halted";
}

export function parseKrakenAssetPairs(body: unknown): ParseResult {
	const source = "kraken";
	expectShape(source, isRecord(body) && isRecord(body.result) && (body.error === undefined || (Array.isArray(body.error) && body.error.length === 0)), "an AssetPairs answer without errors");
	const out: ParseResult = { instruments: [], rejected: [] };
	for (const [key, p] of Object.entries((body as { result: Record<string, unknown> }).result)) {
		if (!isRecord(p) || typeof p.base !== "string" || typeof p.quote !== "string" || typeof p.altname !== "string") {
			out.rejected.push({ venueSymbol: key, reason: "pair without base, quote or altname" });
			continue;
		}
		const base = normalizeAsset(p.base);
		const quote = normalizeAsset(p.quote);
		const ws = wsSymbolFromWsname(p.wsname);
		const pairDecimals = typeof p.pair_decimals === "number" ? p.pair_decimals : null;
		const lotDecimals = typeof p.lot_decimals === "number" ? p.lot_decimals : null;
		const tick = typeof p.tick_size === "string" && /^\d+(\.\d+)?$/.test(p.tick_size) ? trimDecimal(p.tick_size) : pairDecimals !== null ? stepOfDecimals(pairDecimals) : null;
		out.instruments.push({
			venue: "kraken",
			venueSymbol: ws ?? p.altname,
			symbol: `${base}-${quote}-SPOT`,
			assetClass: isFiat(base) && isFiat(quote) ? "fx" : "crypto",
			base,
			quote,
			settle: null,
			type: "SPOT",
			expiry: null,
			tickSize: tick,
			lotSize: lotDecimals !== null ? stepOfDecimals(lotDecimals) : null,
			pricePrecision: pairDecimals ?? (tick ? decimalsOf(tick) : null),
			qtyPrecision: lotDecimals,
			status: krakenStatus(p.status),
			description: null,
			meta: { key, altname: p.altname, wsname: typeof p.wsname === "string" ? p.wsname : null, ordermin: typeof p.ordermin === "string" ? p.ordermin : null },
		});
	}
	return out;
}

export function krakenAdapter(baseUrl: string, get: JsonGetter): VenueCatalogAdapter {
	return {
		venue: "kraken",
		source: "kraken",
		async load(signal) {
			return nonEmpty("kraken", parseKrakenAssetPairs(await get(`${baseUrl}/0/public/AssetPairs`, { signal }))).instruments;
		},
	};
}
