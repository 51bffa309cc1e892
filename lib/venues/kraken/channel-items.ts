import { fastIsoMs } from "../../domain/codec";
import { L2Book } from "./book";
import type { GapTracker } from "./gaps";
import type { WsBook, WsTicker, WsTrade } from "./messages";
import type { PublishOverflow } from "./overflow";
import { quoteItem, QuoteSeq, tradeItem } from "./parse";
import { renderDecimal } from "./precision";
import type { StreamContext } from "./stream-context";
import { VENUE, type SymState } from "./symbol-state";

/**
 * The items of the data channels (trade, ticker, book) of one Kraken session into the market-data log: trades
 * checked for id jumps and repeats (a jump opens a gap, the first trade frame after a reconnect ends the
 * disconnect's), quotes deduplicated, books kept and verified against Kraken's checksum (a run of mismatches
 * resubscribes the book). What the publisher refuses goes to the overflow bookkeeping.
 */
export class ChannelItems {
	private quoteSeq = new QuoteSeq();

	constructor(
		private readonly ctx: StreamContext,
		private readonly gaps: GapTracker,
		private readonly overflow: PublishOverflow,
		private readonly resubscribeBook: (ws: string, reason: string) => void,
	) {}

	/** The state of a symbol we subscribed, with its message counted by the monitor; null (and counted as unsolicited) otherwise. */
	private subscribed(ws: string, recvMs: number, timestamp: string | undefined): SymState | null {
		const st = this.ctx.syms.get(ws);
		if (!st) {
			this.ctx.stats.unsolicited++;
			return null;
		}
		this.ctx.monitor.symbolMessage(st.symbol, recvMs, timestamp ? fastIsoMs(timestamp) : null);
		return st;
	}

	onTrades(type: "snapshot" | "update", trades: WsTrade[], recvTime: string, recvMs: number): void {
		const { syms, publisher } = this.ctx;
		const snapshotIds = new Map<SymState, Set<string>>();
		for (const t of trades) {
			const st = this.subscribed(t.symbol, recvMs, t.timestamp);
			if (!st) continue;
			const item = tradeItem(t, recvTime, this.ctx.precision.get(st.ws));
			const id = BigInt(t.trade_id);
			if (st.pending && st.pending.toMs !== null) {
				let seen = snapshotIds.get(st);
				if (!seen) snapshotIds.set(st, (seen = new Set()));
				seen.add(t.trade_id);
			} else if (st.lastTradeId !== null && id > st.lastTradeId + 1n && !st.pending && !st.liveAfterGap.some((h) => !h.settled)) {
				// (a jump right after a disconnect gap without an end id is that gap: its repair is bounded by this id)
				this.gaps.openIdGap(st, st.lastTradeId, id, st.lastTradeTime ?? t.timestamp, t.timestamp);
			}
			if (st.lastTradeId !== null && id <= st.lastTradeId) continue; // already published (a reconnect snapshot or a repair)
			const prevId = st.lastTradeId;
			st.lastTradeId = id;
			st.lastTradeTime = t.timestamp;
			if (st.liveAfterGap.length) {
				for (const h of st.liveAfterGap) h.firstId = id;
				st.liveAfterGap = [];
			}
			if (!publisher.trade(st.topics.trades, VENUE, st.symbol, item)) {
				this.overflow.tradeDropped(st, prevId, id, t.timestamp);
				continue;
			}
			st.stats.trades++;
			if (st.overflow.trade) this.overflow.endTradeOverflow(st, id, t.timestamp);
		}
		// The first trade frame after a reconnect (Kraken sends the snapshot first) ends the disconnect gap.
		for (const st of syms.values()) {
			if (!st.pending || st.pending.toMs === null) continue;
			if (type !== "snapshot" && !snapshotIds.has(st)) continue;
			if (type === "snapshot" && !trades.some((t) => t.symbol === st.ws)) continue;
			this.gaps.closeDisconnectGap(st, snapshotIds.get(st) ?? new Set());
		}
	}

	onTickers(tickers: WsTicker[], recvTime: string, recvMs: number): void {
		for (const t of tickers) {
			const st = this.subscribed(t.symbol, recvMs, t.timestamp);
			if (!st) continue;
			const q = quoteItem(t, recvTime, this.quoteSeq, this.ctx.precision.get(st.ws));
			if (!q) {
				st.stats.quotesRepeated++;
				continue;
			}
			const accepted = this.ctx.publisher.quote(st.topics.ticker, VENUE, st.symbol, q);
			if (accepted) st.stats.quotes++;
			this.overflow.quoteAccepted(st, accepted, q.time);
		}
	}

	onBooks(type: "snapshot" | "update", books: WsBook[], recvTime: string, recvMs: number): void {
		const opts = this.ctx.opts;
		for (const b of books) {
			const st = this.subscribed(b.symbol, recvMs, b.timestamp);
			if (!st) continue;
			const prec = this.ctx.precision.get(st.ws);
			if (!prec) {
				this.ctx.warnOnce(`noprec:${st.ws}`, `${st.ws} book data before its precision is known: dropped`);
				continue;
			}
			if (type === "snapshot") {
				st.book = new L2Book(opts.bookDepth, prec);
				st.book.applySnapshot(b);
				st.resubscribing = false;
			} else {
				if (!st.book?.ready || st.resubscribing) continue; // a stale update between reset and the new snapshot
				st.book.applyUpdate(b);
			}
			st.book.time = b.timestamp ?? recvTime;
			st.book.recvTime = recvTime;
			const ok = st.book.checksum() === Number(b.checksum);
			st.stats.bookMessages++;
			const accepted = this.ctx.publisher.payload(
				st.topics.book,
				VENUE,
				st.symbol,
				Buffer.from(
					JSON.stringify({
						v: 1,
						kind: "book",
						venue: VENUE,
						symbol: st.symbol,
						venueSymbol: st.ws,
						type,
						time: b.timestamp ?? recvTime,
						recvTime,
						checksum: Number(b.checksum),
						verified: ok,
						bids: b.bids.map((l) => [renderDecimal(l.price, prec.price), renderDecimal(l.qty, prec.qty)]),
						asks: b.asks.map((l) => [renderDecimal(l.price, prec.price), renderDecimal(l.qty, prec.qty)]),
					}),
				),
				{ droppable: true },
			);
			this.overflow.bookAccepted(st, accepted, b.timestamp ?? recvTime);
			if (!accepted || st.resubscribing) continue;
			if (ok) {
				st.stats.checksumOk++;
				st.mismatchRun = 0;
				if (type === "snapshot") this.gaps.markBookGapRepaired(st);
				continue;
			}
			st.stats.checksumMismatch++;
			this.ctx.monitor.checksumMismatches++;
			st.mismatchRun++;
			this.ctx.count("checksum_mismatches", 1, { symbol: st.symbol });
			opts.logger.warn(`${st.ws} book checksum mismatch (${st.mismatchRun} in a row): expected ${b.checksum}, computed ${st.book.checksum()}`);
			if (st.mismatchRun >= opts.checksumMismatchLimit) this.resubscribeBook(st.ws, `${st.mismatchRun} checksum mismatches in a row`);
		}
	}
}
