import type { WsBook, WsLevel } from "./messages";
import type { Precision } from "./parse";
import * as crc32 from "./crc32";
import * as precision from "./precision";

// Bound once: under tsx (how the services run) every use of a named import is a getter call on the
// other module's exports, which costs about a fifth of applying a level.
const { crcFeedDecimal, crcOfParts } = crc32;
const { checksumToken, compareDecimal, isZeroDecimal, renderDecimal } = precision;

/** A level at the pair's precision, with its part of the checksum's CRC32 (crc32.ts) computed once. */
export class BookLevel {
	/** The checksum text of the level fed into a zero CRC register, and that text's length. */
	readonly crcPart: number;
	readonly crcLen: number;

	constructor(
		readonly price: string,
		readonly qty: string,
	) {
		const p = crcFeedDecimal(0, price);
		const pn = crc32.fedBytes;
		this.crcPart = crcFeedDecimal(p, qty);
		this.crcLen = pn + crc32.fedBytes;
	}

	/** The level's checksum text: price then qty, '.' removed, leading zeros stripped. */
	get tok(): string {
		return checksumToken(this.price) + checksumToken(this.qty);
	}
}

/** Levels a checksum covers per side. */
const CHECKSUM_LEVELS = 10;

/**
 * One symbol's L2 book as Kraken v2 maintains it: a snapshot, then updates whose levels are applied
 * in order (qty 0 deletes), then truncation to the subscribed depth. Prices and sizes are kept as
 * decimal strings rendered at the pair's precision; ordering compares them as decimals, not floats.
 * Each level carries its part of the checksum's CRC32, so a checksum combines 20 cached parts.
 */
export class L2Book {
	/** Best (highest) first. */
	bids: BookLevel[] = [];
	/** Best (lowest) first. */
	asks: BookLevel[] = [];
	/** Whether a snapshot has been applied since the last reset. */
	ready = false;
	/** Kraken's time of the last message applied (its receive time when Kraken sent none), and its receive time. */
	time: string | null = null;
	recvTime: string | null = null;

	constructor(
		readonly depth: number,
		public precision: Precision,
	) {}

	reset(): void {
		this.bids = [];
		this.asks = [];
		this.ready = false;
	}

	applySnapshot(b: Pick<WsBook, "bids" | "asks">): void {
		this.bids = [];
		this.asks = [];
		this.apply(b.bids, b.asks);
		this.ready = true;
	}

	applyUpdate(b: Pick<WsBook, "bids" | "asks">): void {
		this.apply(b.bids, b.asks);
	}

	/**
	 * Kraken's book checksum (v1 and v2): CRC32 (zlib polynomial) over the top 10 asks (price ascending) then the
	 * top 10 bids (price descending), each level as price then qty rendered at the pair's precision with the '.'
	 * removed and leading zeros stripped; compared as an unsigned 32-bit integer.
	 */
	checksum(): number {
		return crcOfParts(this.asks, Math.min(CHECKSUM_LEVELS, this.asks.length), this.bids, Math.min(CHECKSUM_LEVELS, this.bids.length));
	}

	/** Both sides as [price, qty] decimal strings at the pair's precision, best first. */
	levels(): { bids: [string, string][]; asks: [string, string][] } {
		return { bids: this.bids.map((l) => [l.price, l.qty]), asks: this.asks.map((l) => [l.price, l.qty]) };
	}

	private apply(bids: readonly WsLevel[], asks: readonly WsLevel[]): void {
		for (let i = 0; i < bids.length; i++) this.set(this.bids, bids[i], true);
		for (let i = 0; i < asks.length; i++) this.set(this.asks, asks[i], false);
		if (this.bids.length > this.depth) this.bids.length = this.depth;
		if (this.asks.length > this.depth) this.asks.length = this.depth;
	}

	private set(side: BookLevel[], l: WsLevel, desc: boolean): void {
		const price = renderDecimal(l.price, this.precision.price);
		const qty = renderDecimal(l.qty, this.precision.qty);
		// binary search for the level or its insertion point
		let lo = 0;
		let hi = side.length;
		while (lo < hi) {
			const mid = (lo + hi) >>> 1;
			const c = compareDecimal(side[mid].price, price);
			if (c === 0) {
				if (isZeroDecimal(qty)) side.splice(mid, 1);
				else side[mid] = new BookLevel(price, qty);
				return;
			}
			if (desc ? c > 0 : c < 0) lo = mid + 1;
			else hi = mid;
		}
		if (!isZeroDecimal(qty)) side.splice(lo, 0, new BookLevel(price, qty));
	}
}
