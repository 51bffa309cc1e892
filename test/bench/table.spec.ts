import { median, passes } from "../../bench/common";
import { allPass, parseResultLine, renderTable, type ScriptOutcome } from "../../bench/table";

describe("npm run bench's result lines and table", () => {
	it("takes a result line, ignores progress lines and the old detail lines without ratio/goal", () => {
		const r = parseResultLine('{"bench":"cascade","ratio":0.013,"goal":0.02,"better":"lower","figure":"41 ms","baseline":"full 3,150 ms","trades":10000000}');
		expect(r).toMatchObject({ bench: "cascade", ratio: 0.013, goal: 0.02, better: "lower", trades: 10000000 });
		expect(parseResultLine("raw COPY of 1000000 trades: 1.80 s")).toBeNull();
		expect(parseResultLine('{"bench":"tick-writer","trades":1000,"ratio_vs_copy":0.8}')).toBeNull();
		expect(parseResultLine('{"bench": broken')).toBeNull();
	});

	it("refuses a result line with a missing or wrong field, naming it", () => {
		expect(() => parseResultLine('{"bench":"klines","ratio":0.9,"goal":0.8}')).toThrow(/lacks "better"/);
		expect(() => parseResultLine('{"bench":"klines","ratio":null,"goal":0.8,"better":"higher"}')).toThrow(/ratio is not a finite number/);
		expect(() => parseResultLine('{"bench":"klines","ratio":1,"goal":0.8,"better":"more"}')).toThrow(/better must be/);
	});

	it("passes by direction: higher is >= goal, lower is <= goal", () => {
		expect(passes({ ratio: 0.9, goal: 0.9, better: "higher" })).toBe(true);
		expect(passes({ ratio: 0.899, goal: 0.9, better: "higher" })).toBe(false);
		expect(passes({ ratio: 255, goal: 256, better: "lower" })).toBe(true);
		expect(passes({ ratio: 257, goal: 256, better: "lower" })).toBe(false);
	});

	it("takes the median of odd and even counts", () => {
		expect(median([3, 1, 2])).toBe(2);
		expect(median([4, 1, 3, 2])).toBe(2.5);
		expect(() => median([])).toThrow();
	});

	it("lays out one row per result and one per failed script, and says whether all passed", () => {
		const ok: ScriptOutcome = {
			script: "kraken-parse",
			wallMs: 1000,
			results: [
				{ bench: "kraken-parse", ratio: 0.71, goal: 0.6, better: "higher", figure: "410,000 msg/s", baseline: "JSON.parse 577,000 msg/s" },
				{ bench: "kraken-parse-book", ratio: 0.35, goal: 0.4, better: "higher", figure: "200,000 msg/s", baseline: "JSON.parse 571,000 msg/s" },
			],
		};
		const failed: ScriptOutcome = { script: "cascade", wallMs: 5, results: [], error: "exited with code 1" };
		const table = renderTable([ok, failed]).split("\n");
		expect(table[0]).toMatch(/^bench\s+figure\s+baseline\s+ratio\s+goal\s+pass$/);
		expect(table).toHaveLength(5);
		expect(table[2]).toMatch(/^kraken-parse\s+410,000 msg\/s\s+JSON.parse 577,000 msg\/s\s+0\.710\s+>= 0\.6\s+yes$/);
		expect(table[3]).toMatch(/kraken-parse-book .*0\.350\s+>= 0\.4\s+NO$/);
		expect(table[4]).toMatch(/^cascade\s+error: exited with code 1 .*NO$/);
		expect(allPass([ok])).toBe(false);
		expect(allPass([{ ...ok, results: [ok.results[0]] }])).toBe(true);
		expect(allPass([{ ...ok, results: [ok.results[0]] }, failed])).toBe(false);
	});
});
