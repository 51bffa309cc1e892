import { sinceNs, tradeSegments } from "../../lib/history/kraken-trades";

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
});
