/** UTC time parsing for the wire format: strict ISO-8601 with an explicit zone. */

const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** Milliseconds since the epoch of a strict ISO-8601 timestamp with an explicit zone; NaN if not one. */
export function parseIsoMs(s: unknown): number {
	if (typeof s !== "string") return NaN;
	const m = ISO_RE.exec(s);
	if (!m) return NaN;
	// Date.parse rolls 2024-02-30 over into March; PostgreSQL refuses it. Refuse it here, clearly.
	const [y, mo, d, h, mi, se] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number);
	if (mo < 1 || mo > 12 || d < 1 || d > new Date(Date.UTC(y, mo, 0)).getUTCDate() || h > 23 || mi > 59 || se > 59) return NaN;
	return Date.parse(s);
}

export function isIsoTimestamp(s: unknown): s is string {
	const ms = parseIsoMs(s);
	// between 1990 and 2100: rejects a time in the wrong unit (seconds read as ms and so on)
	return Number.isFinite(ms) && ms > 631152000000 && ms < 4102444800000;
}
