import { isoUtc } from "../../domain/time";
import type { Marker } from "../../domain/types";
import { FloodGuard } from "../../feed/flood-guard";
import { markerPayload } from "../../feed/markers";
import { BatchPublisher } from "../../feed/publisher";
import { FeedMonitor } from "../../feed/status";
import { ChannelItems } from "./channel-items";
import { KrakenFeed, type CloseInfo } from "./feed";
import type { GapRepairer } from "./gap-repair";
import { GapTracker } from "./gaps";
import type { WsStatus } from "./messages";
import { PublishOverflow } from "./overflow";
import { decodeFrame, type Precision } from "./parse";
import type { KrakenStreamOptions, StreamContext, StreamStats } from "./stream-context";
import { Subscriptions } from "./subscriptions";
import { newSymState, VENUE, type SymState } from "./symbol-state";
import { wsSymbol } from "./symbols";

/**
 * One Kraken v2 session: subscriptions, normalization, books, markers, gap detection and repair.
 * Frames come from KrakenFeed (or a recording through `handleFrame`); everything produced goes to
 * the market-data log. The moleculer service only builds and starts this.
 *
 * This class is the session itself (lifecycle, frame dispatch, connection events, the public API); its parts
 * share a StreamContext (./stream-context): Subscriptions (./subscriptions), ChannelItems (./channel-items) for
 * the trade, ticker and book items, GapTracker (./gaps) for outages, id gaps and REST repair, and
 * PublishOverflow (./overflow) for items the log refused.
 */


export interface LiveBookSnapshot {
	wsSymbol: string;
	symbol: string;
	time: string;
	recvTime: string;
	checksum: number;
	bids: [string, string][];
	asks: [string, string][];
}

export class KrakenStream {
	readonly feed: KrakenFeed;
	readonly publisher: BatchPublisher;
	readonly repairer: GapRepairer | null;
	readonly monitor: FeedMonitor;
	private startedMs = Date.now();
	private syms = new Map<string, SymState>();
	private precision = new Map<string, Precision>();
	private readonly floods = new FloodGuard(() => this.opts.logger);
	private readonly subs: Subscriptions;
	private readonly items: ChannelItems;
	private readonly gaps: GapTracker;
	private readonly overflow: PublishOverflow;
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
		const ctx: StreamContext = {
			opts,
			syms: this.syms,
			precision: this.precision,
			stats: this.stats,
			publisher: this.publisher,
			monitor: this.monitor,
			count: (name, n, labels) => this.count(name, n, labels),
			warnOnce: (key, msg) => this.warnOnce(key, msg),
			marker: (st, type, time, detail, only) => this.marker(st, type, time, detail, only),
		};
		this.gaps = new GapTracker(ctx);
		this.repairer = this.gaps.repairer;
		this.subs = new Subscriptions(ctx, this.feed, this.gaps);
		const resubscribeBook = (ws: string, reason: string) => this.subs.resubscribeBook(ws, reason);
		this.overflow = new PublishOverflow(ctx, this.gaps, resubscribeBook);
		this.items = new ChannelItems(ctx, this.gaps, this.overflow, resubscribeBook);
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
					if (this.feed.connected) this.subs.subscribeBooks(this.symbols);
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
		await Promise.all([...this.syms.values()].map((st) => this.overflow.endOverflowOnStop(st)));
		await this.opts.recorder?.close();
		this.monitor.stopped();
	}

	/** Add symbols at run time; resolves with those that were new. */
	subscribe(symbols: string[]): string[] {
		const added = symbols.map((s) => wsSymbol(s)).filter((ws) => !this.syms.has(ws));
		for (const ws of added) this.addSymbol(ws);
		if (added.length && this.feed.connected) this.subs.subscribeChannels(added);
		return added;
	}

	/** Remove symbols at run time; resolves with those that were subscribed. */
	unsubscribe(symbols: string[]): string[] {
		const removed = symbols.map((s) => wsSymbol(s)).filter((ws) => this.syms.has(ws));
		if (!removed.length) return [];
		if (this.feed.connected) this.subs.unsubscribeChannels(removed);
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
		const recvTime = isoUtc(recvMs);
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
				return this.items.onTrades(f.type, f.trades, recvTime, recvMs);
			case "ticker":
				return this.items.onTickers(f.tickers, recvTime, recvMs);
			case "book":
				return this.items.onBooks(f.type, f.books, recvTime, recvMs);
			case "instrument":
				return this.subs.onInstruments(f.pairs);
			case "status":
				return this.onStatus(f.statuses);
			case "reply":
				return this.subs.onReply(f.reply);
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
		this.subs.reset();
		for (const st of this.syms.values()) {
			st.bookRequested = false;
			st.resubscribing = false;
			this.gaps.reconnected(st, now);
		}
		this.opts.logger.info(`connected to ${this.opts.feed.url}; subscribing ${this.symbols.join(", ") || "(no symbols)"}`);
		this.subs.subscribeInstruments();
		this.subs.subscribeChannels(this.symbols);
	}

	private onClose(info: CloseInfo): void {
		this.stats.disconnects++;
		this.count("disconnects", 1, { cause: info.watchdog ? "watchdog" : "disconnect" });
		const fromMs = info.lastFrameMs ?? Date.now();
		this.monitor.disconnected(info.reason, fromMs);
		this.gaps.openOutage(fromMs, info.watchdog ? "watchdog" : "disconnect", info.reason);
		this.opts.onDisconnect?.({ reason: info.reason, symbols: this.symbols, from: new Date(fromMs).toISOString(), watchdog: info.watchdog });
	}

	/**
	 * A connection attempt failed. A feed that should be streaming and cannot connect is an outage from its last
	 * frame (or from the start when it never connected): opened in the ledger once, closed by the next open.
	 */
	private onConnectFailed(reason: string): void {
		const fromMs = this.feed.lastFrameAt ?? this.startedMs;
		this.monitor.connectFailed(reason, fromMs);
		this.gaps.openOutage(fromMs, "connect-failed", reason);
	}

	private onStatus(statuses: WsStatus[]): void {
		for (const s of statuses) {
			this.stats.status = s;
			const line = `Kraken status: system ${s.system}, api ${s.api_version ?? "?"}, version ${s.version ?? "?"}`;
			if (s.system === "online") this.opts.logger.info(line);
			else this.opts.logger.warn(`${line}: market data may stop until it is online again`);
		}
	}

	private addSymbol(s: string): void {
		const st = newSymState(s);
		this.syms.set(st.ws, st);
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
