import { crc32 } from "node:zlib";
import type { WsBook, WsLevel } from "./messages";
import type { Precision } from "./parse";
import { checksumToken, compareDecimal, isZeroDecimal, renderDecimal } from "./precision";

/** A level at the pair's precision, with its checksum text (price and qty tokens) computed once, when the level changes. */
interface BookLevel {
	price: string;
	qty: string;
	tok: string;
}

/**
 * One symbol's L2 book as Kraken v2 maintains it: a snapshot, then updates whose levels are applied
 * in order (qty 0 deletes), then truncation to the subscribed depth. Prices and sizes are kept as
 * decimal strings rendered at the pair's precision; ordering compares them as decimals, not floats.
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
		let s = "";
		const na = Math.min(10, this.asks.length);
		for (let i = 0; i < na; i++) s += this.asks[i].tok;
		const nb = Math.min(10, this.bids.length);
		for (let i = 0; i < nb; i++) s += this.bids[i].tok;
		return crc32(s) >>> 0;
	}

	/** Both sides as [price, qty] decimal strings at the pair's precision, best first. */
	levels(): { bids: [string, string][]; asks: [string, string][] } {
		return { bids: this.bids.map((l) => [l.price, l.qty]), asks: this.asks.map((l) => [l.price, l.qty]) };
	}

	private apply(bids: readonly WsLevel[], asks: readonly WsLevel[]): void {
		for (const l of bids) this.set(this.bids, l, true);
		for (const l of asks) this.set(this.asks, l, false);
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
				else side[mid] = { price, qty, tok: checksumToken(price) + checksumToken(qty) };
				return;
			}
			if (desc ? c > 0 : c < 0) lo = mid + 1;
			else hi = mid;
		}
		if (!isZeroDecimal(qty)) side.splice(lo, 0, { price, qty, tok: checksumToken(price) + checksumToken(qty) });
	}
}
