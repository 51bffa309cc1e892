import type { Pool } from "pg";
import { withTransaction } from "../store/pool";
import { getInstrument, type DukascopyInstrument } from "./dukascopy/instruments";
import { HOUR_MS, floorHour, hourIso } from "./hours";

/**
 * Dukascopy backfill jobs, kept in PostgreSQL (backfill_jobs, backfill_units): a job is split into
 * hours, any number of workers lease hours with SKIP LOCKED (lib/backfill/worker.ts), and an hour is
 * marked done only after the market-data log has durably accepted its ticks. A restarted worker
 * therefore resumes from the hours not done, and an hour redone after a crash is harmless (quotes have
 * a natural key, seq = index in the hour). Progress counts hours whose ticks the log has accepted.
 * This module is the ledger: creating, reading, cancelling and retrying jobs, and the hours a job may cover.
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

/** A job none of whose hours is pending, running or waiting any more is done, or failed when an hour failed. */
export async function finishIfComplete(c: { query: Pool["query"] }, jobId: string): Promise<string | null> {
	return (await finishJobsIfComplete(c, [jobId])).get(jobId) ?? null;
}

/** The same for several jobs in one statement: the jobs that finished now, with their final state. */
export async function finishJobsIfComplete(c: { query: Pool["query"] }, jobIds: readonly string[]): Promise<Map<string, string>> {
	if (jobIds.length === 0) return new Map();
	const { rows } = await c.query(
		`UPDATE backfill_jobs j
		    SET state = CASE WHEN EXISTS (SELECT 1 FROM backfill_units f WHERE f.job_id = j.id AND f.state = 'failed') THEN 'failed' ELSE 'done' END,
		        finished_at = now(), updated_at = now()
		  WHERE j.id = ANY($1::bigint[]) AND j.state IN ('queued', 'running')
		    AND NOT EXISTS (SELECT 1 FROM backfill_units u WHERE u.job_id = j.id AND u.state IN ('pending', 'running', 'waiting'))
		RETURNING j.id::text AS id, j.state`,
		[jobIds],
	);
	return new Map(rows.map((r) => [r.id as string, r.state as string]));
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
