import { encodeEnvelope, tradeEnvelope } from "../../domain/codec";
import { marketTopic } from "../../domain/topics";
import type { TradeItem } from "../../domain/types";
import { closeGapRow, NO_LEDGER, openGapRow, repairedGapRow } from "../../feed/gap-ledger";
import { GapRepairer, type RepairJob } from "./gap-repair";
import { renderDecimal } from "./precision";
import type { KrakenStreamOptions, StreamContext } from "./stream-context";
import { VENUE, type LiveBound, type SymState } from "./symbol-state";

/**
 * The gaps of one Kraken session: outages (a disconnect, a watchdog timeout, a failed connect) and trade-id
 * jumps become feed_gaps rows and markers; a disconnect's trade gap is handed to REST repair once the first
 * trade frame after the reconnect bounds it, and an id jump at once. Repaired trades are published here, bounded
 * by the ids the socket delivered; a book's gap is repaired by its next verified snapshot.
 */

const CHANNELS_ON_DISCONNECT = ["trade", "ticker", "book"] as const;

export class GapTracker {
	readonly repairer: GapRepairer | null;
	private get opts(): KrakenStreamOptions {
		return this.ctx.opts;
	}
	/** feed_gaps row of each symbol's book channel, open since the last disconnect. */
	private bookGaps = new Map<string, Promise<string | null>>();
	/** Repair jobs of gaps without an end id, with the first id the socket delivered after them. */
	private liveAfter = new WeakMap<RepairJob, LiveBound>();

	constructor(private readonly ctx: StreamContext) {
		const opts = ctx.opts;
		this.repairer = opts.rest
			? new GapRepairer({
					rest: opts.rest,
					ledger: opts.ledger ?? NO_LEDGER,
					publish: (job, trades) => this.publishRepaired(job, trades),
					store: opts.store,
					repairedBy: "kraken-rest-trades",
					logger: opts.logger,
					onRepaired: (job, r) => {
						this.settle(job);
						this.ctx.count("gaps_repaired");
						this.opts.logger.info(`gap ${job.ledgerId ?? "-"} for ${job.symbol} repaired: ${r.trades.length} trades from ${r.pages} REST page(s)`);
						this.opts.onGapRepaired?.({ symbol: job.symbol, gapId: job.ledgerId, trades: r.trades.length });
					},
					onFailed: (job) => {
						this.settle(job);
						this.ctx.count("gap_repair_failures");
					},
				})
			: null;
	}

	// ---- outages ----

	/** Gap rows (trade, ticker, book) and disconnect markers for every symbol not already inside an outage. */
	openOutage(fromMs: number, cause: string, reason: string): void {
		const from = new Date(fromMs).toISOString();
		for (const st of this.ctx.syms.values()) {
			st.book?.reset();
			if (st.pending) continue; // still down from an earlier drop: that gap covers this one too
			this.ctx.marker(st, "disconnect", from, { reason, cause });
			const ids: Promise<Record<string, string | null>> = Promise.all(
				CHANNELS_ON_DISCONNECT.map((channel) => this.openLedger({ symbol: st.symbol, channel, fromTime: from, toTime: null, cause, detail: { reason, lastTradeId: st.lastTradeId?.toString() ?? null } })),
			).then((r) => Object.fromEntries(CHANNELS_ON_DISCONNECT.map((c, i) => [c, r[i]])));
			this.ctx.stats.gapsOpened++;
			st.stats.gaps++;
			this.ctx.monitor.gapOpened(st.symbol);
			this.bookGaps.set(st.ws, ids.then((r) => r.book ?? null));
			st.pending = { ledgerIds: ids, fromMs, toMs: null, afterId: st.lastTradeId, afterMs: st.lastTradeTime ? Date.parse(st.lastTradeTime) : null };
		}
	}

	/**
	 * The socket is open again at `now`: a symbol's outage rows end there and it gets a reconnect marker. Its trade
	 * gap stays pending until the first trade frame (closeDisconnectGap) tells which ids REST must fill.
	 */
	reconnected(st: SymState, now: number): void {
		if (st.pending && st.pending.toMs === null) {
			st.pending.toMs = now;
			const pending = st.pending;
			const to = new Date(now).toISOString();
			void pending.ledgerIds.then((ids) => Promise.all(Object.values(ids).map((id) => closeGapRow(this.opts.ledger, id, to, this.opts.logger))));
			this.ctx.marker(st, "reconnect", to, {});
		}
	}

	closeDisconnectGap(st: SymState, seen: Set<string>): void {
		const p = st.pending!;
		st.pending = null;
		if (!this.repairer) return;
		// The oldest new id the socket delivered ends the gap by id: the reconnect time alone (our clock, not
		// Kraken's) could let REST re-send trades the socket delivered after the snapshot.
		let beforeId: bigint | null = null;
		for (const s of seen) {
			const id = BigInt(s);
			if ((p.afterId === null || id > p.afterId) && (beforeId === null || id < beforeId)) beforeId = id;
		}
		// Without an end id (an empty snapshot) the gap ends at our reconnect time; the first id the socket
		// delivers from now on bounds it by Kraken's ids when the repaired trades are published (publishRepaired).
		const live: LiveBound | null = beforeId === null ? { firstId: null, settled: false } : null;
		if (live) st.liveAfterGap.push(live);
		void p.ledgerIds.then((ids) => {
			const job: RepairJob = {
				ledgerId: ids.trade ?? null,
				symbol: st.symbol,
				gap: { wsSymbol: st.ws, fromMs: Math.min(p.fromMs, p.afterMs ?? Infinity), toMs: p.toMs!, afterId: p.afterId, beforeId, seen },
			};
			if (live) this.liveAfter.set(job, live);
			this.repairer!.enqueue(job);
		});
	}

	// ---- trade-id gaps ----

	openIdGap(st: SymState, afterId: bigint, beforeId: bigint, from: string, to: string, cause = "trade-id-jump", detail: Record<string, unknown> = {}): void {
		this.ctx.stats.gapsOpened++;
		st.stats.gaps++;
		this.ctx.monitor.gapOpened(st.symbol);
		if (cause === "trade-id-jump") {
			this.ctx.count("trade_id_gaps");
			this.opts.logger.warn(`${st.ws}: trade id jumped from ${afterId} to ${beforeId}; repairing ${beforeId - afterId - 1n} trade(s) from REST`);
		}
		this.ctx.marker(st, "gap", to, { afterId: afterId.toString(), beforeId: beforeId.toString(), ...detail }, "trades");
		const ledgerId = this.openLedger({ symbol: st.symbol, channel: "trade", fromTime: from, toTime: to, cause, detail: { afterId: afterId.toString(), beforeId: beforeId.toString(), ...detail } });
		if (!this.repairer) return;
		void ledgerId.then((id) =>
			this.repairer!.enqueue({ ledgerId: id, symbol: st.symbol, gap: { wsSymbol: st.ws, fromMs: Date.parse(from), toMs: Date.parse(to), afterId, beforeId } }),
		);
	}

	/** A feed_gaps row of this venue; null when there is no ledger or the insert failed (logged). */
	openLedger(g: { symbol: string; channel: string; fromTime: string; toTime: string | null; cause: string; detail: Record<string, unknown> }): Promise<string | null> {
		return openGapRow(this.opts.ledger, { venue: VENUE, ...g }, this.opts.logger);
	}

	// ---- books ----

	/** A book gap opened outside an outage (dropped book messages): repaired like a disconnect's by the next verified snapshot. */
	trackBookGap(ws: string, row: Promise<string | null>): void {
		this.bookGaps.set(ws, row);
	}

	/** After a disconnect the book channel is whole again once a fresh snapshot verified. */
	markBookGapRepaired(st: SymState): void {
		const p = this.bookGaps.get(st.ws);
		if (!p || !this.opts.ledger) return;
		this.bookGaps.delete(st.ws);
		void repairedGapRow(this.opts.ledger, p, "kraken-ws-book-snapshot", this.opts.logger);
	}

	// ---- repair ----

	private settle(job: RepairJob): void {
		const bound = this.liveAfter.get(job);
		if (bound) bound.settled = true;
	}

	private async publishRepaired(job: RepairJob, trades: TradeItem[]): Promise<void> {
		const st = this.ctx.syms.get(job.gap.wsSymbol);
		if (st && job.gap.beforeId === null) {
			// A gap ended by our clock (no end id known): REST may hold trades the socket delivered since the
			// reconnect, under another time (a second row each), and the store may not have them yet. The socket's
			// ids are the authority, checked here in the same turn as onTrades: what it delivered from the first
			// id after the gap on is not published again, and what is published here it will not publish again.
			const bound = this.liveAfter.get(job);
			const first = bound?.firstId ?? null;
			if (bound) bound.settled = true;
			if (first !== null) trades = trades.filter((t) => BigInt(t.tradeId) < first);
			for (const t of trades) {
				const id = BigInt(t.tradeId);
				if (st.lastTradeId === null || id > st.lastTradeId) st.lastTradeId = id;
			}
			if (!trades.length) return;
		}
		const prec = this.ctx.precision.get(job.gap.wsSymbol);
		const topic = marketTopic("crypto", VENUE, job.gap.wsSymbol, "trades");
		const items = trades.map((t) => (prec ? { ...t, price: renderDecimal(t.price, prec.price), qty: renderDecimal(t.qty, prec.qty) } : t));
		const payloads: Buffer[] = [];
		for (let i = 0; i < items.length; i += 1000) payloads.push(encodeEnvelope(tradeEnvelope(VENUE, job.symbol, items.slice(i, i + 1000))));
		await this.opts.log.publish(topic, job.symbol, payloads);
		if (st) st.stats.trades += items.length;
		this.ctx.count("trades_repaired", items.length);
	}
}
