import { historyEnd, LIVE_MARGIN_MS, sinceNs, tradeSegments } from "../../lib/history/kraken-trades";

const H = 3_600_000;
const T = Date.parse("2024-01-01T00:00:00Z");

describe("Kraken trades history: where to page", () => {
	it("pages the whole range when nothing is stored", () => {
		expect(tradeSegments(T, T + 2 * H, null)).toEqual([{ from: T, to: T + 2 * H }]);
	});
	it("pages only before the oldest and after the newest stored trade", () => {
		expect(tradeSegments(T, T + 10 * H, { from: T + 2 * H, to: T + 5 * H })).toEqual([
			{ from: T, to: T + 2 * H },
			{ from: T + 5 * H, to: T + 10 * H },
		]);
		expect(tradeSegments(T, T + 10 * H, { from: T, to: T + 5 * H })).toEqual([{ from: T + 5 * H, to: T + 10 * H }]);
	});
	it("the since cursor (ns) includes trades at exactly the start millisecond", () => {
		expect(sinceNs(T)).toBe("1704067199999999999");
		expect(BigInt(sinceNs(T)) < BigInt(T) * 1_000_000n).toBe(true);
	});
	it("stops short of the live stream's last minutes: `to`, but no later than now minus the margin", () => {
		const now = T + 10 * H;
		expect(LIVE_MARGIN_MS).toBe(5 * 60_000);
		expect(historyEnd(T + 20 * H, now)).toBe(now - 5 * 60_000);
		expect(historyEnd(now - 60_000, now)).toBe(now - 5 * 60_000); // one minute ago is still the stream's
		expect(historyEnd(T + H, now)).toBe(T + H);
		expect(historyEnd(T + 20 * H, now, 30_000)).toBe(now - 30_000);
		expect(historyEnd(T + 20 * H, now, 0)).toBe(now);
	});
});
