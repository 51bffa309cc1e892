/**
 * Writing ASCII text straight into byte buffers (COPY rows, wire messages) without a string per value: the shared
 * pieces of the byte encoders (lib/backfill/dukascopy/wire.ts, lib/history/kline-page.ts, writeIsoUtc).
 */

/** A non-negative integer's decimal digits into `out` at `at`; returns the end. */
export function writeUint(n: number, out: Uint8Array, at: number): number {
	let digits = 1;
	for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
	for (let k = at + digits - 1; k >= at; k--) {
		out[k] = 48 + (n % 10);
		n = Math.floor(n / 10);
	}
	return at + digits;
}

/** An ASCII string's bytes into `out` at `at`; returns the end. */
export function writeAscii(s: string, out: Uint8Array, at: number): number {
	for (let k = 0; k < s.length; k++) out[at++] = s.charCodeAt(k);
	return at;
}

/** A buffer holding the first `used` bytes of `buf`, with room for at least `need` more (at least twice the size). */
export function grownBuffer(buf: Buffer, used: number, need: number): Buffer {
	const next = Buffer.allocUnsafe(Math.max(buf.length * 2, used + need));
	buf.copy(next, 0, 0, used);
	return next;
}
