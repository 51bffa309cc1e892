import { isoUtc, writeIsoUtc } from "../../domain/time";
import { HOUR_MS } from "../hours";
import type { DukascopyInstrument } from "./instruments";
import { hourRenderers, type DecodedHour } from "./ticks";

/**
 * An hour of ticks straight into market-data log messages, in the codec's v2 wire format (lib/domain/codec
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
	const time = hourTimeWriter(h.hourStartMs);
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
			if (p + need > buf.length) buf = grown(buf, p, need);
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

/**
 * Writes the ISO time (isoUtc's text) of an offset into the hour: the hour's "YYYY-MM-DDTHH:" once, then
 * minutes, seconds and milliseconds from the offset. Falls back to writeIsoUtc for an hour that does not
 * start on the hour, outside years 0-9999, or an offset past the hour. Returns the end.
 */
function hourTimeWriter(hourStartMs: number): (offset: number, out: Uint8Array, at: number) => number {
	const iso = isoUtc(hourStartMs);
	if (hourStartMs % HOUR_MS !== 0 || !/^\d{4}-\d\d-\d\dT\d\d:00:00\.000Z$/.test(iso)) return (o, out, at) => at + writeIsoUtc(hourStartMs + o, out, at);
	const prefix = Buffer.from(iso.slice(0, 14));
	return (o, out, at) => {
		if (!(o >= 0 && o < HOUR_MS && Number.isInteger(o))) return at + writeIsoUtc(hourStartMs + o, out, at);
		out.set(prefix, at);
		at += 14;
		const mi = Math.floor(o / 60_000);
		const rest = o - mi * 60_000;
		const ss = Math.floor(rest / 1000);
		const ms = rest - ss * 1000;
		out[at] = 48 + Math.floor(mi / 10);
		out[at + 1] = 48 + (mi % 10);
		out[at + 2] = 58; // :
		out[at + 3] = 48 + Math.floor(ss / 10);
		out[at + 4] = 48 + (ss % 10);
		out[at + 5] = 46; // .
		out[at + 6] = 48 + Math.floor(ms / 100);
		out[at + 7] = 48 + (Math.floor(ms / 10) % 10);
		out[at + 8] = 48 + (ms % 10);
		out[at + 9] = 90; // Z
		return at + 10;
	};
}

/** A buffer with the first `used` bytes of `buf` and room for at least `need` more. */
function grown(buf: Buffer, used: number, need: number): Buffer {
	const next = Buffer.allocUnsafe(Math.max(buf.length * 2, used + need));
	buf.copy(next, 0, 0, used);
	return next;
}

/** A non-negative integer's decimal digits at `at`; returns the end. */
function writeUint(n: number, out: Uint8Array, at: number): number {
	let digits = 1;
	for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
	for (let k = at + digits - 1; k >= at; k--) {
		out[k] = 48 + (n % 10);
		n = Math.floor(n / 10);
	}
	return at + digits;
}

/** An ASCII string's bytes at `at`; returns the end. */
function writeAscii(s: string, out: Uint8Array, at: number): number {
	for (let k = 0; k < s.length; k++) out[at++] = s.charCodeAt(k);
	return at;
}
