import type { AssetClass } from "../domain/types";
import { HOUR_MS } from "./hours";

/**
 * When a market is open, hour by hour. Crypto never closes. The FX week (and metals with it) closes at
 * 17:00 New York time on Friday and opens at 17:00 New York time on Sunday: 22:00 UTC in the northern
 * winter, 21:00 UTC while the US is on daylight time. Holidays (25 December, 1 January) are not
 * modelled: such an hour simply comes back empty, which the backfill records as a valid result.
 */

/** US daylight time (since 2007): second Sunday of March 07:00 UTC to first Sunday of November 06:00 UTC. */
export function usDaylightTime(ms: number): boolean {
	const y = new Date(ms).getUTCFullYear();
	const march1 = new Date(Date.UTC(y, 2, 1)).getUTCDay();
	const start = Date.UTC(y, 2, 1 + ((7 - march1) % 7) + 7, 7);
	const nov1 = new Date(Date.UTC(y, 10, 1)).getUTCDay();
	const end = Date.UTC(y, 10, 1 + ((7 - nov1) % 7), 6);
	return ms >= start && ms < end;
}

/** True when the hour starting at hourStartMs belongs to the FX weekend. */
export function fxWeekendHour(hourStartMs: number): boolean {
	const nyMs = hourStartMs - (usDaylightTime(hourStartMs) ? 4 : 5) * HOUR_MS; // New York local time, as UTC fields
	const d = new Date(nyMs);
	const day = d.getUTCDay();
	const h = d.getUTCHours();
	return (day === 5 && h >= 17) || day === 6 || (day === 0 && h < 17);
}

export function marketOpen(asset: AssetClass, hourStartMs: number): boolean {
	return asset === "crypto" ? true : !fxWeekendHour(hourStartMs);
}

/** The hours of [from, to) in which the market is open. */
export function openHours(asset: AssetClass, hours: readonly number[]): number[] {
	return hours.filter((h) => marketOpen(asset, h));
}
