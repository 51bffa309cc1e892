/**
 * URL layouts of the two Dukascopy sources for one hour of ticks.
 * - .bi5 datafeed: {base}/EURUSD/2024/00/15/13h_ticks.bi5, month 0-based and zero-padded.
 * - JSON API: {base}/ticks/EUR-USD/2024/1/15/13, month 1-based, nothing padded.
 */
export const pad2 = (n: number): string => (n < 10 ? "0" + n : String(n));

function trimBase(base: string): string {
	return base.replace(/\/+$/, "");
}

export function bi5HourUrl(baseUrl: string, instrumentId: string, hourStartMs: number): string {
	const d = new Date(hourStartMs);
	return `${trimBase(baseUrl)}/${instrumentId}/${d.getUTCFullYear()}/${pad2(d.getUTCMonth())}/${pad2(d.getUTCDate())}/${pad2(d.getUTCHours())}h_ticks.bi5`;
}

export function jsonHourUrl(baseUrl: string, instrumentCode: string, hourStartMs: number): string {
	const d = new Date(hourStartMs);
	return `${trimBase(baseUrl)}/ticks/${instrumentCode}/${d.getUTCFullYear()}/${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCHours()}`;
}
