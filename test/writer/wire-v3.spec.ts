import fc from "fast-check";
import fs from "node:fs";
import path from "node:path";
import { decodeBi5Ticks } from "../../lib/backfill/dukascopy/bi5";
import { getInstrument } from "../../lib/backfill/dukascopy/instruments";
import { decodeJsonTicks, parseJsonTicks } from "../../lib/backfill/dukascopy/jsonapi";
import { emptyHour, type DecodedHour } from "../../lib/backfill/dukascopy/ticks";
import { COLUMN_CHUNK_MAX, quoteColumnPayloads, quoteWirePayloads } from "../../lib/backfill/dukascopy/wire";
import { copyLinesText, decodeWire, decodeWireBytes } from "../../lib/domain/codec";
import { isV3, V3_MAX_VALUES } from "../../lib/domain/wire-v3";
import { decodeWireForCopy } from "../../lib/writer/wire-binary";
import { BTCUSD_BI5, BTCUSD_JSON, DUKASCOPY_FIXTURES, EURUSD_HOUR_FILES } from "../helpers/fake-dukascopy";

/**
 * Wire v3 (lib/domain/wire-v3) carries the rows v2 lines carry: for real hours from both Dukascopy sources, the
 * tick-writer's decode of a v3 message must give the rows of the same hour's v2 message byte for byte, as binary COPY
 * rows and as text; bad rows and bad messages are rejected as v2's are, and nothing throws.
 */

const read = (rel: string) => fs.readFileSync(path.join(DUKASCOPY_FIXTURES, rel));
const EURUSD = getInstrument("EURUSD");
const BTC = getInstrument("BTCUSD");
const EUR_HOUR = Date.parse("2019-02-04T00:00:00Z");
const BTC_HOUR = Date.parse("2023-02-20T12:00:00Z");
const RECV = "2026-12-08T00:30:10.123Z";

const hours: Array<[string, DecodedHour, typeof EURUSD]> = [
	...EURUSD_HOUR_FILES.map((f, i): [string, DecodedHour, typeof EURUSD] => [f, decodeBi5Ticks(read(f), "EURUSD", EUR_HOUR + i * 3_600_000), EURUSD]),
	["BTCUSD .bi5", decodeBi5Ticks(read(BTCUSD_BI5), "BTCUSD", BTC_HOUR), BTC],
	["BTCUSD JSON API", decodeJsonTicks(parseJsonTicks(read(BTCUSD_JSON).toString()), BTC, BTC_HOUR), BTC],
];

/** A v3 message with its header changed by `edit` (the body kept). */
function withHeader(msg: Buffer, edit: (head: any) => void): Buffer {
	const nl = msg.indexOf(10);
	const head = JSON.parse(msg.toString("utf8", 0, nl));
	edit(head);
	return Buffer.concat([Buffer.from(JSON.stringify(head) + "\n"), msg.subarray(nl + 1)]);
}

const valuesOf = (msg: Buffer): string[] => JSON.parse(msg.toString("utf8", 0, msg.indexOf(10))).values;
const bodyAt = (msg: Buffer) => msg.indexOf(10) + 1;

describe("wire v3: quotes in columns", () => {
	it.each(hours)("%s: the same rows as its v2 lines, byte for byte, in binary and as text, at any chunk size", (_name, h, inst) => {
		expect(h.count).toBeGreaterThan(1000);
		for (const chunk of [5000, 1000, 7]) {
			const v2 = quoteWirePayloads(h, inst, "dukascopy", RECV, chunk);
			const v3 = quoteColumnPayloads(h, inst, "dukascopy", RECV, chunk);
			expect(v3.length).toBe(v2.length);
			for (let i = 0; i < v2.length; i++) {
				expect(isV3(v3[i])).toBe(true);
				const a = decodeWireForCopy(v2[i]);
				const b = decodeWireForCopy(v3[i]);
				expect(b.rejects).toEqual([]);
				expect(b.binary!.equals(a.binary!)).toBe(true);
				expect({ rows: b.rows, minutes: b.minutes, minMs: b.minMs, maxMs: b.maxMs, kind: b.kind, venue: b.venue, symbol: b.symbol }).toEqual({ rows: a.rows, minutes: a.minutes, minMs: a.minMs, maxMs: a.maxMs, kind: a.kind, venue: a.venue, symbol: a.symbol });
				if (i < 3) {
					// the text the writer falls back to, and what every other reader gets
					expect(copyLinesText(b.lines!)).toBe(copyLinesText(a.lines!));
					expect(decodeWire(v3[i])).toEqual(decodeWire(v2[i]));
				}
			}
		}
	});

	it("takes about a fifth of v2's bytes for an hour of EURUSD", () => {
		const [, h, inst] = hours[0];
		const [v2] = quoteWirePayloads(h, inst, "dukascopy", RECV, 5000);
		const [v3] = quoteColumnPayloads(h, inst, "dukascopy", RECV, 5000);
		expect(v3.length / v2.length).toBeLessThan(0.25);
	});

	it("rejects a bad row with its reason and keeps the others", () => {
		const [, h, inst] = hours[0];
		const [v2] = quoteWirePayloads(h, inst, "dukascopy", RECV, 5000);
		const [good] = quoteColumnPayloads(h, inst, "dukascopy", RECV, 5000);
		const n = valuesOf(good).length;
		const msg = withHeader(good, (head) => head.values.push("0", "1e5", "1.5\t2"));
		const at = bodyAt(msg);
		msg.writeUInt16BE(n + 3, at + 3 * 16 + 8); // row 3: bid past the values
		msg.writeUInt16BE(n, at + 7 * 16 + 10); // row 7: ask "0"
		msg.writeUInt16BE(n + 1, at + 9 * 16 + 12); // row 9: bidQty "1e5"
		msg.writeUInt16BE(n + 2, at + 11 * 16 + 14); // row 11: askQty with a tab in it
		msg.writeUInt16BE(n, at + 12 * 16 + 12); // row 12: bidQty "0" (a size may be zero)
		const reasons = [
			{ index: 3, reason: `bid is value ${n + 3}, past the ${n + 3} values` },
			{ index: 7, reason: 'ask "0" is not a decimal string > 0' },
			{ index: 9, reason: 'bidQty "1e5" is not a decimal string' },
			{ index: 11, reason: 'askQty "1.5\\t2" is not a decimal string' },
		];
		for (const w of [decodeWireForCopy(msg), decodeWireBytes(msg)]) {
			expect(w.rejects).toEqual(reasons);
			expect(w.rows).toBe(h.count - 4);
		}
		// the good rows are v2's lines, row 12 with its bidQty 0
		const lines = decodeWire(v2).copy.split("\n").slice(0, -1);
		lines[12] = lines[12].split("\t").map((f, k) => (k === 6 ? "0" : f)).join("\t");
		expect(decodeWire(msg).copy).toBe(lines.filter((_, i) => ![3, 7, 9, 11].includes(i)).join("\n") + "\n");
	});

	it("rejects rows whose time is outside the accepted range", () => {
		const [, h, inst] = hours[0];
		const [good] = quoteColumnPayloads(h, inst, "dukascopy", RECV, 5000);
		const w = decodeWireForCopy(withHeader(good, (head) => (head.t0 = 0)));
		expect(w.rows).toBe(0);
		expect(w.rejects).toHaveLength(h.count);
		expect(w.rejects[0].reason).toMatch(/^time "1970-01-01T00:00:00.\d{3}Z" is not an ISO-8601 UTC timestamp$/);
	});

	it("rejects rows whose t0 puts them past what a Date can hold, without throwing", () => {
		const [, h, inst] = hours[0];
		const [good] = quoteColumnPayloads(h, inst, "dukascopy", RECV, 100);
		const msg = withHeader(good, (head) => (head.t0 = 9e15));
		for (const w of [decodeWireForCopy(msg), decodeWireBytes(msg)]) {
			expect(w.rows).toBe(0);
			expect(w.rejects).toHaveLength(100);
			expect(w.rejects[0].reason).toMatch(/^time "9000000000\d{6} ms after the epoch" is not an ISO-8601 UTC timestamp$/);
		}
	});

	it("rejects a message that is not one whole, without throwing", () => {
		const [, h, inst] = hours[0];
		const [good] = quoteColumnPayloads(h, inst, "dukascopy", RECV, 100);
		const bad: Array<[Buffer, RegExp]> = [
			[Buffer.from('{"v":3,"kind":"quote"}'), /without a newline/],
			[Buffer.from('{"v":3,"kind":\n'), /not JSON/],
			[withHeader(good, (x) => (x.kind = "trade")), /unknown kind "trade"/],
			[withHeader(good, (x) => (x.venue = "a b")), /bad venue/],
			[withHeader(good, (x) => (x.symbol = undefined)), /bad symbol/],
			[withHeader(good, (x) => (x.t0 = "1551657600000")), /t0 "1551657600000" is not a whole number/],
			[withHeader(good, (x) => (x.t0 = 1.5)), /t0 1.5 is not a whole number/],
			[withHeader(good, (x) => (x.recvTime = "yesterday")), /recvTime "yesterday"/],
			[withHeader(good, (x) => (x.values = "1.1")), /values must be an array/],
			[withHeader(good, (x) => x.values.push(1.5)), /values must be an array/],
			[withHeader(good, (x) => (x.values = Array.from({ length: V3_MAX_VALUES + 1 }, (_, i) => String(i)))), /at most 65536/],
			[good.subarray(0, good.length - 1), /body of 1599 bytes is not a whole number of 16-byte rows/],
		];
		for (const [msg, reason] of bad) {
			for (const w of [decodeWireForCopy(msg), decodeWireBytes(msg)]) {
				expect(w.kind).toBeNull();
				expect(w.rows).toBe(0);
				expect(w.rejects).toHaveLength(1);
				expect(w.rejects[0].index).toBe(-1);
				expect(w.rejects[0].reason).toMatch(reason);
			}
		}
		// no rows at all is a message with nothing in it
		expect(decodeWireForCopy(good.subarray(0, bodyAt(good)))).toMatchObject({ kind: "quote", rows: 0, rejects: [] });
	});

	it("never throws on damaged messages, and the writer's decode agrees with the general one", () => {
		const [, h, inst] = hours[2];
		const [good] = quoteColumnPayloads(h, inst, "dukascopy", RECV, 300);
		fc.assert(
			fc.property(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }), fc.option(fc.nat()), (edits, cut) => {
				const msg = Buffer.from(good);
				for (const [pos, byte] of edits) msg[pos % msg.length] = byte;
				const x = cut === null ? msg : msg.subarray(0, cut % (msg.length + 1));
				const one = decodeWireForCopy(x);
				const gen = decodeWireBytes(x);
				expect({ rows: one.rows, rejects: one.rejects, minutes: one.minutes }).toEqual({ rows: gen.rows, rejects: gen.rejects, minutes: gen.minutes });
				if (one.binary && one.lines) expect(copyLinesText(one.lines).split("\n").length - 1).toBe(one.rows);
			}),
			{ numRuns: 400 },
		);
	});

	it("puts at most 16,384 quotes in a message and nothing for an empty hour", () => {
		const [, h, inst] = hours[0];
		expect(() => quoteColumnPayloads(h, inst, "dukascopy", RECV, 0)).toThrow(RangeError);
		expect(() => quoteColumnPayloads(h, inst, "dukascopy", RECV, COLUMN_CHUNK_MAX + 1)).toThrow(RangeError);
		expect(quoteColumnPayloads(emptyHour("EURUSD", EUR_HOUR, "millions"), inst, "dukascopy", RECV, 5000)).toEqual([]);
		// distinct values in every field of every row: 4 x 16,384 of them still index with 16 bits
		const big = emptyHour("EURUSD", EUR_HOUR, "millions", COLUMN_CHUNK_MAX);
		for (let i = 0; i < big.count; i++) {
			big.offsets[i] = Math.floor(i / 5);
			big.bid[i] = 100_000 + 2 * i;
			big.ask[i] = 100_001 + 2 * i;
			big.bidVolume[i] = 1 + i;
			big.askVolume[i] = 100_000 + i;
		}
		const [msg] = quoteColumnPayloads(big, inst, "dukascopy", RECV, COLUMN_CHUNK_MAX);
		expect(valuesOf(msg)).toHaveLength(4 * COLUMN_CHUNK_MAX);
		const [v2] = quoteWirePayloads(big, inst, "dukascopy", RECV, COLUMN_CHUNK_MAX);
		expect(decodeWireForCopy(msg).binary!.equals(decodeWireForCopy(v2).binary!)).toBe(true);
	});
});
