/**
 * CRC32 (the zlib polynomial, as Kraken's book checksum uses) for the book checksum, built from
 * per-level parts. CRC32's register update is linear over GF(2), so feeding a level's bytes L into a
 * register R gives `zeros(R, |L|) ^ part(L)`, where part(L) is L fed into a zero register and
 * zeros(R, n) is R run through n zero bytes. A level's part and length are computed once, when the
 * level changes; a checksum then costs four table lookups per level (zeros(·, n) is a linear map of
 * R, tabulated byte-wise per n), not one per digit.
 */

const TABLE = (() => {
	const t = new Int32Array(256);
	for (let n = 0; n < 256; n++) {
		let c = n;
		for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
		t[n] = c;
	}
	return t;
})();

/** The register before any byte. */
export const CRC_START = -1;

/** The unsigned CRC32 of a register. */
export function crcFinish(state: number): number {
	return (state ^ -1) >>> 0;
}

/** Bytes fed by the last crcFeedDecimal. */
export let fedBytes = 0;

/**
 * Feeds a rendered decimal as Kraken's checksum wants it: '.' removed and leading zeros stripped
 * ("0.00100000" feeds "100000", "45285.2" feeds "452852"; zero itself feeds "0"), the same text as
 * precision.checksumToken without making it. Sets `fedBytes`.
 */
export function crcFeedDecimal(state: number, s: string): number {
	let c = state;
	let n = 0;
	for (let i = 0; i < s.length; i++) {
		const ch = s.charCodeAt(i);
		if (ch === 46 || (ch === 48 && n === 0)) continue;
		c = TABLE[(c ^ ch) & 0xff] ^ (c >>> 8);
		n++;
	}
	if (n === 0) {
		c = TABLE[(c ^ 48) & 0xff] ^ (c >>> 8);
		n = 1;
	}
	fedBytes = n;
	return c;
}

/** ZEROS[n]: zeros(·, n) as four 256-entry tables, one per byte of the register; made on first use. */
const ZEROS: Int32Array[] = [];

function zerosTable(n: number): Int32Array {
	const z = new Int32Array(1024);
	for (let b = 0; b < 4; b++) {
		for (let v = 0; v < 256; v++) {
			let c = v << (8 * b);
			for (let k = 0; k < n; k++) c = TABLE[c & 0xff] ^ (c >>> 8);
			z[b * 256 + v] = c;
		}
	}
	return (ZEROS[n] = z);
}

/** The register `state` continued by a part of `len` bytes: zeros(state, len) ^ part. */
export function crcAppend(state: number, part: number, len: number): number {
	const z = ZEROS[len] ?? zerosTable(len);
	return z[state & 0xff] ^ z[256 + ((state >>> 8) & 0xff)] ^ z[512 + ((state >>> 16) & 0xff)] ^ z[768 + (state >>> 24)] ^ part;
}

/** A cached part of the register: what a book level carries. */
export interface CrcPart {
	readonly crcPart: number;
	readonly crcLen: number;
}

/** The unsigned CRC32 of the first `na` parts of `a` followed by the first `nb` parts of `b`. */
export function crcOfParts(a: readonly CrcPart[], na: number, b: readonly CrcPart[], nb: number): number {
	let c = CRC_START;
	for (let i = 0; i < na; i++) c = crcAppend(c, a[i].crcPart, a[i].crcLen);
	for (let i = 0; i < nb; i++) c = crcAppend(c, b[i].crcPart, b[i].crcLen);
	return crcFinish(c);
}
