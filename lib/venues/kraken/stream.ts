import { encodeEnvelope, fastIsoMs, tradeEnvelope } from "../../domain/codec";
import { marketTopic } from "../../domain/topics";
import type { Marker, TradeItem } from "../../domain/types";
import { NO_LEDGER, type GapLedger } from "../../feed/gap-ledger";
import { markerPayload } from "../../feed/markers";
import { BatchPublisher } from "../../feed/publisher";
import { FeedMonitor } from "../../feed/status";
import type { MarketLog } from "../../log/types";
import type { Queryable } from "../../store/migrate";
import { L2Book } from "./book";
import { KrakenFeed, type CloseInfo, type FeedOptions } from "./feed";
import { GapRepairer, type RepairJob, type TradePager } from "./gap-repair";
import type { SubscribeParams, WsBook, WsMethodReply, WsPair, WsStatus, WsTicker, WsTrade } from "./messages";
import { decodeFrame, precisionOf, quoteItem, QuoteSeq, tradeItem, type Precision, type RejectCategory } from "./parse";
import { renderDecimal } from "./precision";
import type { FrameRecorder } from "./recorder";
import { canonicalSymbol, wsSymbol } from "./symbols";
import type { StreamLogger } from "../../feed/logger";
import { FloodGuard } from "../../feed/flood-guard";

/**
 * One Kraken v2 session: subscriptions, normalization, books, markers, gap detection and repair.
 * Frames come from KrakenFeed (or a recording through `handleFrame`); everything produced goes to
 * the market-data log. The moleculer service only builds and starts this.
 */

export const VENUE = "kraken";


export interface KrakenStreamOptions {
	symbols: string[];
	bookDepth: number;
	log: MarketLog;
	feed: FeedOptions;
	/** Gap ledger (feed_gaps); null records nothing. */
	ledger: GapLedger | null;
	/** REST for gap repair and precisions; null disables repair. */
	rest: (TradePager & { loadAssetPairs?(): Promise<Map<string, { precision: Precision }>> }) | null;
	/** The trades table: repaired trades whose id is already stored (under the socket's time) are not published again. */
	store?: Queryable | null;
	flushMs: number;
	maxBatchItems: number;
	/**
	 * Items held at most while the log refuses them (default unbounded). Past it, new trades, quotes and book
	 * messages are dropped and recorded in feed_gaps (cause "publish-overflow"): dropped trades are then fetched
	 * back from REST like any id gap, a book gets a fresh snapshot.
	 */
	maxPending?: number;
	/** Consecutive checksum mismatches after which that symbol's book is resubscribed. */
	checksumMismatchLimit: number;
	logger: StreamLogger;
	recorder?: FrameRecorder | null;
	/** Counter hook for metrics (name, amount, labels). */
	count?(name: string, n: number, labels?: Record<string, string>): void;
	/** Control-plane notifications (the service turns them into Moleculer events). */
	onDisconnect?(info: { reason: string; symbols: string[]; from: string; watchdog: boolean }): void;
	onGapRepaired?(info: { symbol: string; gapId: string | null; trades: number }): void;
	/** Called first on stop (the service aborts REST calls in flight with it). */
	onStop?(): void;
	/** Feed state for /api/feeds and the mdp_feed_* metrics; one is made when not given. */
	monitor?: FeedMonitor;
}

interface PendingGap {
	ledgerIds: Promise<Record<string, string | null>>;
	fromMs: number;
	toMs: number | null;
	afterId: bigint | null;
	/** Kraken's time of the trade `afterId` (ms): REST pages by Kraken's clock, the frame times are ours. */
	afterMs: number | null;
}

/** The first trade id the socket delivered after a disconnect gap that has no end id; `settled` once its repair published or ended. */
interface LiveBound {
	firstId: bigint | null;
	settled: boolean;
}

interface TradeOverflow {
	/** Last trade id handed to the publisher before the run. */
	afterId: bigint | null;
	fromTime: string;
	lastId: bigint;
	lastTime: string;
	n: number;
}

interface SymState {
	ws: string;
	symbol: string;
	topics: { trades: string; ticker: string; book: string };
	book: L2Book | null;
	bookRequested: boolean;
	resubscribing: boolean;
	mismatchRun: number;
	lastTradeId: bigint | null;
	lastTradeTime: string | null;
	/** Set from a disconnect until the first trade frame after the reconnect (its ids are not fetched again). */
	pending: PendingGap | null;
	/**
	 * Disconnect gaps closed without an end id (an empty reconnect snapshot) that wait for the first id the socket
	 * delivers afterwards, which bounds what REST repair may publish for them.
	 */
	liveAfterGap: LiveBound[];
	/** Runs of items the publisher refused (log away, buffers full), per channel; ended by the next one accepted. */
	overflow: { trade: TradeOverflow | null; ticker: Promise<string | null> | null; book: boolean };
	stats: { trades: number; quotes: number; quotesRepeated: number; bookMessages: number; checksumOk: number; checksumMismatch: number; bookResubscribes: number; gaps: number };
}

export interface LiveBookSnapshot {
	wsSymbol: string;
	symbol: string;
	time: string;
	recvTime: string;
	checksum: number;
	bids: [string, string][];
	asks: [string, string][];
}

export interface StreamStats {
	frames: number;
	byChannel: Record<string, number>;
	rejected: Record<RejectCategory, number>;
	itemProblems: number;
	unsolicited: number;
	subscribeErrors: number;
	lastErrors: string[];
	pongs: number;
	status: WsStatus | null;
	disconnects: number;
	gapsOpened: number;
}

/** How long after a trade subscription ack its snapshot may take before a reconnect gap is closed without it. */
const TRADE_SNAPSHOT_WAIT_MS = 2000;

const CHANNELS_ON_DISCONNECT = ["trade", "ticker", "book"] as const;

export class KrakenStream {
	readonly feed: KrakenFeed;
	readonly publisher: BatchPublisher;
	readonly repairer: GapRepairer | null;
	readonly monitor: FeedMonitor;
	private startedMs = Date.now();
	private syms = new Map<string, SymState>();
	private precision = new Map<string, Precision>();
	private quoteSeq = new QuoteSeq();
	/** The receive time of the last frame, as a number and as text: frames of one burst share a millisecond. */
	private recvMs = NaN;
	private recvIso = "";
	private requests = new Map<number, { method: string; channel: string; symbols: string[] }>();
	private readonly floods = new FloodGuard(() => this.opts.logger);
	/** feed_gaps row of each symbol's book channel, open since the last disconnect. */
	private bookGaps = new Map<string, Promise<string | null>>();
	/** Repair jobs of gaps without an end id, with the first id the socket delivered after them. */
	private liveAfter = new WeakMap<RepairJob, LiveBound>();
	readonly stats: StreamStats = {
		frames: 0,
		byChannel: {},
		rejected: { malformed: 0, v1: 0, "unknown-channel": 0, error: 0 },
		itemProblems: 0,
		unsolicited: 0,
		subscribeErrors: 0,
		lastErrors: [],
		pongs: 0,
		status: null,
		disconnects: 0,
		gapsOpened: 0,
	};

	constructor(private readonly opts: KrakenStreamOptions) {
		for (const s of opts.symbols) this.addSymbol(s);
		this.publisher = new BatchPublisher(opts.log, {
			flushMs: opts.flushMs,
			maxItems: opts.maxBatchItems,
			maxPending: opts.maxPending,
			onError: (err, topic) => this.warnOnce(`publish:${topic}`, `publishing to ${topic} failed (kept for the next flush): ${err.message}`),
			onLost: (items, payloads) => {
				this.count("items_lost", items);
				this.opts.logger.error(`stopping: ${items} item(s) in ${payloads} message(s) could not be published (the log refused them) and are lost`);
			},
		});
		this.monitor = opts.monitor ?? new FeedMonitor(VENUE, "ws", () => this.snapshotSymbols());
		this.feed = new KrakenFeed(
			opts.feed,
			{
				onOpen: () => this.onOpen(),
				onFrame: (t, ms) => this.onFrame(t, ms),
				onClose: (i) => this.onClose(i),
				onConnecting: () => this.monitor.connecting(),
				onConnectFailed: (i) => this.onConnectFailed(i.reason),
			},
			opts.logger,
		);
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
						this.count("gaps_repaired");
						this.opts.logger.info(`gap ${job.ledgerId ?? "-"} for ${job.symbol} repaired: ${r.trades.length} trades from ${r.pages} REST page(s)`);
						this.opts.onGapRepaired?.({ symbol: job.symbol, gapId: job.ledgerId, trades: r.trades.length });
					},
					onFailed: (job) => {
						this.settle(job);
						this.count("gap_repair_failures");
					},
				})
			: null;
	}

	get symbols(): string[] {
		return [...this.syms.keys()];
	}

	/** The canonical symbols streamed ("BTC-USD-SPOT"). */
	snapshotSymbols(): string[] {
		return [...this.syms.values()].map((s) => s.symbol);
	}

	start(): void {
		this.startedMs = Date.now();
		this.publisher.start();
		this.feed.start();
		const rest = this.opts.rest;
		if (rest?.loadAssetPairs) {
			// Precisions from REST let books start before the instrument snapshot; loaded in the background
			// so an unreachable REST host never holds up the stream (the instrument channel has them too).
			rest.loadAssetPairs().then(
				(pairs) => {
					for (const [ws, p] of pairs) if (!this.precision.has(ws)) this.precision.set(ws, p.precision);
					if (this.feed.connected) this.subscribeBooks(this.symbols);
				},
				(err) => this.opts.logger.warn(`AssetPairs not loaded (${(err as Error).message}); precisions come from the instrument channel`),
			);
		}
	}

	async stop(): Promise<void> {
		this.opts.onStop?.();
		await this.feed.stop();
		// The repair in flight lets go before the log and the pool may close (its REST call was aborted by onStop).
		await this.repairer?.stop();
		await this.publisher.stop();
		// Trades dropped while the log was away, whose run no accepted trade ended: at least on record for repair.
		await Promise.all([...this.syms.values()].map((st) => this.endOverflowOnStop(st)));
		await this.opts.recorder?.close();
		this.monitor.stopped();
	}

	/** Add symbols at run time; resolves with those that were new. */
	subscribe(symbols: string[]): string[] {
		const added = symbols.map((s) => wsSymbol(s)).filter((ws) => !this.syms.has(ws));
		for (const ws of added) this.addSymbol(ws);
		if (added.length && this.feed.connected) this.subscribeChannels(added);
		return added;
	}

	/** Remove symbols at run time; resolves with those that were subscribed. */
	unsubscribe(symbols: string[]): string[] {
		const removed = symbols.map((s) => wsSymbol(s)).filter((ws) => this.syms.has(ws));
		if (!removed.length) return [];
		if (this.feed.connected) {
			this.request("unsubscribe", { channel: "trade", symbol: removed });
			this.request("unsubscribe", { channel: "ticker", symbol: removed, event_trigger: "bbo" });
			const books = removed.filter((ws) => this.syms.get(ws)!.bookRequested);
			if (books.length) this.request("unsubscribe", { channel: "book", symbol: books, depth: this.opts.bookDepth });
		}
		for (const ws of removed) this.syms.delete(ws);
		return removed;
	}

	/** Per-symbol and session counters (the service's `stats` action). */
	snapshot(): Record<string, unknown> {
		return {
			connected: this.feed.connected,
			feed: { ...this.feed.stats },
			...this.stats,
			publisher: { ...this.publisher.stats, pending: this.publisher.pending },
			repair: this.repairer ? { ...this.repairer.stats, pending: this.repairer.pending } : null,
			symbols: Object.fromEntries([...this.syms.values()].map((s) => [s.ws, { symbol: s.symbol, precision: this.precision.get(s.ws) ?? null, bookLevels: { bids: s.book?.bids.length ?? 0, asks: s.book?.asks.length ?? 0 }, lastTradeId: s.lastTradeId?.toString() ?? null, ...s.stats }])),
		};
	}

	/**
	 * The live book of a pair (v2 or standard name) while it is verified: connected, synced, and its last message's
	 * checksum matched. Null otherwise (for the REST fallback to answer).
	 */
	bookSnapshot(symbol: string): LiveBookSnapshot | null {
		const st = this.verifiedBookState(symbol);
		const book = st?.book;
		if (!st || !book?.time || !book.recvTime) return null;
		return { wsSymbol: st.ws, symbol: st.symbol, time: book.time, recvTime: book.recvTime, checksum: book.checksum(), ...book.levels() };
	}

	/** Whether bookSnapshot(symbol) has a book to give, without copying it. */
	hasVerifiedBook(symbol: string): boolean {
		return this.verifiedBookState(symbol) !== null;
	}

	private verifiedBookState(symbol: string): SymState | null {
		const st = this.syms.get(symbol) ?? [...this.syms.values()].find((s) => s.symbol === symbol);
		if (!st?.book?.ready || st.resubscribing || st.mismatchRun > 0 || !this.feed.connected) return null;
		return st;
	}

	/** Everything received goes through here: live frames and replayed recordings alike. */
	handleFrame(text: string, recvMs: number): void {
		this.stats.frames++;
		this.monitor.message(recvMs);
		if (recvMs !== this.recvMs) {
			this.recvMs = recvMs;
			this.recvIso = new Date(recvMs).toISOString();
		}
		const recvTime = this.recvIso;
		const f = decodeFrame(text);
		if (f.kind === "rejected") {
			this.stats.rejected[f.category]++;
			this.count("frames_rejected", 1, { reason: f.category });
			this.warnOnce(`rejected:${f.category}`, `frame rejected (${f.category}): ${f.reason}; frame: ${text.slice(0, 200)}`);
			return;
		}
		this.stats.byChannel[f.kind] = (this.stats.byChannel[f.kind] ?? 0) + 1;
		if ("problems" in f && f.problems.length) {
			this.stats.itemProblems += f.problems.length;
			this.count("items_rejected", f.problems.length, { channel: f.kind });
			this.warnOnce(`problem:${f.kind}`, `${f.kind} items rejected: ${f.problems.slice(0, 3).join("; ")}`);
		}
		switch (f.kind) {
			case "trade":
				return this.onTrades(f.type, f.trades, recvTime, recvMs);
			case "ticker":
				return this.onTickers(f.tickers, recvTime, recvMs);
			case "book":
				return this.onBooks(f.type, f.books, recvTime, recvMs);
			case "instrument":
				return this.onInstruments(f.pairs);
			case "status":
				return this.onStatus(f.statuses);
			case "reply":
				return this.onReply(f.reply);
			case "heartbeat":
				return;
		}
	}

	// ---- connection lifecycle ----

	private onFrame(text: string, recvMs: number): void {
		this.opts.recorder?.write(text, recvMs);
		this.handleFrame(text, recvMs);
	}

	private onOpen(): void {
		const now = Date.now();
		this.monitor.connected();
		this.requests.clear();
		for (const st of this.syms.values()) {
			st.bookRequested = false;
			st.resubscribing = false;
			if (st.pending && st.pending.toMs === null) {
				st.pending.toMs = now;
				const pending = st.pending;
				const to = new Date(now).toISOString();
				void pending.ledgerIds.then((ids) => Promise.all(Object.values(ids).map((id) => (id ? this.opts.ledger?.close(id, to) : undefined)))).catch((err) => this.opts.logger.warn(`feed_gaps close failed: ${(err as Error).message}`));
				this.marker(st, "reconnect", to, {});
			}
		}
		this.opts.logger.info(`connected to ${this.opts.feed.url}; subscribing ${this.symbols.join(", ") || "(no symbols)"}`);
		this.request("subscribe", { channel: "instrument", snapshot: true });
		this.subscribeChannels(this.symbols);
	}

	private onClose(info: CloseInfo): void {
		this.stats.disconnects++;
		this.count("disconnects", 1, { cause: info.watchdog ? "watchdog" : "disconnect" });
		const fromMs = info.lastFrameMs ?? Date.now();
		this.monitor.disconnected(info.reason, fromMs);
		this.openOutage(fromMs, info.watchdog ? "watchdog" : "disconnect", info.reason);
		this.opts.onDisconnect?.({ reason: info.reason, symbols: this.symbols, from: new Date(fromMs).toISOString(), watchdog: info.watchdog });
	}

	/**
	 * A connection attempt failed. A feed that should be streaming and cannot connect is an outage from its last
	 * frame (or from the start when it never connected): opened in the ledger once, closed by the next open.
	 */
	private onConnectFailed(reason: string): void {
		const fromMs = this.feed.lastFrameAt ?? this.startedMs;
		this.monitor.connectFailed(reason, fromMs);
		this.openOutage(fromMs, "connect-failed", reason);
	}

	/** Gap rows (trade, ticker, book) and disconnect markers for every symbol not already inside an outage. */
	private openOutage(fromMs: number, cause: string, reason: string): void {
		const from = new Date(fromMs).toISOString();
		for (const st of this.syms.values()) {
			st.book?.reset();
			if (st.pending) continue; // still down from an earlier drop: that gap covers this one too
			this.marker(st, "disconnect", from, { reason, cause });
			const ledger = this.opts.ledger;
			const ids: Promise<Record<string, string | null>> = ledger
				? Promise.all(
						CHANNELS_ON_DISCONNECT.map((channel) =>
							ledger
								.open({ venue: VENUE, symbol: st.symbol, channel, fromTime: from, toTime: null, cause, detail: { reason, lastTradeId: st.lastTradeId?.toString() ?? null } })
								.catch((err) => {
									this.opts.logger.warn(`feed_gaps insert failed: ${(err as Error).message}`);
									return null;
								}),
						),
					).then((r) => Object.fromEntries(CHANNELS_ON_DISCONNECT.map((c, i) => [c, r[i]])))
				: Promise.resolve({});
			this.stats.gapsOpened++;
			st.stats.gaps++;
			this.monitor.gapOpened(st.symbol);
			this.bookGaps.set(st.ws, ids.then((r) => r.book ?? null));
			st.pending = { ledgerIds: ids, fromMs, toMs: null, afterId: st.lastTradeId, afterMs: st.lastTradeTime ? Date.parse(st.lastTradeTime) : null };
		}
	}

	// ---- subscriptions ----

	private addSymbol(s: string): void {
		const ws = wsSymbol(s);
		this.syms.set(ws, {
			ws,
			symbol: canonicalSymbol(ws),
			topics: { trades: marketTopic("crypto", VENUE, ws, "trades"), ticker: marketTopic("crypto", VENUE, ws, "ticker"), book: marketTopic("crypto", VENUE, ws, "book") },
			book: null,
			bookRequested: false,
			resubscribing: false,
			mismatchRun: 0,
			lastTradeId: null,
			lastTradeTime: null,
			pending: null,
			liveAfterGap: [],
			overflow: { trade: null, ticker: null, book: false },
			stats: { trades: 0, quotes: 0, quotesRepeated: 0, bookMessages: 0, checksumOk: 0, checksumMismatch: 0, bookResubscribes: 0, gaps: 0 },
		});
	}

	private subscribeChannels(symbols: string[]): void {
		if (!symbols.length) return;
		this.request("subscribe", { channel: "trade", symbol: symbols, snapshot: true });
		this.request("subscribe", { channel: "ticker", symbol: symbols, event_trigger: "bbo", snapshot: true });
		this.subscribeBooks(symbols);
	}

	/** Books need the pair's precision for their checksums: subscribe those whose precision is known. */
	private subscribeBooks(symbols: string[]): void {
		const ready = symbols.filter((ws) => {
			const st = this.syms.get(ws);
			return st && !st.bookRequested && this.precision.has(ws);
		});
		if (!ready.length) return;
		for (const ws of ready) this.syms.get(ws)!.bookRequested = true;
		this.request("subscribe", { channel: "book", symbol: ready, depth: this.opts.bookDepth, snapshot: true });
	}

	private request(method: "subscribe" | "unsubscribe", params: SubscribeParams): void {
		const req_id = this.feed.nextReqId();
		this.requests.set(req_id, { method, channel: params.channel, symbols: params.symbol ?? [] });
		this.feed.send({ method, params, req_id });
	}

	/** Resubscribe one symbol's book on the same socket (the other symbols are not touched). */
	resubscribeBook(ws: string, reason: string): void {
		const st = this.syms.get(ws);
		if (!st || st.resubscribing) return;
		st.stats.bookResubscribes++;
		this.count("book_resubscribes");
		this.opts.logger.warn(`resubscribing the ${ws} book: ${reason}`);
		st.book?.reset();
		st.mismatchRun = 0;
		st.resubscribing = true;
		this.marker(st, "book-reset", new Date().toISOString(), { reason }, "book");
		this.request("unsubscribe", { channel: "book", symbol: [ws], depth: this.opts.bookDepth });
	}

	private onReply(r: WsMethodReply): void {
		if (r.method === "pong") {
			this.stats.pongs++;
			return;
		}
		const reqId = r.req_id !== undefined ? Number(r.req_id) : NaN;
		const req = this.requests.get(reqId);
		const channel = r.result?.channel ?? req?.channel ?? "?";
		const symbol = r.result?.symbol ?? r.symbol;
		if (r.success === false) {
			this.stats.subscribeErrors++;
			const msg = `${r.method} ${channel}${symbol ? " " + symbol : ""} failed: ${r.error ?? "no reason given"}`;
			this.stats.lastErrors = [...this.stats.lastErrors.slice(-19), msg];
			this.count("subscribe_errors", 1, { channel });
			this.opts.logger.warn(msg);
		}
		if (r.method === "subscribe" && channel === "trade" && r.success !== false) {
			// A pair without recent trades gets an empty snapshot that names no symbol: close its gap anyway.
			const targets = symbol ? [String(symbol)] : (req?.symbols ?? []);
			setTimeout(() => {
				for (const ws of targets) {
					const st = this.syms.get(ws);
					if (st?.pending && st.pending.toMs !== null) this.closeDisconnectGap(st, new Set());
				}
			}, TRADE_SNAPSHOT_WAIT_MS).unref();
		}
		if (r.method === "unsubscribe" && channel === "book") {
			// The second half of a book resubscription: subscribe again once Kraken confirmed the unsubscribe.
			const targets = symbol ? [String(symbol)] : (req?.symbols ?? []);
			for (const ws of targets) {
				const st = this.syms.get(ws);
				if (st?.resubscribing) {
					st.resubscribing = false;
					st.bookRequested = false;
					this.subscribeBooks([ws]);
				}
			}
		}
	}

	private onStatus(statuses: WsStatus[]): void {
		for (const s of statuses) {
			this.stats.status = s;
			const line = `Kraken status: system ${s.system}, api ${s.api_version ?? "?"}, version ${s.version ?? "?"}`;
			if (s.system === "online") this.opts.logger.info(line);
			else this.opts.logger.warn(`${line}: market data may stop until it is online again`);
		}
	}

	private onInstruments(pairs: WsPair[]): void {
		const changed: string[] = [];
		for (const p of pairs) {
			const prec = precisionOf(p);
			const old = this.precision.get(p.symbol);
			this.precision.set(p.symbol, prec);
			const st = this.syms.get(p.symbol);
			if (!st) continue;
			if (old && (old.price !== prec.price || old.qty !== prec.qty) && st.book) {
				st.book.precision = prec;
				this.resubscribeBook(p.symbol, `precision changed to ${prec.price}/${prec.qty}`);
			}
			changed.push(p.symbol);
		}
		if (this.feed.connected) this.subscribeBooks(changed);
	}

	// ---- data ----

	private onTrades(type: "snapshot" | "update", trades: WsTrade[], recvTime: string, recvMs: number): void {
		const snapshotIds = new Map<SymState, Set<string>>();
		for (const t of trades) {
			const st = this.syms.get(t.symbol);
			if (!st) {
				this.stats.unsolicited++;
				continue;
			}
			const item = tradeItem(t, recvTime, this.precision.get(st.ws));
			this.monitor.symbolMessage(st.symbol, recvMs, fastIsoMs(t.timestamp));
			const id = BigInt(t.trade_id);
			if (st.pending && st.pending.toMs !== null) {
				let seen = snapshotIds.get(st);
				if (!seen) snapshotIds.set(st, (seen = new Set()));
				seen.add(t.trade_id);
			} else if (st.lastTradeId !== null && id > st.lastTradeId + 1n && !st.pending && !st.liveAfterGap.some((h) => !h.settled)) {
				// (a jump right after a disconnect gap without an end id is that gap: its repair is bounded by this id)
				this.openIdGap(st, st.lastTradeId, id, st.lastTradeTime ?? t.timestamp, t.timestamp);
			}
			if (st.lastTradeId !== null && id <= st.lastTradeId) continue; // already published (a reconnect snapshot or a repair)
			const prevId = st.lastTradeId;
			st.lastTradeId = id;
			st.lastTradeTime = t.timestamp;
			if (st.liveAfterGap.length) {
				for (const h of st.liveAfterGap) h.firstId = id;
				st.liveAfterGap = [];
			}
			if (!this.publisher.trade(st.topics.trades, VENUE, st.symbol, item)) {
				this.tradeDropped(st, prevId, id, t.timestamp);
				continue;
			}
			st.stats.trades++;
			if (st.overflow.trade) this.endTradeOverflow(st, id, t.timestamp);
		}
		// The first trade frame after a reconnect (Kraken sends the snapshot first) ends the disconnect gap.
		for (const st of this.syms.values()) {
			if (!st.pending || st.pending.toMs === null) continue;
			if (type !== "snapshot" && !snapshotIds.has(st)) continue;
			if (type === "snapshot" && !trades.some((t) => t.symbol === st.ws)) continue;
			this.closeDisconnectGap(st, snapshotIds.get(st) ?? new Set());
		}
	}

	private closeDisconnectGap(st: SymState, seen: Set<string>): void {
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

	private openIdGap(st: SymState, afterId: bigint, beforeId: bigint, from: string, to: string, cause = "trade-id-jump", detail: Record<string, unknown> = {}): void {
		this.stats.gapsOpened++;
		st.stats.gaps++;
		this.monitor.gapOpened(st.symbol);
		if (cause === "trade-id-jump") {
			this.count("trade_id_gaps");
			this.opts.logger.warn(`${st.ws}: trade id jumped from ${afterId} to ${beforeId}; repairing ${beforeId - afterId - 1n} trade(s) from REST`);
		}
		this.marker(st, "gap", to, { afterId: afterId.toString(), beforeId: beforeId.toString(), ...detail }, "trades");
		const ledgerId = this.openLedger({ symbol: st.symbol, channel: "trade", fromTime: from, toTime: to, cause, detail: { afterId: afterId.toString(), beforeId: beforeId.toString(), ...detail } });
		if (!this.repairer) return;
		void ledgerId.then((id) =>
			this.repairer!.enqueue({ ledgerId: id, symbol: st.symbol, gap: { wsSymbol: st.ws, fromMs: Date.parse(from), toMs: Date.parse(to), afterId, beforeId } }),
		);
	}

	private settle(job: RepairJob): void {
		const bound = this.liveAfter.get(job);
		if (bound) bound.settled = true;
	}

	private openLedger(g: { symbol: string; channel: string; fromTime: string; toTime: string | null; cause: string; detail: Record<string, unknown> }): Promise<string | null> {
		if (!this.opts.ledger) return Promise.resolve(null);
		return this.opts.ledger.open({ venue: VENUE, ...g }).catch((err) => {
			this.opts.logger.warn(`feed_gaps insert failed: ${(err as Error).message}`);
			return null;
		});
	}

	// ---- items the publisher refused (the log away for longer than its buffers last) ----

	private tradeDropped(st: SymState, prevId: bigint | null, id: bigint, time: string): void {
		this.count("items_dropped", 1, { channel: "trade" });
		const o = st.overflow.trade;
		if (o) {
			o.lastId = id;
			o.lastTime = time;
			o.n++;
			return;
		}
		st.overflow.trade = { afterId: prevId, fromTime: time, lastId: id, lastTime: time, n: 1 };
		this.opts.logger.error(`${st.ws}: the log is refusing trades and ${this.publisher.pending} items are held: dropping new trades from id ${id}; they are fetched back from REST once the log takes trades again`);
	}

	/** The first trade accepted after a run of dropped ones: the run is an id gap, repaired from REST. */
	private endTradeOverflow(st: SymState, id: bigint, time: string): void {
		const o = st.overflow.trade!;
		st.overflow.trade = null;
		this.opts.logger.warn(`${st.ws}: the log takes trades again; ${o.n} dropped trade(s) (ids ${o.afterId === null ? "?" : o.afterId + 1n}..${o.lastId}) are repaired from REST`);
		const afterId = o.afterId ?? o.lastId - BigInt(o.n);
		this.openIdGap(st, afterId, id, o.fromTime, time, "publish-overflow", { dropped: o.n });
	}

	private async endOverflowOnStop(st: SymState): Promise<void> {
		const o = st.overflow.trade;
		st.overflow.trade = null;
		if (!o) return;
		this.opts.logger.error(`${st.ws}: ${o.n} trade(s) dropped while the log was away (ids up to ${o.lastId}) are recorded in feed_gaps for repair`);
		await this.openLedger({ symbol: st.symbol, channel: "trade", fromTime: o.fromTime, toTime: o.lastTime, cause: "publish-overflow", detail: { afterId: o.afterId?.toString() ?? null, lastDroppedId: o.lastId.toString(), dropped: o.n } });
	}

	/** Quotes cannot be fetched again: a run of dropped ones is a feed_gaps row of the ticker channel. */
	private quoteAccepted(st: SymState, accepted: boolean, time: string): void {
		if (!accepted) {
			this.count("items_dropped", 1, { channel: "ticker" });
			if (!st.overflow.ticker) st.overflow.ticker = this.openLedger({ symbol: st.symbol, channel: "ticker", fromTime: time, toTime: null, cause: "publish-overflow", detail: {} });
			return;
		}
		const row = st.overflow.ticker;
		if (!row) return;
		st.overflow.ticker = null;
		void row.then((id) => (id ? this.opts.ledger!.close(id, time) : undefined)).catch((err) => this.opts.logger.warn(`feed_gaps close failed: ${(err as Error).message}`));
	}

	/** A book that lost messages is wrong until a fresh snapshot: resubscribed once the log takes messages again. */
	private bookAccepted(st: SymState, accepted: boolean, time: string): void {
		if (!accepted) {
			this.count("items_dropped", 1, { channel: "book" });
			if (st.overflow.book) return;
			st.overflow.book = true;
			// The verified snapshot after the resubscription marks it repaired (markBookGapRepaired).
			this.bookGaps.set(st.ws, this.openLedger({ symbol: st.symbol, channel: "book", fromTime: time, toTime: null, cause: "publish-overflow", detail: {} }));
			return;
		}
		if (!st.overflow.book) return;
		st.overflow.book = false;
		this.resubscribeBook(st.ws, "book messages were dropped while the log was away");
	}

	private async publishRepaired(job: RepairJob, trades: TradeItem[]): Promise<void> {
		const st = this.syms.get(job.gap.wsSymbol);
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
		const prec = this.precision.get(job.gap.wsSymbol);
		const topic = marketTopic("crypto", VENUE, job.gap.wsSymbol, "trades");
		const items = trades.map((t) => (prec ? { ...t, price: renderDecimal(t.price, prec.price), qty: renderDecimal(t.qty, prec.qty) } : t));
		const payloads: Buffer[] = [];
		for (let i = 0; i < items.length; i += 1000) payloads.push(encodeEnvelope(tradeEnvelope(VENUE, job.symbol, items.slice(i, i + 1000))));
		await this.opts.log.publish(topic, job.symbol, payloads);
		if (st) st.stats.trades += items.length;
		this.count("trades_repaired", items.length);
	}

	private onTickers(tickers: WsTicker[], recvTime: string, recvMs: number): void {
		for (const t of tickers) {
			const st = this.syms.get(t.symbol);
			if (!st) {
				this.stats.unsolicited++;
				continue;
			}
			this.monitor.symbolMessage(st.symbol, recvMs, t.timestamp ? fastIsoMs(t.timestamp) : null);
			const q = quoteItem(t, recvTime, this.quoteSeq, this.precision.get(st.ws));
			if (!q) {
				st.stats.quotesRepeated++;
				continue;
			}
			const accepted = this.publisher.quote(st.topics.ticker, VENUE, st.symbol, q);
			if (accepted) st.stats.quotes++;
			this.quoteAccepted(st, accepted, q.time);
		}
	}

	private onBooks(type: "snapshot" | "update", books: WsBook[], recvTime: string, recvMs: number): void {
		for (const b of books) {
			const st = this.syms.get(b.symbol);
			if (!st) {
				this.stats.unsolicited++;
				continue;
			}
			this.monitor.symbolMessage(st.symbol, recvMs, b.timestamp ? fastIsoMs(b.timestamp) : null);
			const prec = this.precision.get(st.ws);
			if (!prec) {
				this.warnOnce(`noprec:${st.ws}`, `${st.ws} book data before its precision is known: dropped`);
				continue;
			}
			if (type === "snapshot") {
				st.book = new L2Book(this.opts.bookDepth, prec);
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
			const accepted = this.publisher.payload(
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
			this.bookAccepted(st, accepted, b.timestamp ?? recvTime);
			if (!accepted || st.resubscribing) continue;
			if (ok) {
				st.stats.checksumOk++;
				st.mismatchRun = 0;
				if (type === "snapshot") this.markBookGapRepaired(st);
				continue;
			}
			st.stats.checksumMismatch++;
			this.monitor.checksumMismatches++;
			st.mismatchRun++;
			this.count("checksum_mismatches", 1, { symbol: st.symbol });
			this.opts.logger.warn(`${st.ws} book checksum mismatch (${st.mismatchRun} in a row): expected ${b.checksum}, computed ${st.book.checksum()}`);
			if (st.mismatchRun >= this.opts.checksumMismatchLimit) this.resubscribeBook(st.ws, `${st.mismatchRun} checksum mismatches in a row`);
		}
	}

	/** After a disconnect the book channel is whole again once a fresh snapshot verified. */
	private markBookGapRepaired(st: SymState): void {
		const p = this.bookGaps.get(st.ws);
		if (!p || !this.opts.ledger) return;
		this.bookGaps.delete(st.ws);
		void p.then((id) => (id ? this.opts.ledger!.repaired(id, "kraken-ws-book-snapshot", {}) : undefined)).catch((err) => this.opts.logger.warn(`feed_gaps update failed: ${(err as Error).message}`));
	}

	private marker(st: SymState, type: Marker["type"], time: string, detail: Record<string, unknown>, only?: "trades" | "ticker" | "book"): void {
		const payload = markerPayload(VENUE, st.symbol, type, time, detail);
		for (const ch of ["trades", "ticker", "book"] as const) if (!only || only === ch) this.publisher.payload(st.topics[ch], VENUE, st.symbol, payload);
	}

	private count(name: string, n = 1, labels?: Record<string, string>): void {
		this.opts.count?.(name, n, labels);
	}

	/** The first occurrence of a kind of problem, then every 1000th (lib/feed/flood-guard). */
	private warnOnce(key: string, msg: string): void {
		this.floods.warn(key, msg);
	}
}
