import type { Pool } from "pg";
import { encodeEnvelope, quoteEnvelope } from "../domain/codec";
import { marketTopic } from "../domain/topics";
import type { MarketLog } from "../log/types";
import { backoffMs } from "../net/http";
import { withTransaction, type Logger } from "../store/pool";
import { getInstrument, type DukascopyInstrument } from "./dukascopy/instruments";
import { isTransient, type DukascopySource } from "./dukascopy/source";
import { quoteItems } from "./dukascopy/ticks";
import { HOUR_MS, floorHour, hourIso } from "./hours";

/**
 * Dukascopy backfill jobs, kept in PostgreSQL (backfill_jobs, backfill_units): a job is split into
 * hours, any number of workers lease hours with SKIP LOCKED, and an hour is marked done only after the
 * market-data log has durably accepted its ticks. A restarted worker therefore resumes from the hours
 * not done, and an hour redone after a crash is harmless (quotes have a natural key, seq = index in
 * the hour). Progress counts hours whose ticks the log has accepted.
 *
 * Dukascopy publishes an hour some time after it has ended: a 404 for an hour that ended less than the
 * publication window ago (default 24 h) puts the hour in 'waiting' and asks again later (the job stays
 * running); a 404 for an older hour is a failure of that hour.
 */

export const SOURCE = "dukascopy";
export const VENUE = "dukascopy";
/** Longest job, in hours (about eleven years). */
export const MAX_JOB_HOURS = 100_000;
/** How long after an hour has ended a 404 still means "not published yet" (DUKASCOPY_PUBLISH_WINDOW_MS). */
export const DEFAULT_PUBLISH_WINDOW_MS = 24 * HOUR_MS;
/** How often a waiting hour is asked for again (DUKASCOPY_UNPUBLISHED_RETRY_MS). */
export const DEFAULT_UNPUBLISHED_RETRY_MS = 10 * 60_000;

/** True when a 404 for this hour means "not published yet": it ended less than `windowMs` ago. */
export function mayBeUnpublished(hourStartMs: number, nowMs: number, windowMs: number): boolean {
	return nowMs - (hourStartMs + HOUR_MS) < windowMs;
}

/** The error of an hour the source still does not have once its publication window is over. */
export function notPublishedMessage(instrument: string, hourStartMs: number, nowMs: number): string {
	const hours = Math.floor((nowMs - hourStartMs - HOUR_MS) / HOUR_MS);
	return `${instrument} ${hourIso(hourStartMs)}: not published by the source (HTTP 404) ${hours} h after the hour ended`;
}

export interface JobError {
	hour: string;
	state: string;
	attempts: number;
	error: string;
}

export interface JobStatus {
	id: string;
	source: string;
	instrument: string;
	symbol: string;
	from: string;
	to: string;
	state: "queued" | "running" | "done" | "failed" | "cancelled";
	kind: string;
	progress: {
		hoursDone: number;
		hoursFailed: number;
		/** hours the source has not published yet (recent hours), asked for again later */
		hoursWaiting: number;
		hoursTotal: number;
		ticks: number;
		/** ticks per second since the job started */
		ticksPerSec: number;
		hoursPerSec: number;
		/** seconds to go at the current rate, null before the first hour or once finished */
		etaSeconds: number | null;
	};
	errors: JobError[];
	createdAt: string;
	startedAt: string | null;
	finishedAt: string | null;
}

export interface NewJob {
	instrument: string;
	/** Hour starts (ms) to fetch; duplicates are dropped. */
	hours: readonly number[];
	from: number;
	to: number;
	kind?: "range" | "gaps" | "auto";
}

/**
 * A finished, failed one-hour job recording an hour that could not be had (e.g. never published), so
 * that the failure is visible in GET /api/backfill and can be retried like any failed hour.
 */
export async function recordFailedHour(pool: Pool, o: { instrument: string; hour: number; error: string; kind: NonNullable<NewJob["kind"]> }): Promise<string> {
	const inst = getInstrument(o.instrument);
	const error = o.error.slice(0, 1000);
	return withTransaction(pool, async (c) => {
		const { rows } = await c.query(
			`INSERT INTO backfill_jobs (source, instrument, from_time, to_time, state, params, total_units, errors, started_at, finished_at)
			 VALUES ($1, $2, $3, $4, 'failed', $5, 1, jsonb_build_array(jsonb_build_object('hour', $6::text, 'error', $7::text)), now(), now()) RETURNING id::text`,
			[SOURCE, inst.id, new Date(o.hour), new Date(o.hour + HOUR_MS), { kind: o.kind, symbol: inst.symbol }, hourIso(o.hour), error],
		);
		const id: string = rows[0].id;
		await c.query(`INSERT INTO backfill_units (job_id, unit_start, state, attempts, error) VALUES ($1, $2, 'failed', 1, $3)`, [id, new Date(o.hour), error]);
		return id;
	});
}

/** Create a job and its units in one transaction. A job with no hours is done at once. */
export async function createJob(pool: Pool, job: NewJob): Promise<string> {
	const inst = getInstrument(job.instrument);
	const hours = [...new Set(job.hours.map(floorHour))].sort((a, b) => a - b);
	if (hours.length > MAX_JOB_HOURS) throw new RangeError(`a job may cover at most ${MAX_JOB_HOURS} hours (got ${hours.length})`);
	return withTransaction(pool, async (c) => {
		const { rows } = await c.query(
			`INSERT INTO backfill_jobs (source, instrument, from_time, to_time, state, params, total_units, finished_at)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $7 = 0 THEN now() END) RETURNING id::text`,
			[SOURCE, inst.id, new Date(job.from), new Date(job.to), hours.length === 0 ? "done" : "queued", { kind: job.kind ?? "range", symbol: inst.symbol }, hours.length],
		);
		const id: string = rows[0].id;
		for (let i = 0; i < hours.length; i += 10_000) {
			await c.query(`INSERT INTO backfill_units (job_id, unit_start) SELECT $1, to_timestamp(h / 1000.0) FROM unnest($2::bigint[]) AS h`, [id, hours.slice(i, i + 10_000)]);
		}
		return id;
	});
}

function num(v: unknown): number {
	return v === null || v === undefined ? 0 : Number(v);
}

function iso(v: Date | null): string | null {
	return v ? v.toISOString() : null;
}

export async function getJob(pool: Pool, id: string, now = Date.now()): Promise<JobStatus | null> {
	if (!/^\d{1,18}$/.test(id)) return null;
	const { rows } = await pool.query(
		`SELECT j.*, j.id::text AS id_text,
		        (SELECT count(*) FROM backfill_units u WHERE u.job_id = j.id AND u.state = 'failed') AS failed_units,
		        (SELECT count(*) FROM backfill_units u WHERE u.job_id = j.id AND u.state = 'waiting') AS waiting_units
		   FROM backfill_jobs j WHERE j.id = $1 AND j.source = $2`,
		[id, SOURCE],
	);
	if (!rows[0]) return null;
	const { rows: errs } = await pool.query(
		`SELECT unit_start, state, attempts, error FROM backfill_units WHERE job_id = $1 AND error IS NOT NULL ORDER BY unit_start LIMIT 100`,
		[id],
	);
	return toStatus(rows[0], errs, now);
}

function toStatus(r: any, errs: any[], now: number): JobStatus {
	const done = num(r.done_units);
	const failed = num(r.failed_units);
	const waiting = num(r.waiting_units);
	const total = num(r.total_units);
	const ticks = num(r.ticks);
	const started = r.started_at ? (r.started_at as Date).getTime() : null;
	const end = r.finished_at ? (r.finished_at as Date).getTime() : now;
	const secs = started === null ? 0 : Math.max(0.001, (end - started) / 1000);
	const hoursPerSec = secs > 0 ? done / secs : 0;
	const finished = r.state === "done" || r.state === "failed" || r.state === "cancelled";
	return {
		id: r.id_text,
		source: r.source,
		instrument: r.instrument,
		symbol: r.params?.symbol ?? getInstrument(r.instrument).symbol,
		from: r.from_time.toISOString(),
		to: r.to_time.toISOString(),
		state: r.state,
		kind: r.params?.kind ?? "range",
		progress: {
			hoursDone: done,
			hoursFailed: failed,
			hoursWaiting: waiting,
			hoursTotal: total,
			ticks,
			ticksPerSec: secs > 0 ? Math.round(ticks / secs) : 0,
			hoursPerSec: Math.round(hoursPerSec * 100) / 100,
			etaSeconds: finished || hoursPerSec === 0 ? null : Math.round((total - done - failed) / hoursPerSec),
		},
		errors: errs.map((e) => ({ hour: hourIso((e.unit_start as Date).getTime()), state: e.state, attempts: num(e.attempts), error: e.error })),
		createdAt: r.created_at.toISOString(),
		startedAt: iso(r.started_at),
		finishedAt: iso(r.finished_at),
	};
}

export async function listJobs(pool: Pool, opts: { limit?: number; state?: string } = {}): Promise<JobStatus[]> {
	const { rows } = await pool.query(
		`SELECT j.*, j.id::text AS id_text,
		        (SELECT count(*) FROM backfill_units u WHERE u.job_id = j.id AND u.state = 'failed') AS failed_units,
		        (SELECT count(*) FROM backfill_units u WHERE u.job_id = j.id AND u.state = 'waiting') AS waiting_units
		   FROM backfill_jobs j WHERE j.source = $1 AND ($2::text IS NULL OR j.state = $2) ORDER BY j.id DESC LIMIT $3`,
		[SOURCE, opts.state ?? null, opts.limit ?? 50],
	);
	const now = Date.now();
	return rows.map((r) => toStatus(r, [], now));
}

/** Cancel a queued or running job: no further hour is started (hours in flight finish). */
export async function cancelJob(pool: Pool, id: string): Promise<boolean> {
	if (!/^\d{1,18}$/.test(id)) return false;
	const { rowCount } = await pool.query(
		`UPDATE backfill_jobs SET state = 'cancelled', finished_at = now(), updated_at = now() WHERE id = $1 AND source = $2 AND state IN ('queued', 'running')`,
		[id, SOURCE],
	);
	return (rowCount ?? 0) > 0;
}

/** Put a finished job's failed hours back in the queue (e.g. after a corrupt file was replaced upstream). */
export async function retryFailed(pool: Pool, id: string): Promise<number> {
	if (!/^\d{1,18}$/.test(id)) return 0;
	return withTransaction(pool, async (c) => {
		const { rowCount } = await c.query(
			`UPDATE backfill_units SET state = 'pending', attempts = 0, lease_until = NULL, owner = NULL, updated_at = now() WHERE job_id = $1 AND state = 'failed'`,
			[id],
		);
		if ((rowCount ?? 0) > 0) {
			await c.query(`UPDATE backfill_jobs SET state = 'running', finished_at = NULL, updated_at = now() WHERE id = $1`, [id]);
		}
		return rowCount ?? 0;
	});
}

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
}

/** The topic Dukascopy history goes to: the historical stream of the market-data log. */
export function historicalTopic(inst: DukascopyInstrument): string {
	return marketTopic(inst.asset, VENUE, inst.id, "quotes", "historical");
}

/** Fetch one hour and publish its ticks; resolves after the log has durably accepted every message. */
export async function fetchAndPublishHour(deps: PublishDeps, inst: DukascopyInstrument, hourStartMs: number, signal?: AbortSignal): Promise<HourResult> {
	const fetched = await deps.source.fetchHour(inst, hourStartMs, signal);
	if (!fetched.published) return { published: false, ticks: 0, messages: 0 };
	const items = quoteItems(fetched.hour, inst, new Date().toISOString());
	const chunk = deps.chunkItems ?? 5000;
	const payloads: Buffer[] = [];
	for (let i = 0; i < items.length; i += chunk) payloads.push(encodeEnvelope(quoteEnvelope(VENUE, inst.symbol, items.slice(i, i + chunk))));
	if (payloads.length > 0) await deps.log.publish(historicalTopic(inst), inst.symbol, payloads);
	return { published: true, ticks: items.length, messages: payloads.length };
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

	constructor(private readonly o: WorkerOptions) {}

	start(): void {
		if (this.running) return;
		this.running = true;
		this.abort = new AbortController();
		const n = Math.max(1, this.o.concurrency ?? 4);
		for (let i = 0; i < n; i++) this.loops.push(this.loop());
	}

	/** Stop taking hours; hours in flight are aborted and handed back to the queue at once. */
	async stop(): Promise<void> {
		if (!this.running) return;
		this.running = false;
		this.abort.abort(new Error("backfill worker stopping"));
		this.wake();
		await Promise.allSettled(this.loops);
		this.loops = [];
		await this.o.pool
			.query(`UPDATE backfill_units SET state = 'pending', lease_until = NULL, owner = NULL, updated_at = now() WHERE owner = $1 AND state = 'running'`, [this.o.owner])
			.catch((err) => this.o.logger?.warn("backfill: could not hand back leased hours", (err as Error).message));
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
				unit = await this.claim();
			} catch (err) {
				this.stats.lastError = (err as Error).message;
				this.o.logger?.error("backfill: claiming an hour failed", (err as Error).message);
			}
			if (!unit) {
				if (this.running) await this.idle(poll);
				continue;
			}
			await this.runUnit(unit);
		}
	}

	private async claim(): Promise<Claimed | null> {
		const leaseMs = this.o.leaseMs ?? 30_000;
		const { rows } = await this.o.pool.query(
			`WITH c AS (
			     SELECT u.job_id, u.unit_start
			       FROM backfill_units u JOIN backfill_jobs j ON j.id = u.job_id
			      WHERE j.source = $3 AND j.state IN ('queued', 'running')
			        AND u.state IN ('pending', 'running', 'waiting')
			        AND (u.lease_until IS NULL OR u.lease_until < now())
			      ORDER BY u.job_id, u.unit_start
			      LIMIT 1
			        FOR UPDATE OF u SKIP LOCKED)
			 UPDATE backfill_units u
			    SET state = 'running', attempts = u.attempts + 1, owner = $1, lease_until = now() + make_interval(secs => $2 / 1000.0), updated_at = now()
			   FROM c, backfill_jobs j
			  WHERE u.job_id = c.job_id AND u.unit_start = c.unit_start AND j.id = c.job_id
			RETURNING u.job_id::text AS job_id, u.unit_start, u.attempts, j.instrument, j.state AS job_state`,
			[this.o.owner, leaseMs, SOURCE],
		);
		if (!rows[0]) return null;
		const r = rows[0];
		if (r.job_state === "queued") {
			await this.o.pool.query(`UPDATE backfill_jobs SET state = 'running', started_at = coalesce(started_at, now()), owner = $2, updated_at = now() WHERE id = $1 AND state = 'queued'`, [r.job_id, this.o.owner]);
		}
		return { jobId: r.job_id, hour: (r.unit_start as Date).getTime(), attempts: Number(r.attempts), instrument: r.instrument };
	}

	private async runUnit(u: Claimed): Promise<void> {
		const leaseMs = this.o.leaseMs ?? 30_000;
		// Keep the lease while the hour takes long (slow venue, retries), so no other worker takes it up.
		const renew = setInterval(() => {
			this.o.pool
				.query(`UPDATE backfill_units SET lease_until = now() + make_interval(secs => $4 / 1000.0) WHERE job_id = $1 AND unit_start = $2 AND owner = $3 AND state = 'running'`, [u.jobId, new Date(u.hour), this.o.owner, leaseMs])
				.catch(() => undefined);
		}, Math.max(100, Math.floor(leaseMs / 3)));
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
		} finally {
			clearInterval(renew);
		}
	}

	private async complete(u: Claimed, ticks: number): Promise<void> {
		const finished = await withTransaction(this.o.pool, async (c) => {
			const { rowCount } = await c.query(
				`UPDATE backfill_units SET state = 'done', ticks = $3, error = NULL, lease_until = NULL, updated_at = now()
				  WHERE job_id = $1 AND unit_start = $2 AND owner = $4 AND state = 'running'`,
				[u.jobId, new Date(u.hour), ticks, this.o.owner],
			);
			if (!rowCount) return null; // our lease ran out and another worker has the hour: it counts it
			await c.query(`UPDATE backfill_jobs SET done_units = done_units + 1, ticks = ticks + $2, updated_at = now() WHERE id = $1`, [u.jobId, ticks]);
			return finishIfComplete(c, u.jobId);
		});
		this.stats.hoursDone++;
		this.stats.ticks += ticks;
		this.o.onHourDone?.({ jobId: u.jobId, hour: u.hour, ticks });
		if (finished) this.o.onJobFinished?.({ jobId: u.jobId, state: finished });
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

export class NotPublishedError extends Error {
	override name = "NotPublishedError";
}

/** A job none of whose hours is pending, running or waiting any more is done, or failed when an hour failed. */
async function finishIfComplete(c: { query: Pool["query"] }, jobId: string): Promise<string | null> {
	const { rows } = await c.query(
		`UPDATE backfill_jobs j
		    SET state = CASE WHEN EXISTS (SELECT 1 FROM backfill_units f WHERE f.job_id = j.id AND f.state = 'failed') THEN 'failed' ELSE 'done' END,
		        finished_at = now(), updated_at = now()
		  WHERE j.id = $1 AND j.state IN ('queued', 'running')
		    AND NOT EXISTS (SELECT 1 FROM backfill_units u WHERE u.job_id = j.id AND u.state IN ('pending', 'running', 'waiting'))
		RETURNING j.state`,
		[jobId],
	);
	return rows[0]?.state ?? null;
}

/** Hours of [from, to) for a new job, checked against what the source can have. Throws RangeError naming the bad end. */
export function jobHours(inst: DukascopyInstrument, fromMs: number, toMs: number, nowMs = Date.now()): number[] {
	if (!(toMs > fromMs)) throw new JobRangeError("from", `from (${hourIso(fromMs)}) must be before to (${hourIso(toMs)})`);
	if (floorHour(fromMs) < inst.firstTickHourMs) throw new JobRangeError("from", `from (${hourIso(fromMs)}) is before ${inst.id}'s first tick hour (${hourIso(inst.firstTickHourMs)})`);
	// Dukascopy publishes an hour after it has ended.
	if (toMs > floorHour(nowMs) + HOUR_MS) throw new JobRangeError("to", `to (${hourIso(toMs)}) is in the future`);
	const n = Math.ceil((toMs - floorHour(fromMs)) / HOUR_MS);
	if (n > MAX_JOB_HOURS) throw new JobRangeError("to", `the range covers ${n} hours; a job may cover at most ${MAX_JOB_HOURS}`);
	const hours: number[] = [];
	for (let h = floorHour(fromMs); h < toMs && h + HOUR_MS <= nowMs; h += HOUR_MS) hours.push(h);
	return hours;
}

export class JobRangeError extends RangeError {
	constructor(
		readonly param: string,
		message: string,
	) {
		super(message);
		this.name = "JobRangeError";
	}
}
