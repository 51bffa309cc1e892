import type { KrakenFeed } from "./feed";
import type { GapTracker } from "./gaps";
import type { SubscribeParams, WsMethodReply, WsPair } from "./messages";
import { precisionOf } from "./parse";
import type { StreamContext } from "./stream-context";

/**
 * The subscriptions of one Kraken session: trade, ticker and book channels per pair (a book once the pair's
 * precision is known, for its checksum), the instrument channel for precisions, a book resubscribed on its own
 * (unsubscribe, then subscribe once Kraken confirmed), and the replies to every request.
 */

/** How long after a trade subscription ack its snapshot may take before a reconnect gap is closed without it. */
const TRADE_SNAPSHOT_WAIT_MS = 2000;

export class Subscriptions {
	private requests = new Map<number, { method: string; channel: string; symbols: string[] }>();

	constructor(
		private readonly ctx: StreamContext,
		private readonly feed: KrakenFeed,
		private readonly gaps: GapTracker,
	) {}

	/** A new connection: the previous socket's requests get no replies any more. */
	reset(): void {
		this.requests.clear();
	}

	subscribeInstruments(): void {
		this.request("subscribe", { channel: "instrument", snapshot: true });
	}

	subscribeChannels(symbols: string[]): void {
		if (!symbols.length) return;
		this.request("subscribe", { channel: "trade", symbol: symbols, snapshot: true });
		this.request("subscribe", { channel: "ticker", symbol: symbols, event_trigger: "bbo", snapshot: true });
		this.subscribeBooks(symbols);
	}

	/** Books need the pair's precision for their checksums: subscribe those whose precision is known. */
	subscribeBooks(symbols: string[]): void {
		const ready = symbols.filter((ws) => {
			const st = this.ctx.syms.get(ws);
			return st && !st.bookRequested && this.ctx.precision.has(ws);
		});
		if (!ready.length) return;
		for (const ws of ready) this.ctx.syms.get(ws)!.bookRequested = true;
		this.request("subscribe", { channel: "book", symbol: ready, depth: this.ctx.opts.bookDepth, snapshot: true });
	}

	/** Unsubscribe the channels of pairs that are still in the stream's symbols (they are removed after this). */
	unsubscribeChannels(removed: string[]): void {
		this.request("unsubscribe", { channel: "trade", symbol: removed });
		this.request("unsubscribe", { channel: "ticker", symbol: removed, event_trigger: "bbo" });
		const books = removed.filter((ws) => this.ctx.syms.get(ws)!.bookRequested);
		if (books.length) this.request("unsubscribe", { channel: "book", symbol: books, depth: this.ctx.opts.bookDepth });
	}

	private request(method: "subscribe" | "unsubscribe", params: SubscribeParams): void {
		const req_id = this.feed.nextReqId();
		this.requests.set(req_id, { method, channel: params.channel, symbols: params.symbol ?? [] });
		this.feed.send({ method, params, req_id });
	}

	/** Resubscribe one symbol's book on the same socket (the other symbols are not touched). */
	resubscribeBook(ws: string, reason: string): void {
		const st = this.ctx.syms.get(ws);
		if (!st || st.resubscribing) return;
		st.stats.bookResubscribes++;
		this.ctx.count("book_resubscribes");
		this.ctx.opts.logger.warn(`resubscribing the ${ws} book: ${reason}`);
		st.book?.reset();
		st.mismatchRun = 0;
		st.resubscribing = true;
		this.ctx.marker(st, "book-reset", new Date().toISOString(), { reason }, "book");
		this.request("unsubscribe", { channel: "book", symbol: [ws], depth: this.ctx.opts.bookDepth });
	}

	onReply(r: WsMethodReply): void {
		const stats = this.ctx.stats;
		if (r.method === "pong") {
			stats.pongs++;
			return;
		}
		const reqId = r.req_id !== undefined ? Number(r.req_id) : NaN;
		const req = this.requests.get(reqId);
		const channel = r.result?.channel ?? req?.channel ?? "?";
		const symbol = r.result?.symbol ?? r.symbol;
		if (r.success === false) {
			stats.subscribeErrors++;
			const msg = `${r.method} ${channel}${symbol ? " " + symbol : ""} failed: ${r.error ?? "no reason given"}`;
			stats.lastErrors = [...stats.lastErrors.slice(-19), msg];
			this.ctx.count("subscribe_errors", 1, { channel });
			this.ctx.opts.logger.warn(msg);
		}
		if (r.method === "subscribe" && channel === "trade" && r.success !== false) {
			// A pair without recent trades gets an empty snapshot that names no symbol: close its gap anyway.
			const targets = symbol ? [String(symbol)] : (req?.symbols ?? []);
			setTimeout(() => {
				for (const ws of targets) {
					const st = this.ctx.syms.get(ws);
					if (st?.pending && st.pending.toMs !== null) this.gaps.closeDisconnectGap(st, new Set());
				}
			}, TRADE_SNAPSHOT_WAIT_MS).unref();
		}
		if (r.method === "unsubscribe" && channel === "book") {
			// The second half of a book resubscription: subscribe again once Kraken confirmed the unsubscribe.
			const targets = symbol ? [String(symbol)] : (req?.symbols ?? []);
			for (const ws of targets) {
				const st = this.ctx.syms.get(ws);
				if (st?.resubscribing) {
					st.resubscribing = false;
					st.bookRequested = false;
					this.subscribeBooks([ws]);
				}
			}
		}
	}

	/** Precisions from the instrument channel; a changed one resubscribes that book, a new one lets it subscribe. */
	onInstruments(pairs: WsPair[]): void {
		const changed: string[] = [];
		for (const p of pairs) {
			const prec = precisionOf(p);
			const old = this.ctx.precision.get(p.symbol);
			this.ctx.precision.set(p.symbol, prec);
			const st = this.ctx.syms.get(p.symbol);
			if (!st) continue;
			if (old && (old.price !== prec.price || old.qty !== prec.qty) && st.book) {
				st.book.precision = prec;
				this.resubscribeBook(p.symbol, `precision changed to ${prec.price}/${prec.qty}`);
			}
			changed.push(p.symbol);
		}
		if (this.feed.connected) this.subscribeBooks(changed);
	}
}
