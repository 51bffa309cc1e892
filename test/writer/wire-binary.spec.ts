import fc from "fast-check";
import fs from "node:fs";
import path from "node:path";
import { decodeBi5Ticks } from "../../lib/backfill/dukascopy/bi5";
import { getInstrument } from "../../lib/backfill/dukascopy/instruments";
import { quoteWirePayloads } from "../../lib/backfill/dukascopy/wire";
import { decodeWireBytes, encodeEnvelope, quoteEnvelope, tradeEnvelope } from "../../lib/domain/codec";
import { binaryRows, QUOTE_FIELDS, TRADE_FIELDS, wireRows } from "../../lib/writer/copy-binary";
import { decodeWireForCopy, type CopyReadyBatch } from "../../lib/writer/wire-binary";
import { BTCUSD_BI5, DUKASCOPY_FIXTURES, EURUSD_HOUR_FILES } from "../helpers/fake-dukascopy";
import { makeTrades } from "../helpers/trades";

/**
 * decodeWireForCopy checks and encodes in one pass what decodeWireBytes checks and binaryRows encodes in two: its
 * decode must be decodeWireBytes's, and its binary rows byte for byte what binaryRows makes of the verbatim lines
 * (whose rows test/writer/copy-binary.int.spec.ts holds against PostgreSQL's own reading of the text).
 */

const TRADE_HEAD = JSON.stringify({ v: 2, kind: "trade", venue: "kraken", symbol: "BTC-USD-SPOT" });
const QUOTE_HEAD = JSON.stringify({ v: 2, kind: "quote", venue: "dukascopy", symbol: "EUR-USD-SPOT" });
const T = "2024-01-15T13:00:00.123Z";
const okTrade = `${T}\t1\t42000.5\t0.01\tb\t${T}`;
const okQuote = `${T}\t1\t1.0912\t1.0913\t1.5\t2\t2024-01-15T13:00:01Z`;

/** The binary rows of a decodeWireBytes result's verbatim lines by the two-pass path, or undefined when it has none. */
function twoPass(payload: Uint8Array): Buffer | undefined {
	const w = decodeWireBytes(payload);
	if (!w.lines || (w.kind !== "trade" && w.kind !== "quote")) return undefined;
	const r = binaryRows([wireRows(w.lines, w.kind)], w.kind === "trade" ? TRADE_FIELDS : QUOTE_FIELDS);
	return r.failed.length ? undefined : Buffer.concat(r.chunks);
}

/** Checks one payload; returns whether the one-pass path encoded it. */
function agrees(payload: Uint8Array): boolean {
	const one: CopyReadyBatch = decodeWireForCopy(payload);
	const { binary, ...decoded } = one;
	expect(decoded).toEqual(decodeWireBytes(payload));
	if (binary) expect(binary.equals(twoPass(payload)!)).toBe(true);
	return binary !== undefined;
}

const edgeField = fc.constantFrom(
	"0", "00", "01", "0.0", "0.000", "0.00001", "1.", ".5", "1.5", "-1", "+1", "1e5", " 1", "", "-", "b", "s", "x", "bb", "\\N",
	"9".repeat(15), "9".repeat(16), "9".repeat(18), "9".repeat(19), "1" + "0".repeat(63), "1" + "0".repeat(64), "0." + "0".repeat(61) + "1",
	"2024-01-15T13:00:00Z", "2024-01-15T13:00:00.5Z", "2024-01-15T13:00:59.999Z", "2024-01-15T13:00:59.9999999Z", "2024-01-15T13:00:59.9995Z",
	"2024-01-15T13:00:00.0000005Z", "2024-01-15T13:00:00.0000015Z", "2024-01-15T23:59:59.9999996Z", "1990-01-01T00:00:00Z", "1990-01-01T00:00:00.001Z",
	"2024-01-15T13:00:00+00:00", "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "2024-01-15T24:00:00Z", "2024-01-15T13:00:60Z",
	"1989-12-31T23:59:59Z", "2099-12-31T23:59:59.998Z", "2100-01-01T00:00:00Z", "2024-01-15T13:00:00.1234567890Z", "2024-01-15t13:00:00Z", "é",
	"1.5\r", "2024-01-15T13:00:00Z\r", "b\r", "12345678901234567890123456789012.1234567890123456789012345678901", "9999999999999999.9999999999999999",
);

describe("decodeWireForCopy: the wire check and the binary encoding in one pass", () => {
	it("encodes real Dukascopy hours (quotes) and generated trades, as the two-pass path does", () => {
		const eurusd = getInstrument("EURUSD");
		const hour = Date.parse("2019-01-04T00:00:00Z");
		for (const f of EURUSD_HOUR_FILES) {
			const h = decodeBi5Ticks(fs.readFileSync(path.join(DUKASCOPY_FIXTURES, f)), "EURUSD", hour);
			for (const p of quoteWirePayloads(h, eurusd, "dukascopy", "2026-12-07T18:00:00.123Z", 5000)) expect(agrees(p)).toBe(true);
		}
		const btc = getInstrument("BTCUSD");
		const h = decodeBi5Ticks(fs.readFileSync(path.join(DUKASCOPY_FIXTURES, BTCUSD_BI5)), "BTCUSD", Date.parse("2023-01-20T12:00:00Z"));
		for (const p of quoteWirePayloads(h, btc, "dukascopy", "2026-12-07T18:00:00Z", 1000)) expect(agrees(p)).toBe(true);
		// over three days (hours and days change between lines); then one message larger than the encoder's first buffer
		const trades = makeTrades(2000, Date.parse("2024-01-01T00:00:00Z"), 3 * 86_400_000, 5);
		expect(agrees(encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", trades)))).toBe(true);
		const big = encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", makeTrades(15_000, Date.parse("2024-01-01T00:00:00Z"), 86_400_000, 7)));
		expect(agrees(big)).toBe(true);
		expect(decodeWireForCopy(big).binary!.length).toBeGreaterThan(1 << 20);
	});

	it("leaves to decodeWireBytes what the check does not accept as it is: placeholders, zero prices, a minute's last ms, offsets, rejects", () => {
		const q = { seq: "3", bid: "1.09123", ask: "1.09125", bidQty: "0", askQty: "2.5", time: "2024-01-15T13:00:00Z", recvTime: "2024-01-15T13:00:00.5Z" };
		expect(agrees(encodeEnvelope(quoteEnvelope("dukascopy", "EUR-USD-SPOT", [q, { ...q, seq: "4" }])))).toBe(true); // a zero size is fine
		expect(agrees(encodeEnvelope(quoteEnvelope("dukascopy", "EUR-USD-SPOT", [q, { ...q, seq: "4", bidQty: null }])))).toBe(false);
		expect(agrees(encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", [{ tradeId: "1", side: null, price: "1", qty: "1", time: T, recvTime: T }])))).toBe(false);
		for (const bad of [okTrade.replace("42000.5", "0.0"), okTrade.replace("0.01", "0"), okTrade.replace(T, "2024-01-15T13:00:00.123+00:00"), okTrade.replace("\tb\t", "\tx\t"), okTrade + "\textra", ""]) {
			expect(agrees(Buffer.from([TRADE_HEAD, okTrade, bad, okTrade].join("\n")))).toBe(false);
		}
		expect(agrees(Buffer.from([QUOTE_HEAD, okQuote, okQuote.replace("1.0913", "0.000")].join("\n")))).toBe(false);
		// the last line's newline ends the message; an empty body has no rows
		expect(agrees(Buffer.from([TRADE_HEAD, okTrade, okTrade + "\n"].join("\n")))).toBe(true);
		expect(agrees(Buffer.from(TRADE_HEAD + "\n"))).toBe(false);
		expect(agrees(Buffer.from(TRADE_HEAD))).toBe(false);
	});

	it("encodes times in a minute's last ms, and marks the next minute when the fraction rounds into it, as decodeWireBytes does", () => {
		for (const time of ["2024-01-15T13:00:59.999Z", "2024-01-15T13:00:59.9994Z", "2024-01-15T13:00:59.9999996Z"]) {
			const payload = Buffer.from([TRADE_HEAD, okTrade.replace(T, time)].join("\n"));
			expect(agrees(payload)).toBe(true);
			expect(decodeWireForCopy(payload).minutes).toEqual(/\.\d{7}/.test(time) ? [Date.parse("2024-01-15T13:00:00Z"), Date.parse("2024-01-15T13:01:00Z")] : [Date.parse("2024-01-15T13:00:00Z")]);
		}
	});

	it("agrees with the two-pass path on lines built from edge-case fields (and encodes some of them)", () => {
		let encoded = 0;
		let left = 0;
		fc.assert(
			fc.property(fc.boolean(), fc.array(fc.tuple(fc.nat(7), edgeField, fc.boolean()), { minLength: 1, maxLength: 4 }), (isTrade, rows) => {
				const base = (isTrade ? okTrade : okQuote).split("\t");
				// each row: the good line with one field replaced by an edge value (sometimes with one field more)
				const lines = rows.map(([i, edge, extra]) => base.map((f, k) => (k === i ? edge : f)).concat(extra && i === 0 ? ["extra"] : []).join("\t"));
				if (agrees(Buffer.from([isTrade ? TRADE_HEAD : QUOTE_HEAD, ...lines].join("\n")))) encoded++;
				else left++;
			}),
			{ numRuns: 1000 },
		);
		expect(encoded).toBeGreaterThan(50);
		expect(left).toBeGreaterThan(50);
	});

	it("agrees with decodeWireBytes on arbitrary bodies and on non-v2 messages", () => {
		fc.assert(
			fc.property(fc.string({ maxLength: 200 }), fc.constantFrom(TRADE_HEAD, QUOTE_HEAD, '{"v":2,"kind":"trade","venue":"a b","symbol":"s"}', '{"v":1,"kind":"trade","venue":"k","symbol":"s","items":[]}', "{nope", ""), (body, head) => {
				agrees(Buffer.from(head ? `${head}\n${body}` : body));
			}),
			{ numRuns: 500 },
		);
	});
});
