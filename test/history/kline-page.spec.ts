import { KlineParseError, parseKlines } from "../../lib/history/binance-klines";
import { klinePage as pageOfBytes, klineRowsCopy, scanKlineBytes, type KlineRowFormat } from "../../lib/history/kline-page";
import { klineRowFormat } from "../../lib/history/klines-store";
import { binaryRows, Field } from "../../lib/writer/copy-binary";
import { FakeBinance, REAL_KLINES } from "../helpers/fake-binance";

const FORMAT = klineRowFormat({ venue: "binance", symbol: "BTC-USDT-SPOT", interval: "1m" });
const PREFIX = FORMAT.prefix;
const general = (text: string, interval = "1m") => klineRowsCopy(PREFIX, parseKlines(JSON.parse(text), interval));
const KLINE_FIELDS = [Field.Time, Field.Time, ...Array<Field>(6).fill(Field.Numeric), Field.Int8, Field.Numeric, Field.Numeric];
/**
 * The general path's rows as binary COPY rows (no header or trailer), by the tick-writer's text-to-binary encoder,
 * which test/writer/copy-binary.int.spec holds to PostgreSQL's own reading of the text.
 */
function generalBinary(text: string, interval = "1m", format: KlineRowFormat = FORMAT): Buffer {
	// the text rows without their venue, symbol and interval, which the head carries
	const rows = Buffer.from(klineRowsCopy("", parseKlines(JSON.parse(text), interval)));
	const r = binaryRows([{ bytes: rows, start: 0, end: Math.max(0, rows.length - 1), head: format.head }], KLINE_FIELDS);
	expect(r.failed).toEqual([]);
	return Buffer.concat(r.chunks);
}
/** The page of an answer given as text (the pager gets bytes). */
const klinePage = (text: string, interval: string, format: KlineRowFormat = FORMAT) => pageOfBytes(Buffer.from(text), interval, format);
/** The fast path over text. */
const scanKlines = (text: string, interval: string) => scanKlineBytes(Buffer.from(text), interval, FORMAT.head);
const binaryOf = (page: { copy: unknown }) => (page.copy as { binary: Buffer }).binary;

describe("kline page: the venue's text straight to COPY rows", () => {
	it("reads the real /api/v3/klines answer to exactly the rows the general path makes", () => {
		const text = JSON.stringify(REAL_KLINES); // the real answer, compact as Binance sends it
		const fast = scanKlines(text, "1m");
		expect(fast).not.toBeNull();
		expect(fast!.binary.equals(generalBinary(text))).toBe(true);
		expect(fast!.binary.subarray(0, FORMAT.head.length).equals(FORMAT.head)).toBe(true);
		expect(general(text).split("\n")[0]).toBe(
			"binance\tBTC-USDT-SPOT\t1m\t2021-10-22T23:03:00.000Z\t2021-10-22T23:03:59.999Z\t60685.22000000\t60729.84000000\t60670.90000000\t60719.27000000\t21.63272000\t1313200.01340410\t617\t12.28492000\t745719.41022840",
		);
		expect(fast!.openTimes).toEqual(parseKlines(JSON.parse(text), "1m").map((k) => k.openTime));
	});

	it("agrees with the general path on a full page, across a day boundary, for 1m, 1h and 1w grids", () => {
		for (const [interval, ms, from] of [
			["1m", 60_000, Date.parse("2023-12-31T16:00:00Z")],
			["1h", 3_600_000, Date.parse("2023-12-01T00:00:00Z")],
			["1w", 7 * 86_400_000, Date.parse("2001-01-01T00:00:00Z")], // a Monday
		] as const) {
			const text = JSON.stringify(Array.from({ length: 1000 }, (_, i) => FakeBinance.row(from + i * ms, interval)));
			const page = klinePage(text, interval);
			expect(scanKlines(text, interval)).not.toBeNull();
			expect(binaryOf(page).equals(generalBinary(text, interval))).toBe(true); // the fast path's binary rows
			expect(page.openTimes).toHaveLength(1000);
			expect(page.klines()).toEqual(parseKlines(JSON.parse(text), interval));
		}
		const empty = klinePage("[]", "1m");
		expect([empty.openTimes, binaryOf(empty).length]).toEqual([[], 0]);
	});

	const row = (t: number) => FakeBinance.row(t, "1m");
	const T = Date.parse("2024-01-01T00:00:00Z");
	const good = () => [row(T), row(T + 60_000), row(T + 120_000)] as unknown[][];

	it("leaves every doubtful page to the general path, which names the bad row as before", () => {
		const bad: Array<[string, (r: unknown[][]) => void]> = [
			["a price as a number", (r) => (r[1][1] = 60773.18)],
			["a negative volume", (r) => (r[1][5] = "-1.5")],
			["a leading zero", (r) => (r[1][2] = "01.5")],
			["a bare point", (r) => (r[1][3] = "1.")],
			["an exponent", (r) => (r[1][4] = "1e5")],
			["a time in seconds", (r) => (r[1][0] = (r[1][0] as number) / 1000)],
			["off the grid", (r) => (r[1][0] = (r[1][0] as number) + 1)],
			["a wrong close time", (r) => (r[1][6] = (r[1][6] as number) + 1)],
			["going back in time", (r) => r.reverse()],
			["a missing field", (r) => r[1].splice(9, 3)],
			["a fractional trade count", (r) => (r[1][8] = 1.5)],
			["a 65-digit decimal", (r) => (r[1][7] = "1" + "0".repeat(64))],
		];
		for (const [what, mutate] of bad) {
			const rows = good();
			mutate(rows);
			const text = JSON.stringify(rows);
			expect([what, scanKlines(text, "1m")]).toEqual([what, null]);
			let expected: unknown;
			try {
				parseKlines(JSON.parse(text), "1m");
			} catch (err) {
				expected = err;
			}
			expect(expected).toBeInstanceOf(KlineParseError);
			expect(() => klinePage(text, "1m")).toThrow((expected as Error).message);
		}
		expect(() => klinePage("<html>busy</html>", "1m")).toThrow(SyntaxError);
	});

	it("takes valid answers in other spellings through the general path, to the same rows", () => {
		const rows = good();
		const pretty = JSON.stringify(rows, null, 2);
		const eleven = JSON.stringify(rows.map((r) => r.slice(0, 11)));
		const escaped = JSON.stringify(rows).replace(/"0"\]/g, '"\\u0030"]');
		for (const text of [pretty, escaped]) {
			expect(scanKlines(text, "1m")).toBeNull();
			expect(klinePage(text, "1m").copy).toBe(general(JSON.stringify(rows))); // COPY text
		}
		// without the unused 12th field the fast path reads it itself
		expect(scanKlines(eleven, "1m")?.binary.equals(generalBinary(JSON.stringify(rows)))).toBe(true);
	});

	it("writes rows longer than their answer (64-digit decimals, a long symbol) without running out of room", () => {
		// every decimal at the 64-character limit and a 300-character symbol: each binary row is longer than its JSON
		// row, by more in all than the room the scanner starts with
		const wide = "9".repeat(31) + "." + "9".repeat(32);
		const rows = Array.from({ length: 1000 }, (_, i) => {
			const r = row(T + i * 60_000);
			for (const f of [1, 2, 3, 4, 5, 7, 9, 10]) r[f] = wide;
			r[8] = Number.MAX_SAFE_INTEGER;
			return r;
		});
		const text = JSON.stringify(rows);
		const format = klineRowFormat({ venue: "binance", symbol: "X".repeat(300), interval: "1m" });
		const page = klinePage(text, "1m", format);
		expect(binaryOf(page).equals(generalBinary(text, "1m", format))).toBe(true);
		expect(binaryOf(page).length).toBeGreaterThan(text.length + 64 * 1024);
	});
});
