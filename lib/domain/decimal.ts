const DECIMAL_RE = /^-?(0|[1-9]\d*)(\.\d+)?$/;

/** True when s is a plain decimal string: optional minus, no exponent, no '+', no spaces, at most 64 characters. */
export function isDecimalString(s: unknown): s is string {
	return typeof s === "string" && s.length > 0 && s.length <= 64 && DECIMAL_RE.test(s);
}
