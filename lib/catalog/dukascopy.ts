import { readFile } from "node:fs/promises";
import { isFiat, METALS } from "./assets";
import { isRecord, expectShape, nonEmpty, type JsonGetter, type ParseResult } from "./source";
import { stepOfDecimals, type CatalogAssetClass, type VenueCatalogAdapter } from "./types";

/**
 * Dukascopy instrument metadata (dukascopy-node's instrument-meta-data.json, keyed by lower-case
 * datafeed id: "eurusd", "aaplususd") → catalog rows (venue `dukascopy`). Venue symbol = the datafeed
 * id (EURUSD, AAPLUSUSD), what the .bi5 URLs use; `meta.code` is the JSON API code (EUR-USD, AAPL.US-USD).
 * Names: currency pairs (EUR/USD) are fx, with XAU/XAG metal and non-currencies (BTC, ETH, ...) crypto,
 * all SPOT; "<ticker>.<exchange>/<ccy>" are equity CFDs (AAPL.US/USD → AAPL.US-USD-CFD, calendar of the
 * exchange in meta.exchange), ".IDX" indices, ".CMD" commodities (XPT/XPD.CMD metal), ".TR" bond
 * futures (filed as index: the catalog has no bond class; they trade on the index calendar).
 */
export function dukascopyClass(name: string): { assetClass: CatalogAssetClass; type: "SPOT" | "CFD"; exchange: string | null } | null {
	const m = /^([A-Z0-9]+)(?:\.([A-Z]+))?\/([A-Z]+)$/.exec(name);
	if (!m) return null;
	const [, base, suffix, quote] = m;
	if (!suffix) {
		if (METALS.has(base)) return { assetClass: "metal", type: "SPOT", exchange: null };
		if (isFiat(base) && isFiat(quote)) return { assetClass: "fx", type: "SPOT", exchange: null };
		return { assetClass: "crypto", type: "SPOT", exchange: null };
	}
	if (suffix === "IDX" || suffix === "TR") return { assetClass: "index", type: "CFD", exchange: null };
	if (suffix === "CMD") return { assetClass: METALS.has(base) ? "metal" : "commodity", type: "CFD", exchange: null };
	return { assetClass: "equity", type: "CFD", exchange: suffix };
}

export function parseDukascopyMeta(body: unknown): ParseResult {
	const source = "dukascopy";
	expectShape(source, isRecord(body) && Object.keys(body).length > 0, "the instrument metadata object");
	const out: ParseResult = { instruments: [], rejected: [] };
	for (const [key, x] of Object.entries(body as Record<string, unknown>)) {
		if (!isRecord(x) || typeof x.name !== "string" || typeof x.decimalFactor !== "number") {
			out.rejected.push({ venueSymbol: key, reason: "entry without name or decimalFactor" });
			continue;
		}
		const cls = dukascopyClass(x.name);
		const decimals = Math.round(Math.log10(x.decimalFactor));
		if (!cls || 10 ** decimals !== x.decimalFactor) {
			out.rejected.push({ venueSymbol: key, reason: cls ? `decimalFactor ${x.decimalFactor} is not a power of ten` : `name ${JSON.stringify(x.name)} is not BASE/QUOTE` });
			continue;
		}
		const [base, quote] = x.name.split("/");
		out.instruments.push({
			venue: "dukascopy",
			venueSymbol: key.toUpperCase(),
			symbol: `${base}-${quote}-${cls.type}`,
			assetClass: cls.assetClass,
			base,
			quote,
			settle: null,
			type: cls.type,
			expiry: null,
			tickSize: stepOfDecimals(decimals),
			lotSize: null,
			pricePrecision: decimals,
			qtyPrecision: null,
			status: "online",
			description: typeof x.description === "string" ? x.description : null,
			meta: {
				name: x.name,
				code: typeof x.code === "string" ? x.code : `${base}-${quote}`,
				decimalFactor: x.decimalFactor,
				startHourForTicks: typeof x.startHourForTicks === "string" ? x.startHourForTicks : null,
				exchange: cls.exchange,
			},
		});
	}
	return out;
}

/**
 * The metadata comes from DUKASCOPY_META_URL: dukascopy-node publishes it (generated from Dukascopy's
 * own instrument list) in its repository, so production reads that file over HTTP; a local path or
 * file:// URL reads a copy.
 */
export function dukascopyAdapter(metaUrl: string, get: JsonGetter): VenueCatalogAdapter {
	return {
		venue: "dukascopy",
		source: "dukascopy",
		async load(signal) {
			let body: unknown;
			if (/^https?:\/\//.test(metaUrl)) body = await get(metaUrl, { signal });
			else body = JSON.parse(await readFile(metaUrl.replace(/^file:\/\//, ""), "utf8"));
			return nonEmpty("dukascopy", parseDukascopyMeta(body)).instruments;
		},
	};
}
