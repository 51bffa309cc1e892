import fs from "node:fs";
import path from "node:path";
import { decodeBi5Ticks } from "../../lib/backfill/dukascopy/bi5";
import { getInstrument } from "../../lib/backfill/dukascopy/instruments";
import { decodeJsonTicks, parseJsonTicks } from "../../lib/backfill/dukascopy/jsonapi";
import { emptyHour, quoteItems, type DecodedHour } from "../../lib/backfill/dukascopy/ticks";
import { quoteWirePayloads } from "../../lib/backfill/dukascopy/wire";
import { decodeWire, encodeEnvelope, quoteEnvelope } from "../../lib/domain/codec";
import { BTCUSD_BI5, BTCUSD_JSON, DUKASCOPY_FIXTURES, EURUSD_HOUR_FILES } from "../helpers/fake-dukascopy";

const read = (rel: string) => fs.readFileSync(path.join(DUKASCOPY_FIXTURES, rel));
const EURUSD = getInstrument("EURUSD");
const BTC = getInstrument("BTCUSD");
const EUR_HOUR = Date.parse("2019-02-04T00:00:00Z"); // bi5 path month 01 = February (0-based)
const BTC_HOUR = Date.parse("2023-02-20T12:00:00Z");
const RECV = "2026-12-07T08:09:10.123Z";

/** What the worker used to publish: QuoteItem objects through the codec's encoder. */
function viaCodec(h: DecodedHour, inst: typeof EURUSD, chunk: number): Buffer[] {
	const items = quoteItems(h, inst, RECV);
	const out: Buffer[] = [];
	for (let i = 0; i < items.length; i += chunk) out.push(encodeEnvelope(quoteEnvelope("dukascopy", inst.symbol, items.slice(i, i + chunk))));
	return out;
}

describe("Dukascopy hour -> log messages in wire format (no QuoteItem per tick)", () => {
	const hours: Array<[string, DecodedHour, typeof EURUSD]> = [
		...EURUSD_HOUR_FILES.map((f, i): [string, DecodedHour, typeof EURUSD] => [f, decodeBi5Ticks(read(f), "EURUSD", EUR_HOUR + i * 3_600_000), EURUSD]),
		["BTCUSD .bi5", decodeBi5Ticks(read(BTCUSD_BI5), "BTCUSD", BTC_HOUR), BTC],
		["BTCUSD JSON API", decodeJsonTicks(parseJsonTicks(read(BTCUSD_JSON).toString()), BTC, BTC_HOUR), BTC],
	];

	it.each(hours)("%s: byte for byte what the codec's encoder writes, at any chunk size", (_name, h, inst) => {
		expect(h.count).toBeGreaterThan(1000);
		for (const chunk of [5000, 1000, 7, 1]) {
			const direct = quoteWirePayloads(h, inst, "dukascopy", RECV, chunk);
			const codec = viaCodec(h, inst, chunk);
			expect(direct.length).toBe(Math.ceil(h.count / chunk));
			expect(direct.map((b) => b.toString())).toEqual(codec.map((b) => b.toString()));
		}
	});

	it("writes lines longer than its first estimate (long decimal volumes) as the codec does", () => {
		const h = emptyHour("BTCUSD", BTC_HOUR, "units", 300);
		for (let i = 0; i < h.count; i++) {
			h.offsets[i] = i * 1000;
			h.bid[i] = 2_400_000 + i;
			h.ask[i] = 2_400_100 + i;
			h.bidVolume[i] = `${"9".repeat(60)}.${String(i).padStart(40, "1")}`;
			h.askVolume[i] = "0." + "0".repeat(70) + "1";
		}
		for (const chunk of [300, 64, 1]) {
			expect(quoteWirePayloads(h, BTC, "dukascopy", RECV, chunk).map((b) => b.toString())).toEqual(viaCodec(h, BTC, chunk).map((b) => b.toString()));
		}
	});

	it("is accepted whole by the tick-writer's decoder", () => {
		const [, h, inst] = hours[0];
		const [msg] = quoteWirePayloads(h, inst, "dukascopy", RECV, 5000);
		const w = decodeWire(msg);
		expect(w).toMatchObject({ kind: "quote", venue: "dukascopy", symbol: "EUR-USD-SPOT", rows: h.count, rejects: [] });
		const first = w.copy.slice(0, w.copy.indexOf("\n")).split("\t");
		expect(first[0]).toBe("dukascopy");
		expect(first[2]).toBe(new Date(EUR_HOUR + h.offsets[0]).toISOString());
		expect(first[3]).toBe("0");
	});

	it("writes times at the edges of the hour as Date does, and nothing for an empty hour", () => {
		const h = emptyHour("EURUSD", EUR_HOUR, "millions", 4);
		h.offsets.set([0, 999, 59_999, 3_599_999]);
		h.bid.fill(114_545);
		h.ask.fill(114_547);
		h.bidVolume.fill(1.5);
		h.askVolume.fill(0.25);
		const lines = quoteWirePayloads(h, EURUSD, "dukascopy", RECV, 10)[0].toString().split("\n").slice(1);
		expect(lines.map((l) => l.split("\t")[0])).toEqual([0, 999, 59_999, 3_599_999].map((o) => new Date(EUR_HOUR + o).toISOString()));
		expect(lines[3]).toBe(`${new Date(EUR_HOUR + 3_599_999).toISOString()}\t3\t1.14545\t1.14547\t1500000\t250000\t${RECV}`);
		expect(quoteWirePayloads(emptyHour("EURUSD", EUR_HOUR, "millions"), EURUSD, "dukascopy", RECV, 5000)).toEqual([]);
		expect(() => quoteWirePayloads(h, EURUSD, "dukascopy", RECV, 0)).toThrow(RangeError);
	});
});
