import { crc32 } from "node:zlib";
import type { Pool } from "pg";
import type { Logger } from "../store/pool";
import { claimSlots, pruneSlots, releaseSlot, slotKeyString, storeClaimedSnapshot, type SlotClaim, type SlotKey } from "./store";
import type { BookSnapshot, BookSource } from "./types";

/**
 * Takes one book snapshot per symbol per interval, across replicas. Each symbol has a fixed offset inside the
 * interval (a hash of venue and symbol, the same in every replica), so the snapshots of many symbols are spread
 * over the interval instead of bunched at its start, and every replica computes the same slots. A due slot is
 * claimed in PostgreSQL (lib/orderbook/store.ts) before the snapshot is taken; a failed snapshot gives its claim
 * back and is tried again (by any replica) until the slot is done.
 */

export interface SnapshotTarget {
	venue: string;
	symbol: string;
}

export interface SnapshotSchedulerOptions<T extends SnapshotTarget> {
	pool: Pool;
	/** This replica's name in the claims (node id and pid). */
	owner: string;
	source: BookSource;
	intervalMs: number;
	/** Lease of a claim: a replica silent this long loses the slot to another. */
	claimTtlMs: number;
	/** The books to snapshot now (read at every tick, so the list may change at any time). */
	targets(): readonly T[];
	/**
	 * The snapshot of one book; null when there is none to take right now (e.g. a live book not yet synced).
	 * `signal` aborts when the claim's lease is over (another replica may have the slot by then) or on stop().
	 */
	take(target: T, signal: AbortSignal): Promise<Omit<BookSnapshot, "venue" | "symbol" | "source"> | null>;
	logger: Logger;
	/** How often due slots are looked for; default interval/20, between 50 ms and 1 s. */
	tickMs?: number;
	/** After a failed or empty snapshot, the slot is tried again this much later; default min(5 s, interval/4). */
	retryDelayMs?: number;
	now?: () => number;
	onStored?(snap: BookSnapshot): void;
	onFailed?(target: T, err: unknown): void;
}

/** Where a book's slots fall: an offset in [0, interval) from a hash of its venue and symbol. */
export function slotOffsetMs(venue: string, symbol: string, intervalMs: number): number {
	return (crc32(`${venue}/${symbol}`) >>> 0) % intervalMs;
}

/** Start (epoch ms) of the book's slot that is due at `now`: the latest `k * interval + offset` not after now. */
export function dueSlotMs(venue: string, symbol: string, intervalMs: number, now: number): number {
	const offset = slotOffsetMs(venue, symbol, intervalMs);
	return Math.floor((now - offset) / intervalMs) * intervalMs + offset;
}

export interface SchedulerStats {
	stored: number;
	lostClaims: number; // stored by another replica after this one's lease ran out
	failures: number;
	empty: number; // take() had nothing to snapshot
	claims: number;
}

export class SnapshotScheduler<T extends SnapshotTarget> {
	readonly stats: SchedulerStats = { stored: 0, lostClaims: 0, failures: 0, empty: 0, claims: 0 };
	/** Slots known done (by any replica), by key, with the slot time for pruning. */
	private done = new Map<string, number>();
	private inflight = new Map<string, Promise<void>>();
	/** Books with a snapshot in flight: their next slot is not claimed before it ends (no pile-up behind a slow venue). */
	private busy = new Set<string>();
	private stopping = new AbortController();
	private retryAt = new Map<string, number>();
	private timer: NodeJS.Timeout | null = null;
	private stopped = true;
	private abandoned = false;
	private ticking: Promise<void> | null = null;
	private ticks = 0;
	private readonly now: () => number;
	private readonly tickMs: number;
	private readonly retryDelayMs: number;

	constructor(private readonly opts: SnapshotSchedulerOptions<T>) {
		this.now = opts.now ?? Date.now;
		this.tickMs = opts.tickMs ?? Math.min(1000, Math.max(50, Math.floor(opts.intervalMs / 20)));
		this.retryDelayMs = opts.retryDelayMs ?? Math.min(5000, Math.floor(opts.intervalMs / 4));
	}

	start(): void {
		if (!this.stopped) return;
		this.stopped = false;
		this.abandoned = false;
		this.stopping = new AbortController();
		this.schedule(0);
	}

	/**
	 * Stop claiming; wait for the snapshots in flight, but not past `graceMs`: one queued behind a venue's rate
	 * limit (a Binance minute, a Retry-After) would hold the shutdown that long. Its claim lapses with its lease.
	 */
	async stop(graceMs = 5000): Promise<void> {
		this.stopped = true;
		if (this.timer) clearTimeout(this.timer);
		this.timer = null;
		this.stopping.abort(new Error("book snapshots stopped"));
		await this.ticking;
		let timer: NodeJS.Timeout | undefined;
		const grace = new Promise<void>((r) => (timer = setTimeout(r, graceMs)));
		const settled = await Promise.race([Promise.allSettled([...this.inflight.values()]).then(() => true), grace.then(() => false)]);
		clearTimeout(timer);
		if (!settled) this.abandoned = true;
	}

	private schedule(ms: number): void {
		if (this.stopped) return;
		this.timer = setTimeout(() => {
			this.ticking = this.tick()
				.catch((err) => this.opts.logger.warn(`book snapshot claims (${this.opts.source}) failed: ${(err as Error).message}`))
				.finally(() => {
					this.ticking = null;
					this.schedule(this.tickMs);
				});
		}, ms);
	}

	/** Claim every due slot not known done and not being taken here, and take the claimed ones. */
	async tick(): Promise<void> {
		const now = this.now();
		const { intervalMs, source } = this.opts;
		const want: SlotKey[] = [];
		const byKey = new Map<string, T>();
		for (const t of this.opts.targets()) {
			const slotMs = dueSlotMs(t.venue, t.symbol, intervalMs, now);
			const slot = new Date(slotMs).toISOString();
			const key = slotKeyString({ venue: t.venue, symbol: t.symbol, source, slot });
			if (this.done.has(key) || this.busy.has(`${t.venue}/${t.symbol}`) || byKey.has(key) || (this.retryAt.get(key) ?? 0) > now) continue;
			byKey.set(key, t);
			want.push({ venue: t.venue, symbol: t.symbol, source, slot });
		}
		if (want.length) {
			// One order for every replica: two claiming overlapping batches lock rows in the same order (no deadlock).
			want.sort((a, b) => (slotKeyString(a) < slotKeyString(b) ? -1 : 1));
			const r = await claimSlots(this.opts.pool, this.opts.owner, this.opts.claimTtlMs, want);
			for (const d of r.done) this.done.set(slotKeyString(d), Date.parse(d.slot));
			for (const c of r.claimed) {
				const key = slotKeyString(c);
				const target = byKey.get(key);
				if (!target) continue;
				this.stats.claims++;
				const book = `${target.venue}/${target.symbol}`;
				this.busy.add(book);
				const run = this.run(c, target, key).finally(() => {
					this.inflight.delete(key);
					this.busy.delete(book);
				});
				this.inflight.set(key, run);
			}
		}
		if (++this.ticks % 500 === 1) await this.prune(now);
	}

	private async run(claim: SlotClaim, target: T, key: string): Promise<void> {
		try {
			const signal = AbortSignal.any([this.stopping.signal, AbortSignal.timeout(this.opts.claimTtlMs)]);
			const taken = await this.opts.take(target, signal);
			if (this.abandoned) return; // finished after stop() stopped waiting for it: the pool may be gone
			if (!taken) {
				this.stats.empty++;
				this.retryAt.set(key, this.now() + this.retryDelayMs);
				await releaseSlot(this.opts.pool, claim);
				return;
			}
			const snap: BookSnapshot = { ...taken, venue: target.venue, symbol: target.symbol, source: this.opts.source };
			const stored = await storeClaimedSnapshot(this.opts.pool, claim, snap);
			this.done.set(key, Date.parse(claim.slot));
			if (stored) {
				this.stats.stored++;
				this.opts.onStored?.(snap);
			} else this.stats.lostClaims++;
		} catch (err) {
			if (this.stopped) return; // aborted by the shutdown: the claim lapses with its lease
			this.stats.failures++;
			this.retryAt.set(key, this.now() + this.retryDelayMs);
			this.opts.onFailed?.(target, err);
			await releaseSlot(this.opts.pool, claim).catch(() => undefined);
		}
	}

	/** Forget slots older than two intervals here; drop claims older than a day from the table. */
	private async prune(now: number): Promise<void> {
		const horizon = now - 2 * this.opts.intervalMs;
		for (const [k, ms] of this.done) if (ms < horizon) this.done.delete(k);
		for (const [k, at] of this.retryAt) if (at < horizon) this.retryAt.delete(k);
		await pruneSlots(this.opts.pool, Math.max(86_400_000, 10 * this.opts.intervalMs));
	}
}
