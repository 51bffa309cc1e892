import fc from "fast-check";
import { isIsoTimestamp } from "../../../lib/domain/time";
import { decodeFrame, decodeFrameFully } from "../../../lib/venues/kraken/parse";
import { isoTimestampAt, scanDataFrame } from "../../../lib/venues/kraken/scan";
import { recordedBookFrames } from "./recording";
import { derivedTradeTickerFrames } from "./v2-frames";

/**
 * The one-pass scanner (scan.ts) against the full parser (parseExact = JSON.parse over number text,
 * then validation): wherever the scanner answers it must give exactly the full parser's frame, and
 * anything it does not fully accept must come back null so that the full parser decides.
 */

const compact = (f: string) => f.replace(/\s+/g, "");
const bookFrames = recordedBookFrames().map(compact);
const { trades, tickers } = derivedTradeTickerFrames();
const allFrames = [...bookFrames, ...trades, ...tickers];

const T = (over: Record<string, string> = {}) => {
	const f: Record<string, string> = { symbol: '"BTC/USD"', side: '"buy"', price: "29430.2", qty: "0.5", ord_type: '"limit"', trade_id: "61502340", timestamp: '"2023-07-30T15:29:58.343415Z"', ...over };
	return `{${Object.entries(f)
		.filter(([, v]) => v !== "")
		.map(([k, v]) => `"${k}":${v}`)
		.join(",")}}`;
};
const tradeFrame = (...items: string[]) => `{"channel":"trade","type":"update","data":[${items.join(",")}]}`;
const tickerFrame = (over = "") =>
	`{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","bid":29430.2,"bid_qty":0.18967538,"ask":29430.3,"ask_qty":8.25215653,"last":29430.3,"volume":19.72165605,"vwap":29430.3,"low":29430.2,"high":29430.3,"change":${over || "-0.1"},"change_pct":-0.01,"timestamp":"2023-07-30T15:30:18.030127Z"}]}`;
const bookFrame = (bids: string, asks = "[]", checksum = "3547452596", ts = ',"timestamp":"2023-07-30T15:29:58.343415Z"') =>
	`{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":${bids},"asks":${asks},"checksum":${checksum}${ts}}]}`;

/** The frame the full parser gives, and the scanner either agrees exactly or stays out (null). */
function agrees(text: string): ReturnType<typeof scanDataFrame> {
	const full = decodeFrameFully(text);
	const fast = scanDataFrame(text);
	if (fast !== null) expect(fast).toEqual(full);
	expect(decodeFrame(text)).toEqual(full);
	return fast;
}

describe("Kraken v2 frame scanner", () => {
	it("decodes every recorded book frame and every trade/ticker frame exactly as the full parser does", () => {
		expect(allFrames.length).toBe(510 + trades.length + tickers.length);
		for (const f of allFrames) {
			const fast = agrees(f);
			expect(fast).not.toBeNull(); // the fast path is taken for Kraken's own layout
		}
		// pretty-printed text (whitespace) is valid JSON the scanner leaves to the full parser
		const pretty = recordedBookFrames()[1];
		expect(scanDataFrame(pretty)).toBeNull();
		expect(decodeFrame(pretty)).toEqual(decodeFrameFully(compact(pretty)));
	});

	it("keeps number text verbatim, including exponent notation and negative values where a field allows them", () => {
		const t = agrees(tickerFrame("-1.5e-3"));
		expect(t).toMatchObject({ kind: "ticker", tickers: [{ change: "-1.5e-3", change_pct: "-0.01", bid: "29430.2", ask_qty: "8.25215653" }] });
		expect(agrees(tickerFrame("2E+10"))).toMatchObject({ tickers: [{ change: "2E+10" }] });
		// a price in exponent notation is valid but not Kraken's form: the full parser takes it (and accepts it)
		expect(agrees(tradeFrame(T({ price: "1e-8" })))).toBeNull();
		expect(decodeFrame(tradeFrame(T({ price: "1e-8" })))).toMatchObject({ kind: "trade", trades: [{ price: "1e-8" }], problems: [] });
		// a negative price is refused, item by item, with the full parser's reason
		expect(agrees(tradeFrame(T({ price: "-1" }), T()))).toBeNull();
		expect(decodeFrame(tradeFrame(T({ price: "-1" }), T()))).toMatchObject({ kind: "trade", trades: [{ price: "29430.2" }], problems: ['trade item 0: price "-1" is not a non-negative number'] });
		expect(agrees(bookFrame('[{"price":1,"qty":-2}]'))).toBeNull();
	});

	it("leaves escaped strings, nested arrays and unexpected keys to the full parser", () => {
		expect(agrees(tradeFrame(T({ symbol: '"BTC\\/USD"' })))).toBeNull();
		expect(decodeFrame(tradeFrame(T({ symbol: '"BTC\\/USD"' })))).toMatchObject({ trades: [{ symbol: "BTC/USD" }] });
		expect(agrees(tradeFrame(T({ symbol: '"BTC\\u002FUSD"' })))).toBeNull();
		expect(agrees(`{"channel":"trade","type":"update","data":[[${T()}]]}`)).toBeNull();
		expect(decodeFrame(`{"channel":"trade","type":"update","data":[[${T()}]]}`)).toMatchObject({ trades: [], problems: ["trade item 0: item is not an object"] });
		expect(agrees(bookFrame("[[29430.2,0.5]]"))).toBeNull();
		expect(agrees(bookFrame('[{"price":[1],"qty":2}]'))).toBeNull();
		expect(agrees(tradeFrame(T({ extra: "[1,[2,{}]]" })))).toBeNull();
		expect(decodeFrame(tradeFrame(T({ extra: "[1,[2,{}]]" })))).toMatchObject({ trades: [{ extra: ["1", ["2", {}]] }] });
		expect(agrees(tradeFrame(T({ ord_type: "" })))).toMatchObject({ trades: [{ price: "29430.2" }] }); // ord_type is optional
		expect(agrees(tradeFrame(T({ ord_type: '"post_only"' })))).toMatchObject({ trades: [{ ord_type: "post_only" }] });
		// a key twice: JSON.parse keeps the last, the scanner stays out
		expect(agrees(`{"channel":"trade","channel":"book","type":"update","data":[${T()}]}`)).toBeNull();
	});

	it("refuses malformed input instead of mis-parsing it", () => {
		const good = [tradeFrame(T(), T({ side: '"sell"' })), tickerFrame(), bookFrames[0], bookFrames[1]];
		for (const g of good) {
			expect(agrees(g)).not.toBeNull();
			// every truncation of a good frame is not JSON
			for (let n = 0; n < g.length; n++) {
				const cut = g.slice(0, n);
				expect(scanDataFrame(cut)).toBeNull();
				expect(decodeFrame(cut)).toMatchObject({ kind: "rejected", category: "malformed" });
			}
			for (const tail of ["x", "}", ",", "]", "{}", "\u0000"]) {
				expect(scanDataFrame(g + tail)).toBeNull();
				expect(decodeFrame(g + tail)).toMatchObject({ kind: "rejected", category: "malformed" });
			}
			expect(agrees(g + " \n")).toBeNull(); // JSON allows trailing whitespace: the full parser decides
		}
		for (const bad of ["1.", "01", "1.2.3", "-", ".5", "1e", "1e+", "+1", "0x10", "NaN", "Infinity", '"1"', "1 2", "1_0"]) {
			expect(agrees(tradeFrame(T({ price: bad })))).toBeNull();
			expect(agrees(tickerFrame(bad))).toBeNull();
		}
		expect(agrees(tradeFrame(T({ symbol: '"BTC\u0001USD"' })))).toBeNull();
		expect(decodeFrame(tradeFrame(T({ symbol: '"BTC\u0001USD"' })))).toMatchObject({ kind: "rejected", category: "malformed" });
		expect(agrees(tradeFrame(T({ trade_id: "1234567890123456789" })))).toBeNull(); // 19 digits: past ID_RE
		expect(agrees(tradeFrame(T({ trade_id: "0" })))).toMatchObject({ trades: [{ trade_id: "0" }] });
		expect(agrees(tradeFrame(T({ trade_id: "012" })))).toBeNull();
		expect(agrees(tradeFrame(T({ side: '"up"' })))).toBeNull();
		expect(agrees(bookFrame("[]", "[]", "4294967295"))).toMatchObject({ books: [{ checksum: "4294967295" }] });
		expect(agrees(bookFrame("[]", "[]", "4294967296"))).toBeNull();
		expect(agrees(bookFrame("[]", "[]", "1", ""))).toMatchObject({ books: [{ bids: [], asks: [] }] }); // a snapshot has no timestamp
		expect(agrees('{"channel":"trade","type":"update","data":[]}')).toBeNull();
		expect(agrees('{"channel":"trade","type":"partial","data":[]}')).toBeNull();
		expect(agrees('{"channel":"heartbeat"}')).toBeNull();
	});

	it("accepts exactly the timestamps isIsoTimestamp accepts", () => {
		const ok = ["2023-07-30T15:29:58.343415Z", "2024-02-29T00:00:00Z", "2000-02-29T23:59:59.999999999Z", "2023-07-30T15:29:58.1234567Z", "2023-07-30T15:29:58.12345678Z", "2023-07-30T15:29:58.12Z", "1991-01-01T00:00:00.1Z", "2099-12-31T23:59:59Z", "2023-07-30T15:29:58+00:00", "1990-01-01T00:00:00.001Z"];
		const bad = ["2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2023-07-30T15:29:58.Z", "2023-07-30T24:00:00Z", "2023-07-30T15:60:00Z", "2023-07-30T15:29:60Z", "2023-13-01T00:00:00Z", "2023-00-01T00:00:00Z", "2023-07-00T00:00:00Z", "2023-07-30T15:29:58.1234567890Z", "2023-07-30 15:29:58Z", "2023-07-30T15:29:58", "1990-01-01T00:00:00Z", "2100-01-01T00:00:00Z", "21-5-07-30T15:29:58Z", "2x23-07-30T15:29:58Z", "1970-01-20T13:38:50.998Z"];
		for (const s of ok) {
			expect([s, isIsoTimestamp(s)]).toEqual([s, true]);
			expect([s, isoTimestampAt(`"${s}"`, 1, s.length + 1)]).toEqual([s, true]);
		}
		for (const s of bad) {
			expect([s, isIsoTimestamp(s)]).toEqual([s, false]);
			expect([s, isoTimestampAt(s, 0, s.length)]).toEqual([s, false]);
		}
		// inside frames, after a time with the same date and hour was accepted (the scanner then checks only the rest)
		for (const [tail, good] of [["29:58Z", true], ["60:00Z", false], ["29:60Z", false], ["29:58.Z", false], ["29:58.1234567890Z", false], ["29:58.123456789Z", true], ["2:58Z", false], ["29:58+00:00", true], ["29:5aZ", false]] as const) {
			expect(agrees(tradeFrame(T()))).not.toBeNull();
			const f = agrees(tradeFrame(T({ timestamp: `"2023-07-30T15:${tail}"` })));
			expect([tail, f !== null]).toEqual([tail, good]); // other valid forms are checked by isIsoTimestamp itself
			expect([tail, decodeFrame(tradeFrame(T({ timestamp: `"2023-07-30T15:${tail}"` }))).kind === "trade" && (decodeFrame(tradeFrame(T({ timestamp: `"2023-07-30T15:${tail}"` }))) as { problems: string[] }).problems.length === 0]).toEqual([tail, good]);
		}
		const digitOr = (c: string) => fc.oneof(fc.integer({ min: 0, max: 9 }).map(String), fc.constantFrom(c, "x", "-", ":", ".", "Z", "T", " "));
		const template = "2023-07-30T15:29:58.343415Z";
		fc.assert(
			fc.property(fc.array(fc.tuple(fc.nat(template.length - 1), digitOr("0")), { maxLength: 4 }), fc.nat(9), (edits, cut) => {
				const chars = template.split("");
				for (const [at, c] of edits) chars[at] = c;
				let s = chars.join("");
				if (cut > 6) s = s.slice(0, 20 + cut - 6) + "Z";
				expect(isoTimestampAt(s, 0, s.length)).toBe(isIsoTimestamp(s));
			}),
			{ numRuns: 3000 },
		);
	});

	it("never decides differently from the full parser on damaged real frames", () => {
		const alphabet = fc.constantFrom(..."0123456789.-+eE,:{}[]\"\\ aZT/x".split(""));
		fc.assert(
			fc.property(fc.constantFrom(...allFrames.slice(0, 40), ...trades, ...tickers.slice(0, 40)), fc.nat(), alphabet, fc.constantFrom("replace", "insert", "delete"), (frame, pos, ch, op) => {
				const at = pos % frame.length;
				const damaged = op === "replace" ? frame.slice(0, at) + ch + frame.slice(at + 1) : op === "insert" ? frame.slice(0, at) + ch + frame.slice(at) : frame.slice(0, at) + frame.slice(at + 1);
				agrees(damaged);
			}),
			{ numRuns: 4000 },
		);
	});
});
