/**
 * "Ask the database what is missing first": ranges are half-open [from, to) in epoch ms. For klines the
 * ranges live in open-time space on the interval's grid, so the missing ranges are exact lists of klines.
 */
export interface Range {
	from: number;
	to: number; // exclusive
}

/** `want` minus the union of `have`, in order. `have` may overlap, be unsorted or reach outside `want`. */
export function subtractRanges(want: Range, have: readonly Range[]): Range[] {
	if (!(want.from < want.to)) return [];
	const sorted = have.filter((h) => h.to > want.from && h.from < want.to && h.from < h.to).sort((a, b) => a.from - b.from);
	const out: Range[] = [];
	let cursor = want.from;
	for (const h of sorted) {
		if (h.from > cursor) out.push({ from: cursor, to: Math.min(h.from, want.to) });
		cursor = Math.max(cursor, h.to);
		if (cursor >= want.to) return out;
	}
	if (cursor < want.to) out.push({ from: cursor, to: want.to });
	return out;
}

/** A grid of open times: `ms` apart, shifted by `offsetMs` from the epoch. */
export interface Grid {
	ms: number;
	offsetMs: number;
}

function ceilTo(t: number, g: Grid): number {
	return Math.ceil((t - g.offsetMs) / g.ms) * g.ms + g.offsetMs;
}

/**
 * The open-time ranges of the klines that should exist in [from, to) and are neither stored nor known to be
 * empty at the venue. A kline belongs to the range when its open time is in [from, to); `now` excludes the
 * still-open kline (and anything later), which is never stored. Returned ranges start and end on the grid,
 * so each holds exactly (to - from) / ms klines.
 *
 * `stored` are runs of consecutive stored open times as [first, last + ms) (see storedRunsSql), `empty` the
 * ranges the venue already answered with nothing.
 */
export function missingKlineRanges(from: number, to: number, grid: Grid, stored: readonly Range[], empty: readonly Range[] = [], now = Date.now()): Range[] {
	const start = ceilTo(from, grid);
	const current = ceilTo(now + 1, grid) - grid.ms; // open time of the kline still open at `now`
	const end = Math.min(ceilTo(to, grid), current);
	// Empty ranges recorded by the pager are on the grid already; align anyway so a hand-made row cannot split a kline.
	const emptyAligned = empty.map((e) => ({ from: ceilTo(e.from, grid), to: ceilTo(e.to, grid) }));
	return subtractRanges({ from: start, to: end }, [...stored, ...emptyAligned]);
}

/** Grid-aligned ranges cut into consecutive windows of at most `limit` klines each (one venue request per window), in order. */
export function pageWindows(ranges: readonly Range[], intervalMs: number, limit: number): Range[] {
	const out: Range[] = [];
	const span = intervalMs * limit;
	for (const r of ranges) for (let from = r.from; from < r.to; from += span) out.push({ from, to: Math.min(from + span, r.to) });
	return out;
}

/** Number of klines in a grid-aligned range. */
export function klineCount(r: Range, grid: Grid): number {
	return Math.max(0, Math.round((r.to - r.from) / grid.ms));
}

/**
 * Runs of consecutive stored klines in [$4, $5) as {first, last} epoch ms (gaps and islands: consecutive open
 * times share open_time/ms - row_number). One row per run, so a year of 1m klines with no holes is one row.
 * Parameters: venue, symbol, interval, from, to (timestamptz), interval length in ms.
 */
export const STORED_RUNS_SQL = `
	SELECT min(ms)::text AS first, max(ms)::text AS last
	  FROM (SELECT ms, ms / $6::bigint - row_number() OVER (ORDER BY ms) AS grp
	          FROM (SELECT (extract(epoch FROM open_time) * 1000)::bigint AS ms
	                  FROM klines
	                 WHERE venue = $1 AND symbol = $2 AND interval = $3 AND open_time >= $4 AND open_time < $5) t) s
	 GROUP BY grp
	 ORDER BY min(ms)`;

export const EMPTY_RANGES_SQL = `
	SELECT (extract(epoch FROM from_time) * 1000)::bigint::text AS from_ms, (extract(epoch FROM to_time) * 1000)::bigint::text AS to_ms
	  FROM kline_empty_ranges
	 WHERE venue = $1 AND symbol = $2 AND interval = $3 AND to_time > $4 AND from_time < $5`;
