/**
 * Topic and pattern rules shared by the log drivers. Segments must map 1:1 onto NATS subject tokens
 * (no '.', whitespace or wildcards inside a topic), so the same names work on every driver.
 */
const SEGMENT = /^[^\s.*>/]+$/;

export function assertTopic(topic: string): void {
	const segs = topic.split("/");
	for (const s of segs) {
		if (!SEGMENT.test(s)) throw new TypeError(`invalid topic "${topic}": segments must be non-empty, without '.', whitespace or wildcards`);
	}
}

export function assertPattern(pattern: string): void {
	const segs = pattern.split("/");
	segs.forEach((s, i) => {
		if (s === "*") return;
		if (s === ">" && i === segs.length - 1) return;
		if (!SEGMENT.test(s)) throw new TypeError(`invalid topic pattern "${pattern}": use '*' for one segment and a final '>' for the rest`);
	});
}

/** Keys travel in message headers/properties: keep them on one line. */
export function assertKey(key: string): void {
	if (/[\r\n]/.test(key)) throw new TypeError("message key must not contain line breaks");
}

/** Validated, de-duplicated patterns of a consumer (order kept). */
export function consumerPatterns(topics: readonly string[]): string[] {
	if (!topics.length) throw new TypeError("a consumer needs at least one topic pattern");
	for (const p of topics) assertPattern(p);
	return [...new Set(topics)];
}
