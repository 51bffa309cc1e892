import type { GapTracker } from "./gaps";
import type { StreamContext } from "./stream-context";
import type { SymState } from "./symbol-state";
import { closeGapRow } from "../../feed/gap-ledger";

/**
 * Items the publisher refused (the log away for longer than its buffers last), per channel: a run of dropped
 * trades is an id gap repaired from REST, a run of dropped quotes a ticker feed_gaps row (quotes cannot be fetched
 * again), and a book that lost messages is resubscribed for a fresh snapshot. Each run ends at the next item
 * the publisher accepts (or at stop).
 */
export class PublishOverflow {
	constructor(
		private readonly ctx: StreamContext,
		private readonly gaps: GapTracker,
		private readonly resubscribeBook: (ws: string, reason: string) => void,
	) {}

	tradeDropped(st: SymState, prevId: bigint | null, id: bigint, time: string): void {
		this.ctx.count("items_dropped", 1, { channel: "trade" });
		const o = st.overflow.trade;
		if (o) {
			o.lastId = id;
			o.lastTime = time;
			o.n++;
			return;
		}
		st.overflow.trade = { afterId: prevId, fromTime: time, lastId: id, lastTime: time, n: 1 };
		this.ctx.opts.logger.error(`${st.ws}: the log is refusing trades and ${this.ctx.publisher.pending} items are held: dropping new trades from id ${id}; they are fetched back from REST once the log takes trades again`);
	}

	/** The first trade accepted after a run of dropped ones: the run is an id gap, repaired from REST. */
	endTradeOverflow(st: SymState, id: bigint, time: string): void {
		const o = st.overflow.trade!;
		st.overflow.trade = null;
		this.ctx.opts.logger.warn(`${st.ws}: the log takes trades again; ${o.n} dropped trade(s) (ids ${o.afterId === null ? "?" : o.afterId + 1n}..${o.lastId}) are repaired from REST`);
		const afterId = o.afterId ?? o.lastId - BigInt(o.n);
		this.gaps.openIdGap(st, afterId, id, o.fromTime, time, "publish-overflow", { dropped: o.n });
	}

	/** Trades dropped while the log was away, whose run no accepted trade ended: at least on record for repair. */
	async endOverflowOnStop(st: SymState): Promise<void> {
		const o = st.overflow.trade;
		st.overflow.trade = null;
		if (!o) return;
		this.ctx.opts.logger.error(`${st.ws}: ${o.n} trade(s) dropped while the log was away (ids up to ${o.lastId}) are recorded in feed_gaps for repair`);
		await this.gaps.openLedger({ symbol: st.symbol, channel: "trade", fromTime: o.fromTime, toTime: o.lastTime, cause: "publish-overflow", detail: { afterId: o.afterId?.toString() ?? null, lastDroppedId: o.lastId.toString(), dropped: o.n } });
	}

	/** Quotes cannot be fetched again: a run of dropped ones is a feed_gaps row of the ticker channel. */
	quoteAccepted(st: SymState, accepted: boolean, time: string): void {
		if (!accepted) {
			this.ctx.count("items_dropped", 1, { channel: "ticker" });
			if (!st.overflow.ticker) st.overflow.ticker = this.gaps.openLedger({ symbol: st.symbol, channel: "ticker", fromTime: time, toTime: null, cause: "publish-overflow", detail: {} });
			return;
		}
		const row = st.overflow.ticker;
		if (!row) return;
		st.overflow.ticker = null;
		void closeGapRow(this.ctx.opts.ledger, row, time, this.ctx.opts.logger);
	}

	/** A book that lost messages is wrong until a fresh snapshot: resubscribed once the log takes messages again. */
	bookAccepted(st: SymState, accepted: boolean, time: string): void {
		if (!accepted) {
			this.ctx.count("items_dropped", 1, { channel: "book" });
			if (st.overflow.book) return;
			st.overflow.book = true;
			// The verified snapshot after the resubscription marks it repaired (markBookGapRepaired).
			this.gaps.trackBookGap(st.ws, this.gaps.openLedger({ symbol: st.symbol, channel: "book", fromTime: time, toTime: null, cause: "publish-overflow", detail: {} }));
			return;
		}
		if (!st.overflow.book) return;
		st.overflow.book = false;
		this.resubscribeBook(st.ws, "book messages were dropped while the log was away");
	}
}
