import { isoUtc } from "../../domain/time";
import type { DukascopyInstrument } from "./instruments";
import { hourRenderers, type DecodedHour } from "./ticks";

/**
 * An hour of ticks straight into market-data log messages, in the codec's v2 wire format (lib/domain/codec
 * encodeEnvelope: a JSON header line, then one tab-separated line per quote: time, seq, bid, ask, bidQty,
 * askQty, recvTime), without a QuoteItem object per tick in between. The text is the same, byte for byte,
 * as encodeEnvelope(quoteEnvelope(venue, symbol, quoteItems(hour, inst, recvTime))) in chunks of `chunk`
 * quotes; test/backfill/dukascopy-wire.spec.ts holds the two together.
 */

export function quoteWirePayloads(h: DecodedHour, inst: DukascopyInstrument, venue: string, recvTime: string, chunk: number): Buffer[] {
	if (!(chunk >= 1)) throw new RangeError(`chunk must be at least 1 (got ${chunk})`);
	const head = JSON.stringify({ v: 2, kind: "quote", venue, symbol: inst.symbol });
	// Lines are joined once per message (a flat string) rather than concatenated into a string tree.
	const { price, bidQty, askQty } = hourRenderers(h, inst.decimals);
	const tail = "\t" + recvTime;
	const out: Buffer[] = [];
	for (let start = 0; start < h.count; start += chunk) {
		const end = Math.min(h.count, start + chunk);
		const lines: string[] = [head];
		for (let i = start; i < end; i++) {
			lines.push(`${isoUtc(h.hourStartMs + h.offsets[i])}\t${i}\t${price(h.bid[i])}\t${price(h.ask[i])}\t${bidQty(i)}\t${askQty(i)}${tail}`);
		}
		out.push(Buffer.from(lines.join("\n")));
	}
	return out;
}
