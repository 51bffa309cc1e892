/**
 * Kraken symbol names. WebSocket v2 spells pairs "BTC/USD"; REST still uses the old asset codes
 * ("XBTUSD" altname, "XXBTZUSD" result key, wsname "XBT/USD"). Our canonical symbol is
 * BASE-QUOTE-TYPE ("BTC-USD-SPOT"), next to the venue symbol.
 */

/** Kraken's legacy asset codes and their common names. */
const ASSET_ALIASES: Record<string, string> = { XBT: "BTC", XDG: "DOGE" };
const LEGACY_CODES: Record<string, string> = { BTC: "XBT", DOGE: "XDG" };

/** REST asset codes that carry Kraken's old X (crypto) / Z (fiat) class prefix. */
const LEGACY_PREFIXED = new Set(["XXBT", "XETH", "XETC", "XLTC", "XMLN", "XREP", "XXDG", "XXLM", "XXMR", "XXRP", "XZEC", "ZUSD", "ZEUR", "ZGBP", "ZJPY", "ZCAD", "ZAUD", "ZCHF"]);

const WS_SYMBOL_RE = /^[A-Z0-9.]{1,16}\/[A-Z0-9.]{1,16}$/;

export class SymbolError extends Error {}

/** "XXBT" -> "BTC", "ZUSD" -> "USD", "XBT" -> "BTC", "DOGE" -> "DOGE". */
export function normalizeAsset(code: string): string {
	let c = code.toUpperCase();
	// Only the legacy X/Z-prefixed codes drop the class prefix: newer assets such as "ZEUS" keep theirs.
	if (c.length === 4 && LEGACY_PREFIXED.has(c)) c = c.slice(1);
	return ASSET_ALIASES[c] ?? c;
}

/** Validate a v2 WebSocket symbol ("BTC/USD"); legacy names ("XBT/USD") are mapped to v2 names. */
export function wsSymbol(symbol: string): string {
	const s = symbol.trim().toUpperCase();
	if (!WS_SYMBOL_RE.test(s)) throw new SymbolError(`${JSON.stringify(symbol)} is not a Kraken pair like "BTC/USD"`);
	const [b, q] = s.split("/");
	return `${ASSET_ALIASES[b] ?? b}/${ASSET_ALIASES[q] ?? q}`;
}

/** "BTC/USD" -> "BTC-USD-SPOT" (Kraken spot only). */
export function canonicalSymbol(ws: string): string {
	const [b, q] = wsSymbol(ws).split("/");
	return `${b}-${q}-SPOT`;
}

/** "BTC-USD-SPOT" (or "BTC/USD") -> "BTC/USD". */
export function wsSymbolOf(canonicalOrWs: string): string {
	if (canonicalOrWs.includes("/")) return wsSymbol(canonicalOrWs);
	const m = /^([A-Z0-9.]+)-([A-Z0-9.]+)-SPOT$/.exec(canonicalOrWs.trim().toUpperCase());
	if (!m) throw new SymbolError(`${JSON.stringify(canonicalOrWs)} is neither a Kraken pair ("BTC/USD") nor a canonical spot symbol ("BTC-USD-SPOT")`);
	return `${m[1]}/${m[2]}`;
}

/**
 * The REST pair name for a v2 symbol when AssetPairs is not at hand: "BTC/USD" -> "XBTUSD" (REST
 * accepts the altname). With AssetPairs loaded, KrakenRest uses the listed altname instead.
 */
export function restPairGuess(ws: string): string {
	const [b, q] = wsSymbol(ws).split("/");
	return (LEGACY_CODES[b] ?? b) + (LEGACY_CODES[q] ?? q);
}

/** An AssetPairs entry's wsname ("XBT/USD") as a v2 symbol ("BTC/USD"); null when the pair has no wsname. */
export function wsSymbolFromWsname(wsname: unknown): string | null {
	if (typeof wsname !== "string" || !wsname.includes("/")) return null;
	const [b, q] = wsname.split("/");
	return `${normalizeAsset(b)}/${normalizeAsset(q)}`;
}
