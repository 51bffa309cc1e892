/** UTC time helpers. Buckets align to the Unix epoch, as TimescaleDB's time_bucket does for these sizes. */

const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** Milliseconds since the epoch of a strict ISO-8601 timestamp with an explicit zone; NaN if not one. */
export function parseIsoMs(s: unknown): number {
	if (typeof s !== "string" || !ISO_RE.test(s)) return NaN;
	return Date.parse(s);
}

export function isIsoTimestamp(s: unknown): s is string {
	const ms = parseIsoMs(s);
	// between 1990 and 2100: rejects a time in the wrong unit (seconds read as ms and so on)
	return Number.isFinite(ms) && ms > 631152000000 && ms < 4102444800000;
}

export function floorMs(ms: number, stepMs: number): number {
	return Math.floor(ms / stepMs) * stepMs;
}

export function isoUtc(ms: number): string {
	return new Date(ms).toISOString();
}
