/** The six candle levels, each built from the one before it. All divide a day, so epoch-aligned = midnight-aligned. */
export const TIMEFRAMES = ["1m", "5m", "15m", "1h", "4h", "12h"] as const;
export type Timeframe = (typeof TIMEFRAMES)[number];

export const TIMEFRAME_MS: Record<Timeframe, number> = {
	"1m": 60_000,
	"5m": 300_000,
	"15m": 900_000,
	"1h": 3_600_000,
	"4h": 14_400_000,
	"12h": 43_200_000,
};

/** PostgreSQL table holding each level. */
export const CANDLE_TABLE: Record<Timeframe, string> = {
	"1m": "candles_1m",
	"5m": "candles_5m",
	"15m": "candles_15m",
	"1h": "candles_1h",
	"4h": "candles_4h",
	"12h": "candles_12h",
};

export function isTimeframe(s: unknown): s is Timeframe {
	return typeof s === "string" && (TIMEFRAMES as readonly string[]).includes(s);
}
