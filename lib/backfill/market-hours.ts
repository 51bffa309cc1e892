import type { AssetClass } from "../domain/types";
import { exchangeHourOpen } from "./exchange-calendar";
import { HOUR_MS, usDaylightTime } from "./hours";

export { usDaylightTime };

/**
 * When a market is open, hour by hour. Crypto never closes. The FX week (and metals with it) closes at
 * 17:00 New York time on Friday and opens at 17:00 New York time on Sunday: 22:00 UTC in the northern
 * winter, 21:00 UTC while the US is on daylight time. Holidays (25 December, 1 January) are not
 * modelled: such an hour simply comes back empty, which the backfill records as a valid result.
 */

/** True when the hour starting at hourStartMs belongs to the FX weekend. */
export function fxWeekendHour(hourStartMs: number): boolean {
	const nyMs = hourStartMs - (usDaylightTime(hourStartMs) ? 4 : 5) * HOUR_MS; // New York local time, as UTC fields
	const d = new Date(nyMs);
	const day = d.getUTCDay();
	const h = d.getUTCHours();
	return (day === 5 && h >= 17) || day === 6 || (day === 0 && h < 17);
}

/**
 * The calendar of each asset class: crypto never closes; fx, metals, and the index and commodity CFDs
 * (which Dukascopy and OANDA quote around the clock on weekdays) follow the FX week; equity CFDs follow
 * their exchange's session and holidays (lib/backfill/exchange-calendar.ts; `exchange` is the listing
 * suffix, US when not given). Gap detection and the backfill skip closed hours without asking.
 */
export function marketOpen(asset: AssetClass, hourStartMs: number, exchange?: string | null): boolean {
	if (asset === "crypto") return true;
	if (asset === "equity") return exchangeHourOpen(exchange ?? "US", hourStartMs);
	return !fxWeekendHour(hourStartMs);
}

/** The hours of [from, to) in which the market is open. */
export function openHours(asset: AssetClass, hours: readonly number[], exchange?: string | null): number[] {
	return hours.filter((h) => marketOpen(asset, h, exchange));
}
