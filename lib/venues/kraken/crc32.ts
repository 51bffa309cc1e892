/**
 * CRC32 (the zlib polynomial, as Kraken's book checksum uses) fed straight from decimal text: a
 * precomputed table, no Buffer or string built per checksum. States are the running register
 * (before the final inversion), so a checksum can resume from any cached prefix.
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

/** Feeds ASCII text. */
export function crcFeed(state: number, s: string): number {
	let c = state;
	for (let i = 0; i < s.length; i++) c = TABLE[(c ^ s.charCodeAt(i)) & 0xff] ^ (c >>> 8);
	return c;
}

/**
 * Feeds a rendered decimal as Kraken's checksum wants it: '.' removed and leading zeros stripped
 * ("0.00100000" feeds "100000", "45285.2" feeds "452852"; zero itself feeds "0"), the same text as
 * precision.checksumToken without making it.
 */
export function crcFeedDecimal(state: number, s: string): number {
	let c = state;
	let started = false;
	for (let i = 0; i < s.length; i++) {
		const ch = s.charCodeAt(i);
		if (ch === 46) continue;
		if (!started) {
			if (ch === 48) continue;
			started = true;
		}
		c = TABLE[(c ^ ch) & 0xff] ^ (c >>> 8);
	}
	return started ? c : TABLE[(c ^ 48) & 0xff] ^ (c >>> 8);
}
