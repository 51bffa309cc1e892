import Decimal from "decimal.js";
import fs from "node:fs";
import path from "node:path";
import { decodeBi5Candles, decodeBi5Ticks, decodeBi5TicksAsync } from "../../lib/backfill/dukascopy/bi5";
import { DUKASCOPY_INSTRUMENTS, findInstrument, getInstrument, UnknownInstrumentError } from "../../lib/backfill/dukascopy/instruments";
import { decodeJsonTicks, parseJsonTicks } from "../../lib/backfill/dukascopy/jsonapi";
import { CorruptHourError, float32Decimal, quoteItems, scaledPrice, timesMillion } from "../../lib/backfill/dukascopy/ticks";
import type { QuoteItem } from "../../lib/domain/types";
import { bi5HourUrl, jsonHourUrl } from "../../lib/backfill/dukascopy/urls";

const FIX = path.resolve(__dirname, "../../../shared/fixtures/dukascopy");
const read = (rel: string) => fs.readFileSync(path.join(FIX, rel));
const BTC = getInstrument("BTCUSD");
const BTC_HOUR = Date.parse("2023-02-20T12:00:00Z"); // bi5 path month 01 = February (0-based)
const trimZeros = (s: string) => (s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s);

/** dukascopy-node's decompressor test cases: pull the mock file path and the expected array out of the .ts source text. */
function decompressorCase(name: string): { file: string; timeframe: string; expected: number[][] } {
	const text = fs.readFileSync(path.join(FIX, "expected", `decompressor_case_${name}.ts`), "utf8");
	const file = /readFileSync\('\.\/src\/__mocks__\/([^']+)'\)/.exec(text)![1];
	const timeframe = /timeframe: '(\w+)'/.exec(text)![1];
	const arr = /const expectedOutput(?::[^=]+)? = (\[[\s\S]*?\]);\s*\n\s*export/.exec(text)![1];
	return { file, timeframe, expected: JSON.parse(arr) };
}

describe("Dukascopy .bi5 ticks", () => {
	it("decodes the BTCUSD hour to exactly dukascopy-node's 8523 ticks", () => {
		const hour = decodeBi5Ticks(read("bi5/BTCUSD/2023/01/20/12h_ticks.bi5"), "BTCUSD", BTC_HOUR);
		const expected: { timestamp: number; askPrice: number; bidPrice: number }[] = JSON.parse(read("expected/btcusd-tick-2023-02-20T12-2023-02-20T13.json").toString());
		expect(expected).toHaveLength(8523);
		const items = quoteItems(hour, BTC, "2026-01-01T00:00:00.000Z");
		expect(items).toHaveLength(8523);
		const got = items.map((q) => ({ timestamp: Date.parse(q.time), askPrice: trimZeros(q.ask), bidPrice: trimZeros(q.bid) }));
		expect(got).toEqual(expected.map((e) => ({ timestamp: e.timestamp, askPrice: String(e.askPrice), bidPrice: String(e.bidPrice) })));
		// prices keep the instrument's precision, exactly
		expect(items[0]).toMatchObject({ time: "2023-02-20T12:00:00.084Z", seq: "0", ask: "24921.5", bid: "24849.4" });
		expect(items.map((q) => q.seq)).toEqual(items.map((_, i) => String(i)));
	});

	it("matches dukascopy-node's decompressor case for ticks (EURUSD 2019-01-04 00h), volumes included", () => {
		const c = decompressorCase("tick");
		expect(c.timeframe).toBe("tick");
		const hour = decodeBi5Ticks(read(`bi5/${c.file}`), "EURUSD", Date.parse("2019-02-04T00:00:00Z"));
		const got: number[][] = [];
		for (let i = 0; i < hour.count; i++) got.push([hour.offsets[i], hour.ask[i], hour.bid[i], hour.askVolume[i], hour.bidVolume[i]]);
		expect(c.expected.length).toBeGreaterThan(1000);
		expect(got).toEqual(c.expected);
		const q = quoteItems(hour, getInstrument("EURUSD"), "2026-01-01T00:00:00Z");
		// .bi5 volumes are millions of the base currency, stored as base units
		expect(q[0]).toMatchObject({ time: "2019-02-04T00:00:00.994Z", ask: "1.14545", bid: "1.14543", askQty: "1000000", bidQty: "2060000" });
	});

	it.each(["h1", "d1"])("matches dukascopy-node's decompressor case for %s candles (O, C, L, H order)", (name) => {
		const c = decompressorCase(name);
		const candles = decodeBi5Candles(read(`bi5/${c.file}`), c.file);
		expect(c.expected.length).toBeGreaterThan(100);
		expect(candles.map((k) => [k.offsetSec, k.open, k.close, k.low, k.high, k.volume])).toEqual(c.expected);
	});

	it("decodes the BTCUSD minute candles to dukascopy-node's m1 bid candles for that day", () => {
		// decompressor_case_m1 names a EURUSD mock file that is not among the fixtures; this day's file and expected output are.
		const candles = decodeBi5Candles(read("bi5/BTCUSD/2023/01/19/BID_candles_min_1.bi5"));
		const day = Date.parse("2023-02-19T00:00:00Z");
		const expected: Record<string, number>[] = JSON.parse(read("expected/btcusd-m1-bid-2023-02-19-2023-02-20.json").toString());
		expect(candles).toHaveLength(1440);
		const got = candles.map((k) => ({ timestamp: day + k.offsetSec * 1000, open: trimZeros(scaledPrice(k.open, 1)), high: trimZeros(scaledPrice(k.high, 1)), low: trimZeros(scaledPrice(k.low, 1)), close: trimZeros(scaledPrice(k.close, 1)) }));
		expect(got).toEqual(expected.map((e) => ({ timestamp: e.timestamp, open: String(e.open), high: String(e.high), low: String(e.low), close: String(e.close) })));
	});

	it("gives zero rows for the empty file (dukascopy-node's empty case)", () => {
		const c = decompressorCase("empty");
		expect(c.expected).toEqual([]);
		expect(decodeBi5Ticks(read(`bi5/${c.file}`), "EURUSD", Date.parse("2019-01-05T12:00:00Z")).count).toBe(0);
		expect(decodeBi5Candles(read(`bi5/${c.file}`))).toEqual([]);
	});

	it("rejects a truncated file with an error naming the instrument and the hour", () => {
		const file = read("bi5/BTCUSD/2023/01/20/12h_ticks.bi5");
		for (const cut of [file.subarray(0, file.length - 500), file.subarray(0, 9)]) {
			let err: unknown;
			try {
				decodeBi5Ticks(cut, "BTCUSD", BTC_HOUR);
			} catch (e) {
				err = e;
			}
			expect(err).toBeInstanceOf(CorruptHourError);
			expect((err as Error).message).toMatch(/^BTCUSD 2023-02-20T12:00Z: truncated or corrupt \.bi5 file/);
			expect((err as CorruptHourError).hourStartMs).toBe(BTC_HOUR);
		}
	});
});

describe("Dukascopy .bi5 ticks, decompressed on the thread pool", () => {
	it("gives the same hour as the synchronous decoder, and the same errors", async () => {
		const file = read("bi5/BTCUSD/2023/01/20/12h_ticks.bi5");
		expect(await decodeBi5TicksAsync(file, "BTCUSD", BTC_HOUR)).toEqual(decodeBi5Ticks(file, "BTCUSD", BTC_HOUR));
		expect((await decodeBi5TicksAsync(read("bi5/empty.bi5"), "BTCUSD", BTC_HOUR)).count).toBe(0);
		await expect(decodeBi5TicksAsync(file.subarray(0, 5000), "BTCUSD", BTC_HOUR)).rejects.toThrow(/^BTCUSD 2023-02-20T12:00Z: truncated or corrupt \.bi5 file \(5000 bytes\)/);
	});
});

describe("Dukascopy JSON API ticks", () => {
	const body = () => JSON.parse(read("jsonapi/ticks-BTC-USD-2023-2-20-12.json").toString());

	it("decodes the same hour to the same ticks as the .bi5 file", () => {
		const fromJson = decodeJsonTicks(body(), BTC, BTC_HOUR);
		const fromBi5 = decodeBi5Ticks(read("bi5/BTCUSD/2023/01/20/12h_ticks.bi5"), "BTCUSD", BTC_HOUR);
		expect(fromJson.count).toBe(8523);
		for (const col of ["offsets", "ask", "bid"] as const) expect(fromJson[col]).toEqual(fromBi5[col]);
		const recv = "2026-01-01T00:00:00.000Z";
		const j = quoteItems(fromJson, BTC, recv);
		const b = quoteItems(fromBi5, BTC, recv);
		const key = (q: QuoteItem) => `${q.time} ${q.seq} ${q.bid} ${q.ask}`;
		expect(j.map(key)).toEqual(b.map(key));
		// Volumes: the JSON API sends base units with two decimals, the .bi5 file millions rounded to whole
		// units (half to even). Rendered in base units, they agree to the .bi5 file's precision.
		const halfEven = (s: string) => {
			const d = new Decimal(s);
			return d.toDecimalPlaces(0, Decimal.ROUND_HALF_EVEN).toString();
		};
		expect(b.map((q) => [q.bidQty, q.askQty])).toEqual(j.map((q) => [halfEven(q.bidQty!), halfEven(q.askQty!)]));
		expect([j[0].askQty, b[0].askQty, j[5].bidQty, b[5].bidQty]).toEqual(["1.48", "1", "1.46", "1"]);
	});

	it("keeps volumes exactly as the API sent them, beyond float32's seven digits", () => {
		const b = body();
		b.askVolumes[0] = 123456789.12; // float32 would make this 123456792
		b.bidVolumes[0] = 0.1234567891;
		const q = quoteItems(decodeJsonTicks(b, BTC, BTC_HOUR), BTC, "x");
		expect([q[0].askQty, q[0].bidQty]).toEqual(["123456789.12", "0.1234567891"]);
		// from the response text, even digits a float64 cannot hold survive (parseJsonTicks keeps the number texts)
		const text = read("jsonapi/ticks-BTC-USD-2023-2-20-12.json").toString().replace('"askVolumes":[1.48,', '"askVolumes":[98765432109876.54321012,').replace('"bidVolumes":[13.0,', '"bidVolumes":[1.5e-3,');
		const q2 = quoteItems(decodeJsonTicks(parseJsonTicks(text), BTC, BTC_HOUR), BTC, "x");
		expect([q2[0].askQty, q2[0].bidQty, q2[1].askQty, q2[1].bidQty]).toEqual(["98765432109876.54321012", "0.0015", "1.48", "13"]);
		// a negative or non-numeric volume is refused, naming the hour
		const neg = body();
		neg.bidVolumes[7] = -1;
		expect(() => decodeJsonTicks(neg, BTC, BTC_HOUR)).toThrow(/^BTCUSD 2023-02-20T12:00Z: JSON API: tick 7: volumes must be non-negative numbers/);
	});

	it("reads the number texts whatever the spacing, the last of a repeated key (as JSON.parse does), and leaves other shapes to the decoder", () => {
		const text = `{ "timestamp": ${BTC_HOUR}, "multiplier": 0.1, "ask" : 24921.50, "bid":24849.4,
			"times": [ 84 , 30 ], "asks": [0, 1], "bids": [0, -1],
			"askVolumes": [ 0.1 , 2 ], "bidVolumes": [1.0,3], "askVolumes": [ 7.00000000000000000001 ,\n 1e-2 ] }`;
		const q = quoteItems(decodeJsonTicks(parseJsonTicks(text), BTC, BTC_HOUR), BTC, "x");
		expect(q.map((x) => [x.time, x.ask, x.bid, x.askQty, x.bidQty])).toEqual([
			["2023-02-20T12:00:00.084Z", "24921.5", "24849.4", "7.00000000000000000001", "1"],
			["2023-02-20T12:00:00.114Z", "24921.6", "24849.3", "0.01", "3"],
		]);
		expect(parseJsonTicks('{"error": "no data"}')).toEqual({ error: "no data" });
		expect(() => decodeJsonTicks(parseJsonTicks('{"error": "no data"}'), BTC, BTC_HOUR)).toThrow(/JSON API: timestamp is missing or not a number/);
	});

	it("rejects a base price with more decimals than the instrument has, instead of rounding it", () => {
		const b = body();
		b.ask = 24921.55; // BTCUSD has one decimal: this is not a price of the feed
		expect(() => decodeJsonTicks(b, BTC, BTC_HOUR)).toThrow(/^BTCUSD 2023-02-20T12:00Z: JSON API: ask 24921.55 is not a non-negative price with at most 1 decimals \(BTCUSD's precision\)$/);
		// decided on the decimal text, not a float tolerance: one stray digit far out is still refused
		const text = read("jsonapi/ticks-BTC-USD-2023-2-20-12.json").toString().replace('"bid":24849.4', '"bid":24849.40000000000001');
		expect(text).toContain('"bid":24849.40000000000001');
		expect(() => decodeJsonTicks(parseJsonTicks(text), BTC, BTC_HOUR)).toThrow(/^BTCUSD 2023-02-20T12:00Z: JSON API: bid 24849.40000000000001 is not a non-negative price/);
		// trailing zeros are fine: the price is still whole tenths
		const zeros = read("jsonapi/ticks-BTC-USD-2023-2-20-12.json").toString().replace('"bid":24849.4', '"bid":24849.4000');
		expect(quoteItems(decodeJsonTicks(parseJsonTicks(zeros), BTC, BTC_HOUR), BTC, "x")[0].bid).toBe("24849.4");
	});

	it("rejects a response whose columns disagree or whose price unit is not the instrument's", () => {
		const short = body();
		short.bids.pop();
		expect(() => decodeJsonTicks(short, BTC, BTC_HOUR)).toThrow(/BTCUSD 2023-02-20T12:00Z: JSON API: bids is missing or its length differs from times \(8523\)/);
		const unit = body();
		unit.multiplier = 0.01;
		expect(() => decodeJsonTicks(unit, BTC, BTC_HOUR)).toThrow(/multiplier 0.01 does not match BTCUSD's decimal factor 10/);
		const late = body();
		late.times[5] = 3_600_000;
		expect(() => decodeJsonTicks(late, BTC, BTC_HOUR)).toThrow(CorruptHourError);
		expect(() => decodeJsonTicks([], BTC, BTC_HOUR)).toThrow(/response is not an object/);
	});
});

describe("Dukascopy instruments, URLs and number rendering", () => {
	it("embeds the decimal factors and codes of Dukascopy's instrument metadata", () => {
		const meta = JSON.parse(read("meta/instrument-meta-data.json").toString());
		expect(DUKASCOPY_INSTRUMENTS.size).toBeGreaterThanOrEqual(15);
		for (const inst of DUKASCOPY_INSTRUMENTS.values()) {
			const m = meta[inst.id.toLowerCase()];
			expect({ id: inst.id, factor: inst.decimalFactor, code: inst.code }).toEqual({ id: inst.id, factor: m.decimalFactor, code: m.code });
			expect(inst.firstTickHourMs).toBe(Math.floor(Date.parse(m.startHourForTicks) / 3_600_000) * 3_600_000);
		}
		expect([getInstrument("EURUSD").decimalFactor, getInstrument("USDJPY").decimalFactor, getInstrument("BTCUSD").decimalFactor]).toEqual([1e5, 1e3, 10]);
		expect(getInstrument("BTCUSD")).toMatchObject({ symbol: "BTC-USD-SPOT", asset: "crypto" });
		expect(findInstrument("eur-usd")?.id).toBe("EURUSD");
		expect(findInstrument("EUR-USD-SPOT")?.id).toBe("EURUSD");
		expect(() => getInstrument("FOOBAR")).toThrow(UnknownInstrumentError);
	});

	it("builds datafeed URLs with a 0-based month and JSON API URLs with a 1-based one", () => {
		const h = Date.parse("2024-01-15T13:00:00Z");
		expect(bi5HourUrl("https://datafeed.dukascopy.com/datafeed/", "EURUSD", h)).toBe("https://datafeed.dukascopy.com/datafeed/EURUSD/2024/00/15/13h_ticks.bi5");
		expect(jsonHourUrl("https://jetta.dukascopy.com/v1", "EUR-USD", h)).toBe("https://jetta.dukascopy.com/v1/ticks/EUR-USD/2024/1/15/13");
		expect(bi5HourUrl("http://x", "BTCUSD", BTC_HOUR)).toBe("http://x/BTCUSD/2023/01/20/12h_ticks.bi5");
		expect(jsonHourUrl("http://x", "BTC-USD", Date.parse("2023-12-05T04:00:00Z"))).toBe("http://x/ticks/BTC-USD/2023/12/5/4");
	});

	it("renders prices exactly and float32 volumes as their shortest round-trip decimal", () => {
		expect([scaledPrice(114545, 5), scaledPrice(45, 5), scaledPrice(248510, 1), scaledPrice(7, 0)]).toEqual(["1.14545", "0.00045", "24851.0", "7"]);
		expect(float32Decimal(Math.fround(1.48))).toBe("1.48");
		expect(float32Decimal(Math.fround(2.06))).toBe("2.06");
		expect(float32Decimal(Math.fround(1.2e-7))).toBe("0.00000012");
		expect(float32Decimal(Math.fround(3e20))).toBe("300000000000000000000");
		expect(float32Decimal(0)).toBe("0");
		expect([timesMillion("0.000001"), timesMillion("2.06"), timesMillion("1"), timesMillion("0.0000005"), timesMillion("0")]).toEqual(["1", "2060000", "1000000", "0.5", "0"]);
		const f = new Float32Array(1);
		const u = new Uint32Array(f.buffer);
		for (let i = 0; i < 5000; i++) {
			u[0] = (Math.random() * 0x7f7fffff) >>> 0; // finite, non-negative float32 bit patterns
			const s = float32Decimal(f[0]);
			expect(s).toMatch(/^\d+(\.\d+)?$/);
			expect(Math.fround(Number(s))).toBe(f[0]);
		}
	});
});
