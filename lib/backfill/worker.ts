import type { Pool } from "pg";
import { marketTopic } from "../domain/topics";
import type { MarketLog } from "../log/types";
import { backoffMs } from "../net/http";
import { withTransaction, type Logger } from "../store/pool";
import { getInstrument, type DukascopyInstrument } from "./dukascopy/instruments";
import { isTransient, type DukascopySource } from "./dukascopy/source";
import { quoteColumnPayloads, quoteWirePayloads } from "./dukascopy/wire";
import { HOUR_MS, hourIso } from "./hours";
import { CompletionBatcher, markHoursDone } from "./completions";
import { DEFAULT_PUBLISH_WINDOW_MS, DEFAULT_UNPUBLISHED_RETRY_MS, finishIfComplete, mayBeUnpublished, notPublishedMessage, SOURCE, VENUE } from "./jobs";

/**
 * The backfill worker: runs the hours of every active Dukascopy job (see lib/backfill/jobs.ts for the
 * ledger), `concurrency` at a time. Hours are leased `concurrency` at a time in one statement, fetched,
 * decoded and published to the market-data log, and marked done only after the log has durably accepted
 * their ticks. One statement per third of the lease renews the leases of every hour the worker holds.
 */

export interface HourResult {
	published: boolean;
	ticks: number;
	messages: number;
}

export interface PublishDeps {
	source: DukascopySource;
	log: Pick<MarketLog, "publish">;
	/** Quotes per log message (default 5000). */
	chunkItems?: number;
	/**
	 * The wire format of the messages (BACKFILL_WIRE): "v3", columns (lib/domain/wire-v3, the default), or "v2", text
	 * lines, which tick-writers from before v3 read too.
	 */
	wire?: "v3" | "v2";
}

/** The topic Dukascopy history goes to: the historical stream of the market-data log. */
export function historicalTopic(inst: DukascopyInstrument): string {
	return marketTopic(inst.asset, VENUE, inst.id, "quotes", "historical");
}

/** Fetch one hour and publish its ticks; resolves after the log has durably accepted every message. */
export async function fetchAndPublishHour(deps: PublishDeps, inst: DukascopyInstrument, hourStartMs: number, signal?: AbortSignal): Promise<HourResult> {
	const fetched = await deps.source.fetchHour(inst, hourStartMs, signal);
	if (!fetched.published) return { published: false, ticks: 0, messages: 0 };
	const encode = deps.wire === "v2" ? quoteWirePayloads : quoteColumnPayloads;
	const payloads = encode(fetched.hour, inst, VENUE, new Date().toISOString(), deps.chunkItems ?? 5000);
	if (payloads.length > 0) await deps.log.publish(historicalTopic(inst), inst.symbol, payloads);
	return { published: true, ticks: fetched.hour.count, messages: payloads.length };
}

export interface WorkerOptions extends PublishDeps {
	pool: Pool;
	/** Name written on leased units (the Moleculer node id). */
	owner: string;
	/** Hours run at once by this worker (BACKFILL_CONCURRENCY). */
	concurrency?: number;
	/** A leased hour whose worker went silent this long is taken up by another (default 30 s). */
	leaseMs?: number;
	/** Attempts per hour for transient failures, on top of the HTTP client's own retries (default 3). */
	maxAttempts?: number;
	retryBaseMs?: number;
	/** How often an idle worker looks for work (a wake() call cuts the wait short). */
	pollMs?: number;
	/** A 404 for an hour that ended less than this ago means "not published yet" (default 24 h). */
	publishWindowMs?: number;
	/** How often an hour not published yet is asked for again (default 10 min). */
	unpublishedRetryMs?: number;
	now?: () => number;
	logger?: Logger;
	onHourDone?: (e: { jobId: string; hour: number; ticks: number }) => void;
	onHourFailed?: (e: { jobId: string; hour: number; error: string; retrying: boolean }) => void;
	/** The source does not have a recent hour yet: it is asked for again at `nextTryMs`. */
	onHourWaiting?: (e: { jobId: string; hour: number; nextTryMs: number }) => void;
	onJobFinished?: (e: { jobId: string; state: string }) => void;
}

interface Claimed {
	jobId: string;
	hour: number;
	attempts: number;
	instrument: string;
}

/** Runs the hours of every active Dukascopy job, `concurrency` at a time, leased so that several workers can share jobs. */
export class BackfillWorker {
	private running = false;
	private loops: Promise<void>[] = [];
	private wakers = new Set<() => void>();
	private abort = new AbortController();
	readonly stats = { hoursDone: 0, hoursFailed: 0, hoursRetried: 0, hoursWaiting: 0, ticks: 0, lastError: null as string | null };

	private readonly completions: CompletionBatcher;
	/** Hours claimed and not started yet, in claim order. */
	private queue: Claimed[] = [];
	/** The claim in flight, which loops that find the queue empty wait for. */
	private claiming: Promise<number> | null = null;
	/** Hours claimed and not finished (queued or running), by job and hour: their leases, and only theirs, are renewed. */
	private held = new Map<string, Claimed>();
	private renewTimer: NodeJS.Timeout | null = null;
	/** Jobs cancelled lately (until when a claim in flight may still return their hours). */
	private cancelled = new Map<string, number>();

	private readonly leaseMs: number;
	private readonly concurrency: number;

	constructor(private readonly o: WorkerOptions) {
		this.leaseMs = o.leaseMs ?? 30_000;
		this.concurrency = Math.max(1, o.concurrency ?? 4);
		this.completions = new CompletionBatcher((hours) => markHoursDone(o.pool, o.owner, hours));
	}

	start(): void {
		if (this.running) return;
		this.running = true;
		this.abort = new AbortController();
		for (let i = 0; i < this.concurrency; i++) this.loops.push(this.loop());
		this.renewTimer = setInterval(() => this.renewLeases(), Math.max(100, Math.floor(this.leaseMs / 3)));
	}

	/** Stop taking hours; hours in flight are aborted and handed back to the queue at once. */
	async stop(): Promise<void> {
		if (!this.running) return;
		this.running = false;
		this.abort.abort(new Error("backfill worker stopping"));
		this.wake();
		await Promise.allSettled(this.loops);
		await this.claiming?.catch(() => undefined);
		this.loops = [];
		if (this.renewTimer) clearInterval(this.renewTimer);
		this.renewTimer = null;
		// Hours claimed and never started are handed back with their claim's attempt; those aborted in flight below.
		await this.handBack(this.queue).catch((err) => this.o.logger?.warn("backfill: could not hand back queued hours", (err as Error).message));
		this.held.clear();
		await this.o.pool
			.query(`UPDATE backfill_units SET state = 'pending', lease_until = NULL, owner = NULL, updated_at = now() WHERE owner = $1 AND state = 'running'`, [this.o.owner])
			.catch((err) => this.o.logger?.warn("backfill: could not hand back leased hours", (err as Error).message));
	}

	/**
	 * A job was cancelled: its hours that this worker has claimed and not started are handed back instead
	 * of run (hours in flight finish, as before the cancel), and a claim still in flight drops them too.
	 * Returns how many were handed back.
	 */
	async dropJob(jobId: string): Promise<number> {
		const now = Date.now();
		for (const [id, until] of this.cancelled) if (until < now) this.cancelled.delete(id);
		this.cancelled.set(jobId, now + this.leaseMs);
		return this.handBack(this.queue.filter((u) => u.jobId === jobId));
	}

	/** A job was queued again (retry): its hours are run again, even right after a cancel. */
	jobRequeued(jobId: string): void {
		this.cancelled.delete(jobId);
	}

	private isCancelled(jobId: string): boolean {
		const until = this.cancelled.get(jobId);
		return until !== undefined && until >= Date.now();
	}

	/** Hand queued hours back to the ledger (pending, the claim's attempt given back) instead of running them. */
	private async handBack(units: readonly Claimed[]): Promise<number> {
		if (units.length === 0) return 0;
		const dropped = new Set(units);
		this.queue = this.queue.filter((u) => !dropped.has(u));
		for (const u of units) this.held.delete(heldKey(u));
		await this.updateLeased(units, "state = 'pending', attempts = greatest(u.attempts - 1, 0), lease_until = NULL, owner = NULL, updated_at = now()");
		return units.length;
	}

	/** SET `set` on these hours (`u`) where this worker still leases them; `$4` onwards are `params`. */
	private async updateLeased(units: readonly Claimed[], set: string, params: unknown[] = []): Promise<void> {
		await this.o.pool.query(
			`UPDATE backfill_units u SET ${set}
			   FROM unnest($2::bigint[], $3::timestamptz[]) AS h(job_id, unit_start)
			  WHERE u.job_id = h.job_id AND u.unit_start = h.unit_start AND u.owner = $1 AND u.state = 'running'`,
			[this.o.owner, units.map((u) => u.jobId), units.map((u) => new Date(u.hour)), ...params],
		);
	}

	/** New work is there: idle loops look now instead of at their next poll. */
	wake(): void {
		for (const w of [...this.wakers]) w();
	}

	private idle(ms: number): Promise<void> {
		return new Promise((resolve) => {
			const done = () => {
				clearTimeout(t);
				this.wakers.delete(done);
				resolve();
			};
			const t = setTimeout(done, ms);
			this.wakers.add(done);
		});
	}

	private async loop(): Promise<void> {
		const poll = this.o.pollMs ?? 2000;
		while (this.running) {
			let unit: Claimed | null = null;
			try {
				unit = await this.next();
			} catch (err) {
				this.stats.lastError = (err as Error).message;
				this.o.logger?.error("backfill: claiming an hour failed", (err as Error).message);
			}
			if (!unit) {
				if (this.running) await this.idle(poll);
				continue;
			}
			try {
				await this.runUnit(unit);
			} finally {
				this.held.delete(heldKey(unit));
			}
		}
	}

	/**
	 * The next hour to run: from the hours this worker has claimed and not started, else from a new claim
	 * of up to `concurrency` hours in one statement, which the loops that wait for it share. Null when
	 * there is no work.
	 */
	private async next(): Promise<Claimed | null> {
		while (this.running) {
			const queued = this.queue.shift();
			if (queued) return queued;
			if (!this.claiming) {
				this.claiming = this.claim(this.concurrency).finally(() => {
					this.claiming = null;
				});
			}
			if ((await this.claiming) === 0 && this.queue.length === 0) return null;
		}
		return null;
	}

	/**
	 * Lease up to `limit` hours, oldest job and hour first, into the queue; returns how many it kept (hours of a job
	 * cancelled meanwhile are handed back). Loops idle at that moment are woken for the extra hours.
	 */
	private async claim(limit: number): Promise<number> {
		const { rows } = await this.o.pool.query({
			name: "backfill-claim",
			text: `WITH c AS (
			     SELECT u.job_id, u.unit_start
			       FROM backfill_units u JOIN backfill_jobs j ON j.id = u.job_id
			      WHERE j.source = $3 AND j.state IN ('queued', 'running')
			        AND u.state IN ('pending', 'running', 'waiting')
			        AND (u.lease_until IS NULL OR u.lease_until < now())
			      ORDER BY u.job_id, u.unit_start
			      LIMIT $4
			        FOR UPDATE OF u SKIP LOCKED)
			 UPDATE backfill_units u
			    SET state = 'running', attempts = u.attempts + 1, owner = $1, lease_until = now() + make_interval(secs => $2 / 1000.0), updated_at = now()
			   FROM c, backfill_jobs j
			  WHERE u.job_id = c.job_id AND u.unit_start = c.unit_start AND j.id = c.job_id
			RETURNING u.job_id::text AS job_id, u.unit_start, u.attempts, j.instrument, j.state AS job_state`,
			values: [this.o.owner, this.leaseMs, SOURCE, limit],
		});
		const claimed = rows
			.map((r) => ({ jobId: r.job_id as string, hour: (r.unit_start as Date).getTime(), attempts: Number(r.attempts), instrument: r.instrument as string }))
			// RETURNING has no order: oldest job (ids are digit strings), then oldest hour, first
			.sort((a, b) => a.jobId.length - b.jobId.length || (a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : a.hour - b.hour));
		if (!this.running) {
			await this.handBack(claimed); // stopping: not one of them was started
			return 0;
		}
		const queuedJobs = [...new Set(rows.filter((r) => r.job_state === "queued").map((r) => r.job_id as string))];
		if (queuedJobs.length > 0) {
			await this.o.pool.query(
				`UPDATE backfill_jobs SET state = 'running', started_at = coalesce(started_at, now()), owner = $2, updated_at = now() WHERE id = ANY($1::bigint[]) AND state = 'queued'`,
				[queuedJobs, this.o.owner],
			);
		}
		const kept = claimed.filter((u) => !this.isCancelled(u.jobId));
		this.queue.push(...kept);
		for (const u of kept) this.held.set(heldKey(u), u);
		if (kept.length < claimed.length) await this.handBack(claimed.filter((u) => this.isCancelled(u.jobId)));
		if (kept.length > 1) this.wake();
		return kept.length;
	}

	/** Keep the leases of every hour this worker holds (queued or running; slow venue, retries), so no other worker takes them up. */
	private renewLeases(): void {
		if (this.held.size === 0) return;
		this.updateLeased([...this.held.values()], "lease_until = now() + make_interval(secs => $4 / 1000.0)", [this.leaseMs]).catch((err) =>
			this.o.logger?.warn("backfill: renewing leases failed", (err as Error).message),
		);
	}

	private async runUnit(u: Claimed): Promise<void> {
		try {
			const inst = getInstrument(u.instrument);
			const r = await fetchAndPublishHour(this.o, inst, u.hour, this.abort.signal);
			if (!r.published) {
				const now = (this.o.now ?? Date.now)();
				const window = this.o.publishWindowMs ?? DEFAULT_PUBLISH_WINDOW_MS;
				if (!mayBeUnpublished(u.hour, now, window)) throw new NotPublishedError(notPublishedMessage(inst.id, u.hour, now));
				// Not yet: ask again later, and once more right when the window closes (then a 404 fails the hour).
				await this.wait(u, Math.min(now + (this.o.unpublishedRetryMs ?? DEFAULT_UNPUBLISHED_RETRY_MS), u.hour + HOUR_MS + window), now);
				return;
			}
			await this.complete(u, r.ticks);
		} catch (err) {
			if (!this.running) return; // aborted by stop(): stop() hands the hour back
			await this.fail(u, err as Error).catch((e) => this.o.logger?.error("backfill: recording a failed hour failed", (e as Error).message));
		}
	}

	private async complete(u: Claimed, ticks: number): Promise<void> {
		// Group-committed with the other hours that finish meanwhile (lib/backfill/completions.ts). Not counted
		// when our lease ran out and another worker has the hour: that worker counts it.
		const { jobFinished } = await this.completions.mark({ jobId: u.jobId, hour: u.hour, ticks });
		this.stats.hoursDone++;
		this.stats.ticks += ticks;
		this.o.onHourDone?.({ jobId: u.jobId, hour: u.hour, ticks });
		if (jobFinished) this.o.onJobFinished?.({ jobId: u.jobId, state: jobFinished });
	}

	private async wait(u: Claimed, nextTryMs: number, now: number): Promise<void> {
		const message = `not published by the source yet (HTTP 404); next try at ${hourIso(nextTryMs)}`;
		// Waiting is not a failed attempt: the claim's attempt is given back.
		const { rowCount } = await this.o.pool.query(
			`UPDATE backfill_units SET state = 'waiting', attempts = greatest(attempts - 1, 0), error = $3, owner = NULL, lease_until = $5, updated_at = now()
			  WHERE job_id = $1 AND unit_start = $2 AND owner = $4 AND state = 'running'`,
			[u.jobId, new Date(u.hour), message, this.o.owner, new Date(nextTryMs)],
		);
		if (!rowCount) return;
		this.stats.hoursWaiting++;
		this.o.logger?.info(`backfill: ${u.instrument} ${hourIso(u.hour)} ${message}`);
		setTimeout(() => this.wake(), Math.max(0, nextTryMs - now) + 10).unref();
		this.o.onHourWaiting?.({ jobId: u.jobId, hour: u.hour, nextTryMs });
	}

	private async fail(u: Claimed, err: Error): Promise<void> {
		const maxAttempts = this.o.maxAttempts ?? 3;
		const retry = isTransient(err) && u.attempts < maxAttempts;
		const message = err.message.slice(0, 1000);
		this.stats.lastError = message;
		if (retry) {
			this.stats.hoursRetried++;
			const delay = backoffMs(u.attempts, this.o.retryBaseMs ?? 2000, 60_000);
			this.o.logger?.warn(`backfill: ${u.instrument} ${hourIso(u.hour)} attempt ${u.attempts} failed, again in ${delay} ms: ${message}`);
			await this.o.pool.query(
				`UPDATE backfill_units SET state = 'pending', error = $3, owner = NULL, lease_until = now() + make_interval(secs => $5 / 1000.0), updated_at = now()
				  WHERE job_id = $1 AND unit_start = $2 AND owner = $4 AND state = 'running'`,
				[u.jobId, new Date(u.hour), message, this.o.owner, delay],
			);
			setTimeout(() => this.wake(), delay + 10).unref();
			this.o.onHourFailed?.({ jobId: u.jobId, hour: u.hour, error: message, retrying: true });
			return;
		}
		this.stats.hoursFailed++;
		this.o.logger?.error(`backfill: ${u.instrument} ${hourIso(u.hour)} failed: ${message}`);
		const finished = await withTransaction(this.o.pool, async (c) => {
			const { rowCount } = await c.query(
				`UPDATE backfill_units SET state = 'failed', error = $3, lease_until = NULL, updated_at = now() WHERE job_id = $1 AND unit_start = $2 AND owner = $4 AND state = 'running'`,
				[u.jobId, new Date(u.hour), message, this.o.owner],
			);
			if (!rowCount) return null;
			await c.query(
				`UPDATE backfill_jobs SET errors = CASE WHEN jsonb_array_length(errors) < 100 THEN errors || jsonb_build_array(jsonb_build_object('hour', $2::text, 'error', $3::text)) ELSE errors END, updated_at = now() WHERE id = $1`,
				[u.jobId, hourIso(u.hour), message],
			);
			return finishIfComplete(c, u.jobId);
		});
		this.o.onHourFailed?.({ jobId: u.jobId, hour: u.hour, error: message, retrying: false });
		if (finished) this.o.onJobFinished?.({ jobId: u.jobId, state: finished });
	}
}

function heldKey(u: Claimed): string {
	return `${u.jobId}|${u.hour}`;
}

export class NotPublishedError extends Error {
	override name = "NotPublishedError";
}
