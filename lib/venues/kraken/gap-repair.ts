import { fastIsoMs } from "../../domain/codec";
import type { GapLedger } from "../../feed/gap-ledger";
import type { TradeItem } from "../../domain/types";
import { RepairQueue } from "../../feed/repair-queue";
import type { Queryable } from "../../store/migrate";
import { withoutStoredTrades } from "../../store/trade-ids";
import { KrakenRest, type TradesPage } from "./rest";

/**
 * Gap repair for Kraken trades. A gap is a stretch where the socket may have missed trades: a
 * disconnect (from the last frame to the reconnect), or a jump in the sequential trade ids. The
 * missing trades are fetched from REST /0/public/Trades (paged with the ns `since` cursor) and
 * published through the same log as live trades. REST times have fewer decimals than the socket's, so a
 * trade the socket delivered would be stored again under another time: with a `store`, ids already in
 * `trades` are dropped before publishing.
 * Each gap is a row in `feed_gaps` (lib/feed/gap-ledger), marked repaired once REST has covered it.
 */

export { PgGapLedger, type GapLedger, type GapRow } from "../../feed/gap-ledger";

/** What is missing: trades after `afterId` (exclusive) and before `beforeId` (exclusive) or up to `toMs`. */
export interface TradeGap {
	wsSymbol: string;
	fromMs: number;
	toMs: number;
	/** Last trade id seen before the gap; null when none was seen (then `fromMs` bounds it). */
	afterId: bigint | null;
	/** First trade id seen after the gap, when known (an id jump, or the oldest new trade of the reconnect snapshot). */
	beforeId: bigint | null;
	/** Trade ids the socket already delivered after the gap (the reconnect snapshot): not fetched again. */
	seen?: ReadonlySet<string>;
}

export interface GapPaging {
	pages: number;
	/** REST answered past the end of the gap (or reached the present): nothing else can be missing. */
	covered: boolean;
	/** REST reached the gap's end itself (not only the present). */
	reachedEnd: boolean;
}

export interface FetchResult extends GapPaging {
	trades: TradeItem[];
}

export interface TradePager {
	trades(symbol: string, since?: string): Promise<TradesPage>;
}

/**
 * Page through REST trades from just before the gap until it is covered, handing each page's missing trades
 * (ids after `afterId` and before `beforeId`, or by time when an id is not known) to `onPage` with the page
 * itself. Pages come oldest first and ids grow with time, so a high-water mark drops repeats without keeping
 * every id of a long gap in memory.
 */
export async function pageMissingTrades(
	rest: TradePager,
	gap: TradeGap,
	onPage: (missing: TradeItem[], page: TradesPage) => Promise<void> | void,
	opts: { maxPages?: number; marginMs?: number } = {},
): Promise<GapPaging> {
	const maxPages = opts.maxPages ?? 200;
	let since = KrakenRest.sinceOf(gap.fromMs - (opts.marginMs ?? 1000));
	let high: bigint | null = null; // highest id handed out
	for (let pages = 1; pages <= maxPages; pages++) {
		const page = await rest.trades(gap.wsSymbol, since);
		const present = page.trades.length === 0 || page.last === since;
		let reachedEnd = false;
		const missing: TradeItem[] = [];
		for (const t of page.trades) {
			const id = BigInt(t.tradeId);
			const ms = fastIsoMs(t.time);
			if (gap.afterId !== null ? id <= gap.afterId : ms < gap.fromMs) continue;
			if (gap.beforeId !== null ? id >= gap.beforeId : ms > gap.toMs) {
				reachedEnd = true;
				continue;
			}
			if (gap.seen?.has(t.tradeId) || (high !== null && id <= high)) continue;
			high = id;
			missing.push(t);
		}
		// The last id before the gap's end came: ids are sequential, so everything in between did too.
		if (gap.beforeId !== null && high !== null && high >= gap.beforeId - 1n) reachedEnd = true;
		await onPage(missing, page);
		if (reachedEnd || present) return { pages, covered: true, reachedEnd };
		since = page.last;
	}
	return { pages: maxPages, covered: false, reachedEnd: false };
}

/** pageMissingTrades collected into one list (a live gap is short: at most `maxPages` pages). */
export async function fetchMissingTrades(rest: TradePager, gap: TradeGap, opts: { maxPages?: number; marginMs?: number } = {}): Promise<FetchResult> {
	const trades: TradeItem[] = [];
	const r = await pageMissingTrades(rest, gap, (missing) => void trades.push(...missing), opts);
	return { trades, ...r };
}

export interface RepairJob {
	ledgerId: string | null;
	gap: TradeGap;
	symbol: string; // canonical
}

export interface GapRepairerOptions {
	rest: TradePager;
	ledger: GapLedger;
	/** Publish repaired trades (through the market-data log); resolves once the log has them. */
	publish(job: RepairJob, trades: TradeItem[]): Promise<void>;
	/** The trades table (venue "kraken"): REST trades whose id is stored already are not published again. */
	store?: Queryable | null;
	repairedBy?: string;
	maxAttempts?: number; // default 5
	baseDelayMs?: number; // default 1000
	maxDelayMs?: number; // default 60,000
	logger?: { info(...a: unknown[]): void; warn(...a: unknown[]): void };
	onRepaired?(job: RepairJob, r: FetchResult): void;
	onFailed?(job: RepairJob, err: Error): void;
}

/** Repairs gaps one at a time (REST is rate-limited anyway), retrying each with backoff (lib/feed/repair-queue). */
export class GapRepairer {
	private readonly queue: RepairQueue<RepairJob>;
	readonly stats = { queued: 0, repaired: 0, failed: 0, tradesFetched: 0, alreadyStored: 0, pages: 0 };

	constructor(private readonly opts: GapRepairerOptions) {
		this.queue = new RepairQueue<RepairJob>({
			run: (job) => this.attempt(job),
			describe: (job) => `gap ${job.ledgerId ?? "?"} (${job.symbol})`,
			maxAttempts: opts.maxAttempts,
			baseDelayMs: opts.baseDelayMs,
			maxDelayMs: opts.maxDelayMs,
			logger: opts.logger,
			onFailed: (job, err) => {
				this.stats.failed++;
				this.opts.onFailed?.(job, err);
			},
		});
	}

	enqueue(job: RepairJob): void {
		this.stats.queued++;
		this.queue.enqueue(job);
	}

	/** Resolves when every queued gap was tried. */
	idle(): Promise<void> {
		return this.queue.idle();
	}

	/**
	 * Drop what is queued and wait for the gap being repaired to let go: a REST page or ledger query in flight
	 * finishes (or fails: the owner aborts the REST signal first), and nothing is published after this resolves,
	 * so the log and the pool may close then.
	 */
	stop(): Promise<void> {
		return this.queue.stop();
	}

	get pending(): number {
		return this.queue.pending;
	}

	/** One try at a gap; throws to be retried. */
	private async attempt(job: RepairJob): Promise<void> {
		const r = await fetchMissingTrades(this.opts.rest, job.gap);
		this.stats.pages += r.pages;
		this.stats.tradesFetched += r.trades.length;
		const { fresh, stored } = this.opts.store ? await withoutStoredTrades(this.opts.store, "kraken", job.symbol, r.trades) : { fresh: r.trades, stored: 0 };
		if (this.queue.isStopped) return; // stopping: the log may be closing, and the gap stays open in the ledger
		this.stats.alreadyStored += stored;
		r.trades = fresh;
		if (r.trades.length) await this.opts.publish(job, r.trades);
		if (!r.covered) throw new Error(`REST did not reach the end of the gap after ${r.pages} pages`);
		// REST can lag the socket: a gap that ends at a known id is repaired only once REST reached that id.
		if (job.gap.beforeId !== null && !r.reachedEnd) throw new Error(`REST has no trades up to id ${job.gap.beforeId} yet`);
		if (job.ledgerId) await this.opts.ledger.repaired(job.ledgerId, this.opts.repairedBy ?? "kraken-rest-trades", { restTrades: r.trades.length, alreadyStored: stored, restPages: r.pages });
		this.stats.repaired++;
		this.opts.onRepaired?.(job, r);
	}
}
