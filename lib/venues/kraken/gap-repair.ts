import type { Pool } from "pg";
import { fastIsoMs } from "../../domain/codec";
import type { TradeItem } from "../../domain/types";
import { backoffMs } from "../../net/http";
import { KrakenRest, type TradesPage } from "./rest";

/**
 * Gap repair for Kraken trades. A gap is a stretch where the socket may have missed trades: a
 * disconnect (from the last frame to the reconnect), or a jump in the sequential trade ids. The
 * missing trades are fetched from REST /0/public/Trades (paged with the ns `since` cursor) and
 * published through the same log as live trades; the writer's dedup makes any overlap harmless.
 * Each gap is a row in `feed_gaps`, marked repaired once REST has covered it.
 */

export interface GapRow {
	venue: string;
	symbol: string; // canonical
	channel: string;
	fromTime: string;
	toTime: string | null;
	cause: string;
	detail?: Record<string, unknown>;
}

/** The gap ledger (`feed_gaps`). */
export interface GapLedger {
	open(g: GapRow): Promise<string>;
	close(id: string, toTime: string, detail?: Record<string, unknown>): Promise<void>;
	repaired(id: string, by: string, detail?: Record<string, unknown>): Promise<void>;
}

export class PgGapLedger implements GapLedger {
	constructor(private readonly pool: Pool) {}

	async open(g: GapRow): Promise<string> {
		const { rows } = await this.pool.query(
			`INSERT INTO feed_gaps (venue, symbol, channel, from_time, to_time, cause, detail) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id::text`,
			[g.venue, g.symbol, g.channel, g.fromTime, g.toTime, g.cause, JSON.stringify(g.detail ?? {})],
		);
		return rows[0].id;
	}

	async close(id: string, toTime: string, detail: Record<string, unknown> = {}): Promise<void> {
		await this.pool.query(`UPDATE feed_gaps SET to_time = $2, detail = detail || $3::jsonb WHERE id = $1`, [id, toTime, JSON.stringify(detail)]);
	}

	async repaired(id: string, by: string, detail: Record<string, unknown> = {}): Promise<void> {
		await this.pool.query(`UPDATE feed_gaps SET repaired_at = now(), repaired_by = $2, detail = detail || $3::jsonb WHERE id = $1`, [id, by, JSON.stringify(detail)]);
	}
}

/** What is missing: trades after `afterId` (exclusive) and before `beforeId` (exclusive) or up to `toMs`. */
export interface TradeGap {
	wsSymbol: string;
	fromMs: number;
	toMs: number;
	/** Last trade id seen before the gap; null when none was seen (then `fromMs` bounds it). */
	afterId: bigint | null;
	/** First trade id seen after the gap, when known (an id jump). */
	beforeId: bigint | null;
	/** Trade ids the socket already delivered after the gap (the reconnect snapshot): not fetched again. */
	seen?: ReadonlySet<string>;
}

export interface FetchResult {
	trades: TradeItem[];
	pages: number;
	/** REST answered past the end of the gap (or reached the present): nothing else can be missing. */
	covered: boolean;
}

export interface TradePager {
	trades(symbol: string, since?: string): Promise<TradesPage>;
}

/** Page through REST trades from just before the gap until it is covered. */
export async function fetchMissingTrades(rest: TradePager, gap: TradeGap, opts: { maxPages?: number; marginMs?: number } = {}): Promise<FetchResult> {
	const maxPages = opts.maxPages ?? 200;
	let since = KrakenRest.sinceOf(gap.fromMs - (opts.marginMs ?? 1000));
	const out: TradeItem[] = [];
	const got = new Set<string>();
	for (let pages = 1; pages <= maxPages; pages++) {
		const page = await rest.trades(gap.wsSymbol, since);
		let covered = page.trades.length === 0 || page.last === since; // reached the present
		for (const t of page.trades) {
			const id = BigInt(t.tradeId);
			const ms = fastIsoMs(t.time);
			if (gap.afterId !== null ? id <= gap.afterId : ms < gap.fromMs) continue;
			if (gap.beforeId !== null ? id >= gap.beforeId : ms > gap.toMs) {
				covered = true;
				continue;
			}
			if (gap.seen?.has(t.tradeId) || got.has(t.tradeId)) continue;
			got.add(t.tradeId);
			out.push(t);
		}
		if (gap.afterId !== null && gap.beforeId !== null && BigInt(got.size) >= gap.beforeId - gap.afterId - 1n) covered = true;
		if (covered) return { trades: out, pages, covered: true };
		since = page.last;
	}
	return { trades: out, pages: maxPages, covered: false };
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
	repairedBy?: string;
	maxAttempts?: number; // default 5
	baseDelayMs?: number; // default 1000
	maxDelayMs?: number; // default 60,000
	logger?: { info(...a: unknown[]): void; warn(...a: unknown[]): void };
	onRepaired?(job: RepairJob, r: FetchResult): void;
	onFailed?(job: RepairJob, err: Error): void;
}

/** Repairs gaps one at a time (REST is rate-limited anyway), retrying each with backoff. */
export class GapRepairer {
	private queue: RepairJob[] = [];
	private running: Promise<void> | null = null;
	private stopped = false;
	private wake: (() => void) | null = null;
	readonly stats = { queued: 0, repaired: 0, failed: 0, tradesFetched: 0, pages: 0 };

	constructor(private readonly opts: GapRepairerOptions) {}

	enqueue(job: RepairJob): void {
		this.queue.push(job);
		this.stats.queued++;
		if (!this.running) this.running = this.drain().finally(() => (this.running = null));
	}

	/** Resolves when every queued gap was tried. */
	async idle(): Promise<void> {
		while (this.running) await this.running;
	}

	stop(): void {
		this.stopped = true;
		this.queue = [];
		this.wake?.();
	}

	get pending(): number {
		return this.queue.length + (this.running ? 1 : 0);
	}

	private async drain(): Promise<void> {
		while (this.queue.length && !this.stopped) {
			const job = this.queue.shift()!;
			const max = this.opts.maxAttempts ?? 5;
			for (let attempt = 0; attempt < max && !this.stopped; attempt++) {
				try {
					const r = await fetchMissingTrades(this.opts.rest, job.gap);
					this.stats.pages += r.pages;
					this.stats.tradesFetched += r.trades.length;
					if (r.trades.length) await this.opts.publish(job, r.trades);
					if (!r.covered) throw new Error(`REST did not reach the end of the gap after ${r.pages} pages`);
					if (job.ledgerId) await this.opts.ledger.repaired(job.ledgerId, this.opts.repairedBy ?? "kraken-rest-trades", { restTrades: r.trades.length, restPages: r.pages });
					this.stats.repaired++;
					this.opts.onRepaired?.(job, r);
					break;
				} catch (err) {
					if (attempt === max - 1) {
						this.stats.failed++;
						this.opts.logger?.warn(`gap ${job.ledgerId ?? "?"} (${job.symbol}) not repaired after ${max} attempts: ${(err as Error).message}`);
						this.opts.onFailed?.(job, err as Error);
					} else {
						const delay = Math.max(100, backoffMs(attempt, this.opts.baseDelayMs ?? 1000, this.opts.maxDelayMs ?? 60_000));
						this.opts.logger?.warn(`gap repair for ${job.symbol} failed (${(err as Error).message}); retrying in ${delay} ms`);
						await new Promise<void>((r) => {
							const t = setTimeout(r, delay);
							this.wake = () => {
								clearTimeout(t);
								r();
							};
						});
						this.wake = null;
					}
				}
			}
		}
	}
}
