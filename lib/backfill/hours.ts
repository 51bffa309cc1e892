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

/** US daylight time (since 2007): second Sunday of March 07:00 UTC to first Sunday of November 06:00 UTC. */
export function usDaylightTime(ms: number): boolean {
	const y = new Date(ms).getUTCFullYear();
	const march1 = new Date(Date.UTC(y, 2, 1)).getUTCDay();
	const start = Date.UTC(y, 2, 1 + ((7 - march1) % 7) + 7, 7);
	const nov1 = new Date(Date.UTC(y, 10, 1)).getUTCDay();
	const end = Date.UTC(y, 10, 1 + ((7 - nov1) % 7), 6);
	return ms >= start && ms < end;
}
