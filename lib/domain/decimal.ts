const DECIMAL_RE = /^-?(0|[1-9]\d*)(\.\d+)?$/;

/** True when s is a plain decimal string: optional minus, no exponent, no '+', no spaces, at most 64 characters. */
export function isDecimalString(s: unknown): s is string {
	return typeof s === "string" && s.length > 0 && s.length <= 64 && DECIMAL_RE.test(s);
}

/**
 * Where the unsigned plain decimal `(0|[1-9]\d*)(\.\d+)?` starting at s[i] ends (the index after its last
 * digit), or -1 when none starts there. The exact-number scanners of Kraken frames read
 * numbers with it and keep their text; what follows the number is theirs to check.
 */
export function unsignedDecimalEnd(s: string, i: number): number {
	let c = s.charCodeAt(i);
	if (c === 48) c = s.charCodeAt(++i);
	else if (c > 48 && c <= 57) {
		do c = s.charCodeAt(++i);
		while (c >= 48 && c <= 57);
	} else return -1;
	if (c === 46) {
		c = s.charCodeAt(++i);
		if (!(c >= 48 && c <= 57)) return -1;
		do c = s.charCodeAt(++i);
		while (c >= 48 && c <= 57);
	}
	return i;
}
