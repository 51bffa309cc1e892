import { crc32 } from "node:zlib";
import { checksumToken, renderDecimal } from "./precision";

/**
 * Kraken's book checksum (v1 and v2): CRC32 (zlib polynomial) over the top 10 asks (price ascending)
 * then the top 10 bids (price descending), each level as price then qty rendered at the pair's
 * precision with the '.' removed and leading zeros stripped. Compared as an unsigned 32-bit integer.
 */
export interface Level {
	price: string;
	qty: string;
}

export function checksumString(asks: readonly Level[], bids: readonly Level[], pricePrecision: number, qtyPrecision: number): string {
	let s = "";
	const na = Math.min(10, asks.length);
	for (let i = 0; i < na; i++) s += checksumToken(renderDecimal(asks[i].price, pricePrecision)) + checksumToken(renderDecimal(asks[i].qty, qtyPrecision));
	const nb = Math.min(10, bids.length);
	for (let i = 0; i < nb; i++) s += checksumToken(renderDecimal(bids[i].price, pricePrecision)) + checksumToken(renderDecimal(bids[i].qty, qtyPrecision));
	return s;
}

export function bookChecksum(asks: readonly Level[], bids: readonly Level[], pricePrecision: number, qtyPrecision: number): number {
	return crc32(checksumString(asks, bids, pricePrecision, qtyPrecision)) >>> 0;
}
