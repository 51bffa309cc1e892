import fc from "fast-check";
import { readFileSync } from "node:fs";
import path from "node:path";
import { canonicalSymbol, decodeLine, instrumentOf, isTradeable, LineSplitter, parseAnyTime, parseCandles, parseNanoTime, quoteOf } from "../../../lib/venues/oanda/parse";

const FIX = path.resolve(__dirname, "../../../../shared/fixtures/oanda");
const read = (f: string) => readFileSync(path.join(FIX, f), "utf8");
const STREAM_2016 = read("derived_hootnot_pricing_stream_2016-10-27.jsonl");
const STREAM_2017 = read("derived_hootnot_stream_2017-03-09.jsonl");
const LINE_2017_09 = read("extracted_async_v20_pricing_stream_line_EUR_USD_2017-09-21.jsonl");
const lines = (t: string) => t.split("\n").filter((l) => l.trim());

describe("OANDA times without a JS Date", () => {
	it("keeps microseconds for the database and the nanoseconds below them", () => {
		expect(parseNanoTime("2016-10-27T08:38:43.094548890Z")).toEqual({ micros: "2016-10-27T08:38:43.094548Z", subMicroNs: 890, ms: Date.UTC(2016, 9, 27, 8, 38, 43, 94) });
		expect(parseNanoTime("2024-02-29T23:59:59Z")).toEqual({ micros: "2024-02-29T23:59:59.000000Z", subMicroNs: 0, ms: Date.UTC(2024, 1, 29, 23, 59, 59) });
		expect(parseNanoTime("2016-10-27 08:38:43Z")).toBeNull();
		expect(parseNanoTime("2016-13-27T08:38:43.1Z")).toBeNull();
		expect(parseAnyTime("1509126185.000000000")?.micros).toBe("2017-10-27T17:43:05.000000Z");
	});
	it("computes the epoch milliseconds of any calendar second like Date.UTC does", () => {
		fc.assert(
			fc.property(fc.integer({ min: 0, max: 4102444799 }), fc.integer({ min: 0, max: 999_999_999 }), (sec, ns) => {
				const iso = new Date(sec * 1000).toISOString().slice(0, 19);
				const t = parseNanoTime(`${iso}.${String(ns).padStart(9, "0")}Z`)!;
				expect(t.ms).toBe(sec * 1000 + Math.floor(ns / 1e6));
				expect(t.micros).toBe(`${iso}.${String(ns).padStart(9, "0").slice(0, 6)}Z`);
				expect(t.subMicroNs).toBe(ns % 1000);
			}),
		);
	});
});

describe("pricing stream lines (real recordings)", () => {
	it("PRICE lines become quotes with exact prices, top-of-book liquidity and the time to the nanosecond", () => {
		const [l0, hb, l2] = lines(STREAM_2016);
		const d = decodeLine(l0);
		expect(d.kind).toBe("price");
		if (d.kind !== "price") return;
		expect(d.price.instrument).toBe("EUR_JPY");
		expect(d.price.time).toBe("2016-10-27T08:38:43.094548890Z");
		expect(quoteOf(d.price, d.time, "2016-10-27T08:38:43.200Z")).toEqual({ time: "2016-10-27T08:38:43.094548Z", seq: "890", bid: "114.295", ask: "114.312", bidQty: "1000000", askQty: "1000000", recvTime: "2016-10-27T08:38:43.200Z" });
		expect(decodeLine(hb)).toMatchObject({ kind: "heartbeat", heartbeat: { time: "2016-10-27T08:38:44.327443673Z" } });
		const e = decodeLine(l2);
		if (e.kind !== "price") throw new Error("expected a price");
		expect(quoteOf(e.price, e.time, "x")).toMatchObject({ bid: "1.09177", ask: "1.09188", time: "2016-10-27T08:38:45.664613Z", seq: "867" });
	});
	it("keeps liquidity written as a float ('10000000.0') as its exact text, and heartbeats with lastTransactionID", () => {
		const all = lines(STREAM_2017).map(decodeLine);
		expect(all.map((d) => d.kind)).toEqual(["price", "price", "price", "price", "heartbeat", "heartbeat", "heartbeat", "heartbeat"]);
		const d = all[0];
		if (d.kind !== "price") throw new Error("expected a price");
		expect(quoteOf(d.price, d.time, "r")).toEqual({ time: "2017-03-09T13:37:46.048197Z", seq: "280", bid: "1.05522", ask: "1.05534", bidQty: "10000000.0", askQty: "10000000.0", recvTime: "r" });
		expect(isTradeable(d.price)).toBe(true);
		const x = decodeLine(lines(LINE_2017_09)[0]);
		if (x.kind !== "price") throw new Error("expected a price");
		expect(quoteOf(x.price, x.time, "r")).toMatchObject({ bid: "1.18724", ask: "1.18736", time: "2017-09-21T01:54:35.452443Z", seq: "932" });
	});
	it("a non-tradeable price is recognised (it is not stored as a quote)", () => {
		const snap = JSON.parse(read("extracted_async_v20_pricing_response_unixtime.json")) as { prices: object[] };
		const line = JSON.stringify({ ...snap.prices[0], time: "2017-10-27T21:00:00.126267519Z" });
		const d = decodeLine(line);
		if (d.kind !== "price") throw new Error("expected a price");
		expect(isTradeable(d.price)).toBe(false);
	});
	it("rejects malformed lines with a reason, never throws", () => {
		for (const bad of ["{", "[]", '{"type":"PRICE"}', '{"type":"NEWS","time":"2016-10-27T08:38:44.327443673Z"}', '{"type":"HEARTBEAT","time":"yesterday"}', lines(STREAM_2016)[0].replace('"114.295"', '"1e5"'), lines(STREAM_2016)[0].replace('"EUR_JPY"', '"EURJPY"')]) {
			const d = decodeLine(bad);
			expect(d.kind).toBe("rejected");
			if (d.kind === "rejected") expect(d.reason.length).toBeGreaterThan(0);
		}
	});
	it("maps instruments to standard symbols and back", () => {
		expect(canonicalSymbol("EUR_USD")).toBe("EUR-USD-SPOT");
		expect(instrumentOf("EUR-USD-SPOT")).toBe("EUR_USD");
		expect(instrumentOf("usd_jpy")).toBe("USD_JPY");
		expect(() => instrumentOf("BTC/USD")).toThrow(RangeError);
	});
});

describe("chunk boundaries", () => {
	const recorded = Buffer.from(STREAM_2016 + STREAM_2017 + LINE_2017_09.replace(/\n?$/, "\n") + '{"type":"PRICE","instrument":"EUR_USD","time":"2017-09-21T01:54:36.000000001Z","bids":[{"price":"1.18724","liquidity":"1"}],"asks":[{"price":"1.18736","liquidity":"1"}],"note":"éü€"}\n', "utf8");
	const whole = lines(recorded.toString("utf8"));

	it("splitting a recorded stream at every byte yields the same lines", () => {
		for (let cut = 0; cut <= recorded.length; cut++) {
			const s = new LineSplitter();
			const got = [...s.push(recorded.subarray(0, cut)), ...s.push(recorded.subarray(cut))];
			expect(got).toEqual(whole);
		}
	});
	it("one byte per chunk, and everything in one chunk", () => {
		const s = new LineSplitter();
		const got: string[] = [];
		for (let i = 0; i < recorded.length; i++) got.push(...s.push(recorded.subarray(i, i + 1)));
		expect(got).toEqual(whole);
		expect(new LineSplitter().push(recorded)).toEqual(whole);
	});
	it("drops an overlong line and keeps the next", () => {
		const s = new LineSplitter(100);
		const over: number[] = [];
		const got = s.push(Buffer.from("x".repeat(150)), (n) => over.push(n));
		got.push(...s.push(Buffer.from("y".repeat(50) + "\n" + lines(STREAM_2016)[1] + "\n"), (n) => over.push(n)));
		expect(over).toEqual([200]);
		expect(got).toEqual([lines(STREAM_2016)[1]]);
	});
});

describe("line decoder fuzz", () => {
	it("never throws, and any cut of random lines gives the same lines back", () => {
		fc.assert(
			fc.property(fc.array(fc.string({ unit: "binary", maxLength: 80 }).map((s) => s.replace(/[\n\r]/g, "")), { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 6 }), (ls, cuts) => {
				const text = ls.map((l) => `${l}\n`).join("");
				const buf = Buffer.from(text, "utf8");
				const points = [...new Set(cuts.map((c) => (buf.length ? c % buf.length : 0)))].sort((a, b) => a - b);
				const s = new LineSplitter();
				const got: string[] = [];
				let from = 0;
				for (const p of [...points, buf.length]) {
					got.push(...s.push(buf.subarray(from, p)));
					from = p;
				}
				expect(got).toEqual(ls.filter((l) => l.trim()));
				for (const l of got) expect(() => decodeLine(l)).not.toThrow();
			}),
		);
	});
	it("mutated real lines are decoded or rejected, never thrown, and a decoded price has exact decimal prices", () => {
		const base = lines(STREAM_2016 + STREAM_2017);
		fc.assert(
			fc.property(fc.constantFrom(...base), fc.nat(), fc.string({ maxLength: 4 }), (line, at, ins) => {
				const i = at % (line.length + 1);
				const mutated = line.slice(0, i) + ins + line.slice(i + (at % 3));
				const d = decodeLine(mutated);
				if (d.kind === "price") {
					const q = quoteOf(d.price, d.time, "r");
					if (q) {
						expect(q.bid).toMatch(/^\d+(\.\d+)?$/);
						expect(q.ask).toMatch(/^\d+(\.\d+)?$/);
						expect(q.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
					}
				}
			}),
			{ numRuns: 2000 },
		);
	});
});

describe("candle responses (real recordings)", () => {
	it("reads mid candles with exact prices and RFC 3339 times", () => {
		const r = parseCandles(read("derived_hootnot_candles_EUR_USD_H1_2017-01-03.json"));
		expect(r.granularity).toBe("H1");
		expect(r.candles).toHaveLength(9);
		expect(r.candles[0]).toEqual({ time: "2017-01-03T00:00:00.000000Z", timeMs: Date.UTC(2017, 0, 3), bid: null, ask: null, mid: { open: "1.04577", high: "1.04712", low: "1.04572", close: "1.04662" }, volume: "481", complete: true });
	});
	it("reads S5 candles with UNIX times", () => {
		const r = parseCandles(read("extracted_async_v20_candles_AUD_USD_S5_unixtime.json"));
		expect(r.granularity).toBe("S5");
		expect(r.candles[0]).toMatchObject({ time: "2017-10-27T17:43:05.000000Z", mid: { open: "0.76596", close: "0.76596" }, volume: "2" });
		expect(r.candles[9].mid).toEqual({ open: "0.76591", high: "0.76591", low: "0.7659", close: "0.7659" });
	});
	it("reads bid/ask candles (price=BA) and refuses a float-mangled price", () => {
		const ba = JSON.stringify({ instrument: "EUR_USD", granularity: "S5", candles: [{ complete: true, volume: 3, time: "2017-01-03T00:00:05.000000000Z", bid: { o: "1.04570", h: "1.04580", l: "1.04560", c: "1.04575" }, ask: { o: "1.04584", h: "1.04590", l: "1.04571", c: "1.04589" } }] });
		expect(parseCandles(ba).candles[0]).toMatchObject({ bid: { open: "1.04570", close: "1.04575" }, ask: { high: "1.04590" }, mid: null, volume: "3" });
		expect(() => parseCandles(ba.replace('"1.04570"', "1.0457e0"))).toThrow(RangeError);
	});
});
