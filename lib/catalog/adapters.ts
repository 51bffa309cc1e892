import type { Config } from "../config";
import { binanceAdapter } from "./binance";
import { dukascopyAdapter } from "./dukascopy";
import { krakenAdapter } from "./kraken";
import { oandaAdapter } from "./oanda";
import { httpJsonGetter, type JsonGetter } from "./source";
import type { VenueCatalogAdapter } from "./types";

/** The catalog sources of the configured venues (CATALOG_VENUES); OANDA only with its credentials. */
export function catalogAdaptersFromConfig(c: Config, get: JsonGetter = httpJsonGetter()): VenueCatalogAdapter[] {
	const out: VenueCatalogAdapter[] = [];
	for (const v of c.catalogVenues) {
		if (v === "binance") out.push(binanceAdapter("spot", c.binanceRestUrl, get), binanceAdapter("usdm", c.binanceUsdmRestUrl, get), binanceAdapter("coinm", c.binanceCoinmRestUrl, get));
		else if (v === "kraken") out.push(krakenAdapter(c.krakenRestUrl, get));
		else if (v === "dukascopy") out.push(dukascopyAdapter(c.dukascopyMetaUrl, get));
		else if (v === "oanda" && c.oandaApiKey && c.oandaAccountId) out.push(oandaAdapter(c.oandaRestUrl, c.oandaApiKey, c.oandaAccountId, get));
	}
	return out;
}
