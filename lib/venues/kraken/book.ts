import type { WsBook, WsLevel } from "./messages";
import type { Precision } from "./parse";
import { CRC_START, crcFeedDecimal, crcFinish } from "./crc32";
import { checksumToken, compareDecimal, isZeroDecimal, renderDecimal } from "./precision";

/** A level at the pair's precision. */
export class BookLevel {
	constructor(
		public price: string,
		public qty: string,
	) {}

	/** The level's checksum text: price then qty, '.' removed, leading zeros stripped. */
	get tok(): string {
		return checksumToken(this.price) + checksumToken(this.qty);
	}
}

/** Levels a checksum covers per side. */
const CHECKSUM_LEVELS = 10;
const NONE = 1 << 30;

/**
 * One symbol's L2 book as Kraken v2 maintains it: a snapshot, then updates whose levels are applied
 * in order (qty 0 deletes), then truncation to the subscribed depth. Prices and sizes are kept as
 * decimal strings rendered at the pair's precision; ordering compares them as decimals, not floats.
 * The checksum's CRC32 register is cached after every level of the 20 it covers (asks then bids), so
 * a checksum after an update re-feeds only the levels from the first changed one on.
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

	/** prefix[k]: the CRC register after the first k checksum levels (asks[0..na) then bids); valid up to `validPrefix`. */
	private prefix = new Int32Array(2 * CHECKSUM_LEVELS + 1);
	private validPrefix = 0;
	/** Top-of-book ask count the prefix was computed with. */
	private prefixAsks = 0;
	/** Lowest ask / bid index changed since the last checksum (NONE: none). */
	private dirtyAsk = 0;
	private dirtyBid = 0;

	constructor(
		readonly depth: number,
		public precision: Precision,
	) {
		this.prefix[0] = CRC_START;
	}

	reset(): void {
		this.bids = [];
		this.asks = [];
		this.ready = false;
		this.dirtyAsk = this.dirtyBid = 0;
	}

	applySnapshot(b: Pick<WsBook, "bids" | "asks">): void {
		this.bids = [];
		this.asks = [];
		this.dirtyAsk = this.dirtyBid = 0;
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
		const na = Math.min(CHECKSUM_LEVELS, this.asks.length);
		const nb = Math.min(CHECKSUM_LEVELS, this.bids.length);
		let k = Math.min(this.validPrefix, this.dirtyAsk, na + this.dirtyBid);
		if (na !== this.prefixAsks) k = Math.min(k, na, this.prefixAsks);
		const p = this.prefix;
		let crc = p[k];
		for (; k < na + nb; k++) {
			const l = k < na ? this.asks[k] : this.bids[k - na];
			crc = crcFeedDecimal(crcFeedDecimal(crc, l.price), l.qty);
			p[k + 1] = crc;
		}
		this.validPrefix = na + nb;
		this.prefixAsks = na;
		this.dirtyAsk = this.dirtyBid = NONE;
		return crcFinish(p[na + nb]);
	}

	/** Both sides as [price, qty] decimal strings at the pair's precision, best first. */
	levels(): { bids: [string, string][]; asks: [string, string][] } {
		return { bids: this.bids.map((l) => [l.price, l.qty]), asks: this.asks.map((l) => [l.price, l.qty]) };
	}

	private apply(bids: readonly WsLevel[], asks: readonly WsLevel[]): void {
		for (let i = 0; i < bids.length; i++) {
			const at = this.set(this.bids, bids[i], true);
			if (at < this.dirtyBid) this.dirtyBid = at;
		}
		for (let i = 0; i < asks.length; i++) {
			const at = this.set(this.asks, asks[i], false);
			if (at < this.dirtyAsk) this.dirtyAsk = at;
		}
		if (this.bids.length > this.depth) {
			this.bids.length = this.depth;
			if (this.depth < this.dirtyBid) this.dirtyBid = this.depth;
		}
		if (this.asks.length > this.depth) {
			this.asks.length = this.depth;
			if (this.depth < this.dirtyAsk) this.dirtyAsk = this.depth;
		}
	}

	/** Applies one level; returns the index it changed (NONE when nothing changed). */
	private set(side: BookLevel[], l: WsLevel, desc: boolean): number {
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
				return mid;
			}
			if (desc ? c > 0 : c < 0) lo = mid + 1;
			else hi = mid;
		}
		if (isZeroDecimal(qty)) return NONE;
		side.splice(lo, 0, new BookLevel(price, qty));
		return lo;
	}
}
