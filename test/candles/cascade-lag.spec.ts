import { cascadeLagSeconds } from "../../lib/candles/cascade";

describe("cascade lag per timeframe (mdp_cascade_lag_seconds)", () => {
	const w = (timeframe: string, to: string) => ({ venue: "kraken", symbol: "BTC-USD-SPOT", timeframe, priceTypes: ["trade"], from: "2026-03-02T09:00:00.000Z", to }) as never;

	it("is the time from the end of the newest rebuilt bucket to now, 0 while it is open", () => {
		const now = Date.parse("2026-03-02T10:05:30Z");
		const lag = cascadeLagSeconds({ windows: [w("1m", "2026-03-02T10:04:00.000Z"), w("1m", "2026-03-02T10:05:00.000Z"), w("5m", "2026-03-02T10:10:00.000Z"), w("1h", "2026-03-02T09:00:00.000Z")] }, now);
		expect(lag).toEqual({ "1m": 30, "5m": 0, "1h": 3930 });
	});

	it("says nothing of timeframes a cycle did not touch", () => {
		expect(cascadeLagSeconds({ windows: [] }, Date.now())).toEqual({});
	});
});
