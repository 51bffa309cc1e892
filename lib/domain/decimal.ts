import Decimal from "decimal.js";

// Enough precision for any price or size a venue sends; never round silently.
Decimal.set({ precision: 60, rounding: Decimal.ROUND_HALF_EVEN });

const DECIMAL_RE = /^-?(0|[1-9]\d*)(\.\d+)?$/;

/** True when s is a plain decimal string (no exponent, no sign prefix '+', no spaces). */
export function isDecimalString(s: unknown): s is string {
	return typeof s === "string" && s.length > 0 && s.length <= 64 && DECIMAL_RE.test(s);
}

/** Render a decimal at exactly `dp` places, e.g. a JSON number from Kraken at the pair's precision. */
export function toFixedExact(v: string | number | Decimal, dp: number): string {
	return new Decimal(v).toFixed(dp);
}

export { Decimal };
