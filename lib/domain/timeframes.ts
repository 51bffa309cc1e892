/**
 * The eight candle levels, each built from the one before it. 1m..1d divide a day, so their buckets are aligned
 * to the Unix epoch (midnight UTC). 1w is the ISO week starting Monday 00:00 UTC: the epoch (1970-01-01) is a
 * Thursday, so weeks are aligned to 1970-01-05, four days after it.
 */
export const TIMEFRAMES = ["1m", "5m", "15m", "1h", "4h", "12h", "1d", "1w"] as const;
export type Timeframe = (typeof TIMEFRAMES)[number];

const DAY_MS = 86_400_000;

export const TIMEFRAME_MS: Record<Timeframe, number> = {
	"1m": 60_000,
	"5m": 300_000,
	"15m": 900_000,
	"1h": 3_600_000,
	"4h": 14_400_000,
	"12h": 43_200_000,
	"1d": DAY_MS,
	"1w": 7 * DAY_MS,
};

/** Where each level's buckets start, in ms since the epoch: a bucket starts at origin + k * size. */
export const TIMEFRAME_ORIGIN_MS: Record<Timeframe, number> = {
	"1m": 0,
	"5m": 0,
	"15m": 0,
	"1h": 0,
	"4h": 0,
	"12h": 0,
	"1d": 0,
	"1w": 4 * DAY_MS, // Monday 1970-01-05
};

/** PostgreSQL table holding each level. */
export const CANDLE_TABLE: Record<Timeframe, string> = {
	"1m": "candles_1m",
	"5m": "candles_5m",
	"15m": "candles_15m",
	"1h": "candles_1h",
	"4h": "candles_4h",
	"12h": "candles_12h",
	"1d": "candles_1d",
	"1w": "candles_1w",
};

export function isTimeframe(s: unknown): s is Timeframe {
	return typeof s === "string" && (TIMEFRAMES as readonly string[]).includes(s);
}
