// @napi-rs/lzma: prebuilt native LZMA ("lzma alone") that accepts both header shapes Dukascopy writes.
import { lzma } from "@napi-rs/lzma";
import { CorruptHourError, checkHour, emptyHour, type Bi5Hour } from "./ticks";

export const TICK_RECORD_BYTES = 20;
export const CANDLE_RECORD_BYTES = 24;

/** Raw LZMA decompression of a .bi5 file (an empty file stays empty). Throws on a truncated or corrupt stream. */
export function decompressBi5(file: Uint8Array): Buffer {
	if (file.byteLength === 0) return Buffer.alloc(0);
	return lzma.decompressSync(file);
}

const truncated = (file: Uint8Array, err: unknown) => `truncated or corrupt .bi5 file (${file.byteLength} bytes): LZMA: ${(err as Error).message}`;

function checkLength(raw: Buffer, recordBytes: number, what: string): string | null {
	return raw.length % recordBytes === 0 ? null : `corrupt .bi5 file: ${raw.length} decompressed bytes is not a whole number of ${recordBytes}-byte ${what} records`;
}

function inflate(file: Uint8Array, recordBytes: number, what: string, onError: (detail: string, cause?: unknown) => Error): Buffer {
	let raw: Buffer;
	try {
		raw = decompressBi5(file);
	} catch (err) {
		throw onError(truncated(file, err), err);
	}
	const bad = checkLength(raw, recordBytes, what);
	if (bad) throw onError(bad);
	return raw;
}

/** Decompressed 20-byte big-endian tick records into columns. */
function tickRecords(raw: Buffer, instrument: string, hourStartMs: number): Bi5Hour {
	const n = raw.length / TICK_RECORD_BYTES;
	const h = emptyHour(instrument, hourStartMs, "millions", n);
	const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
	for (let i = 0, o = 0; i < n; i++, o += TICK_RECORD_BYTES) {
		h.offsets[i] = dv.getUint32(o);
		h.ask[i] = dv.getUint32(o + 4);
		h.bid[i] = dv.getUint32(o + 8);
		h.askVolume[i] = dv.getFloat32(o + 12);
		h.bidVolume[i] = dv.getFloat32(o + 16);
	}
	checkHour(h);
	return h;
}

/**
 * One hourly tick file: LZMA of 20-byte big-endian records
 * (uint32 ms since the hour start, uint32 ask, uint32 bid, float32 ask volume, float32 bid volume).
 */
export function decodeBi5Ticks(file: Uint8Array, instrument: string, hourStartMs: number): Bi5Hour {
	const raw = inflate(file, TICK_RECORD_BYTES, "tick", (detail, cause) => new CorruptHourError(instrument, hourStartMs, detail, { cause }));
	return tickRecords(raw, instrument, hourStartMs);
}

/** The same, with the LZMA decompression on libuv's thread pool: concurrent hours decompress in parallel, off the event loop. */
export async function decodeBi5TicksAsync(file: Uint8Array, instrument: string, hourStartMs: number): Promise<Bi5Hour> {
	let raw: Buffer;
	try {
		raw = file.byteLength === 0 ? Buffer.alloc(0) : await lzma.decompress(file);
	} catch (err) {
		throw new CorruptHourError(instrument, hourStartMs, truncated(file, err), { cause: err });
	}
	const bad = checkLength(raw, TICK_RECORD_BYTES, "tick");
	if (bad) throw new CorruptHourError(instrument, hourStartMs, bad);
	return tickRecords(raw, instrument, hourStartMs);
}

/** One candle record: seconds since the file's period start and integer prices (note the O, C, L, H order in the file). */
export interface Bi5Candle {
	offsetSec: number;
	open: number;
	close: number;
	low: number;
	high: number;
	volume: number; // float32
}

/** Candle files (BID_candles_min_1.bi5 per day, ..._hour_1 per month, ..._day_1 per year): 24-byte records, sec, O, C, L, H, float32 volume. */
export function decodeBi5Candles(file: Uint8Array, name = "candle file"): Bi5Candle[] {
	const raw = inflate(file, CANDLE_RECORD_BYTES, "candle", (detail, cause) => new Error(`${name}: ${detail}`, { cause }));
	const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
	const out: Bi5Candle[] = [];
	for (let o = 0; o < raw.length; o += CANDLE_RECORD_BYTES) {
		out.push({ offsetSec: dv.getUint32(o), open: dv.getUint32(o + 4), close: dv.getUint32(o + 8), low: dv.getUint32(o + 12), high: dv.getUint32(o + 16), volume: dv.getFloat32(o + 20) });
	}
	return out;
}
