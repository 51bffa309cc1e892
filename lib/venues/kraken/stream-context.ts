import type { Marker } from "../../domain/types";
import type { GapLedger } from "../../feed/gap-ledger";
import type { StreamLogger } from "../../feed/logger";
import type { BatchPublisher } from "../../feed/publisher";
import type { FeedMonitor } from "../../feed/status";
import type { MarketLog } from "../../log/types";
import type { Queryable } from "../../store/migrate";
import type { FeedOptions } from "./feed";
import type { TradePager } from "./gap-repair";
import type { WsStatus } from "./messages";
import type { Precision, RejectCategory } from "./parse";
import type { FrameRecorder } from "./recorder";
import type { SymState } from "./symbol-state";

/**
 * What the parts of one KrakenStream share: its options, the per-pair states, the pairs' precisions, the session
 * counters and the ways out (publisher, monitor, metrics, warnings, markers). The stream (lib/venues/kraken/stream)
 * makes one and hands it to its subscriptions, channel items, gap tracker and overflow bookkeeping.
 */

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

export interface StreamContext {
	readonly opts: KrakenStreamOptions;
	/** Subscribed pairs by v2 name ("BTC/USD"). */
	readonly syms: Map<string, SymState>;
	/** Price and quantity precision by v2 name, from REST AssetPairs or the instrument channel. */
	readonly precision: Map<string, Precision>;
	readonly stats: StreamStats;
	readonly publisher: BatchPublisher;
	readonly monitor: FeedMonitor;
	/** Counter hook for metrics (opts.count, when given). */
	count(name: string, n?: number, labels?: Record<string, string>): void;
	/** The first occurrence of a kind of problem, then every 1000th (lib/feed/flood-guard). */
	warnOnce(key: string, msg: string): void;
	/** A marker message into the pair's topics (all three, or `only` one). */
	marker(st: SymState, type: Marker["type"], time: string, detail: Record<string, unknown>, only?: "trades" | "ticker" | "book"): void;
}
