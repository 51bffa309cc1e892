import { grownBuffer, writeAscii as writeAsciiImport, writeUint as writeUintImport } from "../../domain/ascii";
import { hourIsoWriter } from "../../domain/time";
import { V3_MAX_VALUES, V3_RECORD_BYTES as V3_RECORD_BYTES_IMPORT } from "../../domain/wire-v3";
import type { DukascopyInstrument } from "./instruments";
import { hourRenderers, type DecodedHour } from "./ticks";

// Bound once: under tsx (how the services run) every use of a named import is a getter call, per tick here.
const writeAscii = writeAsciiImport;
const writeUint = writeUintImport;
const V3_RECORD_BYTES = V3_RECORD_BYTES_IMPORT;

/**
 * An hour of ticks straight into market-data log messages (with BACKFILL_WIRE=v2; the default is v3,
 * quoteColumnPayloads below), in the codec's v2 wire format (lib/domain/codec
 * encodeEnvelope: a JSON header line, then one tab-separated line per quote: time, seq, bid, ask, bidQty,
 * askQty, recvTime), without a QuoteItem object per tick in between. The text is the same, byte for byte,
 * as encodeEnvelope(quoteEnvelope(venue, symbol, quoteItems(hour, inst, recvTime))) in chunks of `chunk`
 * quotes; test/backfill/dukascopy-wire.spec.ts holds the two together.
 *
 * Each message is written as bytes into one buffer: no string per line or per message. Every value is
 * ASCII (times, sequence numbers, and prices and sizes rendered as plain decimals by hourRenderers).
 */

export function quoteWirePayloads(h: DecodedHour, inst: DukascopyInstrument, venue: string, recvTime: string, chunk: number): Buffer[] {
	if (!(chunk >= 1)) throw new RangeError(`chunk must be at least 1 (got ${chunk})`);
	const head = Buffer.from(JSON.stringify({ v: 2, kind: "quote", venue, symbol: inst.symbol }));
	const tail = Buffer.from("\t" + recvTime);
	const { price, bidQty, askQty } = hourRenderers(h, inst.decimals);
	const time = hourIsoWriter(h.hourStartMs);
	const out: Buffer[] = [];
	for (let start = 0; start < h.count; start += chunk) {
		const end = Math.min(h.count, start + chunk);
		let buf: Buffer = Buffer.allocUnsafe(head.length + (end - start) * (96 + tail.length));
		head.copy(buf, 0);
		let p = head.length;
		for (let i = start; i < end; i++) {
			const bid = price(h.bid[i]);
			const ask = price(h.ask[i]);
			const bq = bidQty(i);
			const aq = askQty(i);
			// newline, time (24 bytes, 27 outside years 0-9999), tab, seq (at most 16 digits), four tabs, the values, tail
			const need = 56 + bid.length + ask.length + bq.length + aq.length + tail.length;
			if (p + need > buf.length) buf = grownBuffer(buf, p, need);
			buf[p++] = 10;
			p = time(h.offsets[i], buf, p);
			buf[p++] = 9;
			p = writeUint(i, buf, p);
			buf[p++] = 9;
			p = writeAscii(bid, buf, p);
			buf[p++] = 9;
			p = writeAscii(ask, buf, p);
			buf[p++] = 9;
			p = writeAscii(bq, buf, p);
			buf[p++] = 9;
			p = writeAscii(aq, buf, p);
			buf.set(tail, p);
			p += tail.length;
		}
		out.push(buf.subarray(0, p));
	}
	return out;
}

/** The most rows quoteColumnPayloads puts in one message (16,384): its four values per row always fit v3's 65,536. */
export const COLUMN_CHUNK_MAX = V3_MAX_VALUES / 4;

/**
 * An hour of ticks as v3 messages (lib/domain/wire-v3: the rows as 16-byte records, each distinct price and size
 * once in the header), in chunks of `chunk` quotes. The rows are the ones quoteWirePayloads writes as v2 lines,
 * value for value (test/writer/wire-v3.spec.ts), in about a fifth of the bytes.
 */
export function quoteColumnPayloads(h: DecodedHour, inst: DukascopyInstrument, venue: string, recvTime: string, chunk: number): Buffer[] {
	if (!(chunk >= 1 && chunk <= COLUMN_CHUNK_MAX)) throw new RangeError(`chunk must be 1-${COLUMN_CHUNK_MAX} (got ${chunk})`);
	const { price, bidQty, askQty } = hourRenderers(h, inst.decimals);
	const askVolume: ArrayLike<number | string> = h.askVolume;
	const bidVolume: ArrayLike<number | string> = h.bidVolume;
	const out: Buffer[] = [];
	for (let start = 0; start < h.count; start += chunk) {
		const end = Math.min(h.count, start + chunk);
		const values: string[] = [];
		// a price by its integer, a size by the hour's own value (float32 millions or decimal text): rendered once each
		const prices = new Map<number, number>();
		const sizes = new Map<number | string, number>();
		const priceIndex = (n: number) => {
			let k = prices.get(n);
			if (k === undefined) prices.set(n, (k = values.push(price(n)) - 1));
			return k;
		};
		const body = Buffer.allocUnsafe((end - start) * V3_RECORD_BYTES);
		let p = 0;
		for (let i = start; i < end; i++, p += V3_RECORD_BYTES) {
			const b = priceIndex(h.bid[i]);
			const a = priceIndex(h.ask[i]);
			let bq = sizes.get(bidVolume[i]);
			if (bq === undefined) sizes.set(bidVolume[i], (bq = values.push(bidQty(i)) - 1));
			let aq = sizes.get(askVolume[i]);
			if (aq === undefined) sizes.set(askVolume[i], (aq = values.push(askQty(i)) - 1));
			body.writeUInt32BE(h.offsets[i], p);
			body.writeUInt32BE(i, p + 4);
			body.writeUInt16BE(b, p + 8);
			body.writeUInt16BE(a, p + 10);
			body.writeUInt16BE(bq, p + 12);
			body.writeUInt16BE(aq, p + 14);
		}
		const head = Buffer.from(JSON.stringify({ v: 3, kind: "quote", venue, symbol: inst.symbol, t0: h.hourStartMs, recvTime, values }) + "\n");
		out.push(Buffer.concat([head, body], head.length + body.length));
	}
	return out;
}
