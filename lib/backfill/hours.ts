/** Whole UTC hours: the unit of work of the Dukascopy backfill. */
export const HOUR_MS = 3_600_000;

export function floorHour(ms: number): number {
	return Math.floor(ms / HOUR_MS) * HOUR_MS;
}

/** Hour starts covering [fromMs, toMs): the hour containing `from` up to the last hour that starts before `to`. */
export function hoursIn(fromMs: number, toMs: number): number[] {
	const out: number[] = [];
	for (let h = floorHour(fromMs); h < toMs; h += HOUR_MS) out.push(h);
	return out;
}

export function hourIso(ms: number): string {
	return new Date(ms).toISOString();
}
