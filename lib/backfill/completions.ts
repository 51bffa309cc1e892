import type { Pool } from "pg";
import { withTransaction } from "../store/pool";
import { finishJobsIfComplete } from "./jobs";

/**
 * Marking hours done, group-committed. With many hours in flight, marking each one in its own
 * transaction made every worker loop queue on the job row (done_units, ticks) and cost five round trips
 * per hour. Here one flusher per worker writes whatever hours finished since its last write in one
 * transaction: the job rows locked in id order (two replicas never deadlock), every unit marked and every
 * job counted in one statement, then the jobs that are complete finished. An hour is still marked only
 * after the log has accepted its ticks: its caller waits until the batch holding it has committed.
 */

export interface DoneHour {
	jobId: string;
	/** hour start, epoch ms */
	hour: number;
	ticks: number;
}

export interface HourMarked {
	/** false: the hour was not ours any more (its lease ran out and another worker has it), so it was not counted */
	counted: boolean;
	/** The job's final state when this batch finished it (reported on one hour of the job only), else null. */
	jobFinished: string | null;
}

const MARK_DONE_SQL = `
	WITH d AS (
	     SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::int[]) AS d(job_id, hour_ms, ticks)),
	 done AS (
	     UPDATE backfill_units u
	        SET state = 'done', ticks = d.ticks, error = NULL, lease_until = NULL, updated_at = now()
	       FROM d
	      WHERE u.job_id = d.job_id AND u.unit_start = to_timestamp(d.hour_ms / 1000.0) AND u.owner = $4 AND u.state = 'running'
	  RETURNING u.job_id, u.unit_start, u.ticks),
	 counted AS (
	     UPDATE backfill_jobs j
	        SET done_units = j.done_units + c.n, ticks = j.ticks + c.t, updated_at = now()
	       FROM (SELECT job_id, count(*)::int AS n, sum(ticks)::bigint AS t FROM done GROUP BY job_id) c
	      WHERE j.id = c.job_id)
	SELECT job_id::text AS job_id, (extract(epoch FROM unit_start) * 1000)::bigint::text AS hour_ms FROM done`;

/** Mark these hours (leased by `owner`) done and count them on their jobs, in one transaction. */
export async function markHoursDone(pool: Pool, owner: string, hours: readonly DoneHour[]): Promise<HourMarked[]> {
	if (hours.length === 0) return [];
	return withTransaction(pool, async (c) => {
		// rows are locked in the order the sort returns them (LockRows runs above the Sort), so every worker takes them in id order
		await c.query(`SELECT 1 FROM backfill_jobs WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE`, [hours.map((h) => h.jobId)]);
		const { rows } = await c.query(MARK_DONE_SQL, [hours.map((h) => h.jobId), hours.map((h) => h.hour), hours.map((h) => h.ticks), owner]);
		const marked = new Set(rows.map((r) => `${r.job_id}|${r.hour_ms}`));
		const finished = await finishJobsIfComplete(c, [...new Set(rows.map((r) => r.job_id as string))]);
		return hours.map((h) => {
			const counted = marked.has(`${h.jobId}|${h.hour}`);
			const state = counted ? (finished.get(h.jobId) ?? null) : null;
			if (state) finished.delete(h.jobId); // told once
			return { counted, jobFinished: state };
		});
	});
}

/**
 * Group commit of hour completions: `mark()` resolves once the hour's batch has committed. While one batch
 * is being written the next one gathers, so a lone hour is written at once and a busy worker writes many
 * hours per transaction, without a timer.
 */
export class CompletionBatcher {
	private queue: Array<{ hour: DoneHour; resolve: (m: HourMarked) => void; reject: (e: unknown) => void }> = [];
	private writing = false;

	constructor(
		private readonly write: (hours: readonly DoneHour[]) => Promise<HourMarked[]>,
		private readonly maxBatch = 1000,
	) {}

	/** Hours waiting for the next write (not counting those being written). */
	get pending(): number {
		return this.queue.length;
	}

	mark(hour: DoneHour): Promise<HourMarked> {
		return new Promise((resolve, reject) => {
			this.queue.push({ hour, resolve, reject });
			if (!this.writing) void this.drain();
		});
	}

	private async drain(): Promise<void> {
		this.writing = true;
		try {
			while (this.queue.length) {
				const batch = this.queue.splice(0, this.maxBatch);
				try {
					const marked = await this.write(batch.map((b) => b.hour));
					batch.forEach((b, i) => b.resolve(marked[i]));
				} catch (err) {
					for (const b of batch) b.reject(err);
				}
			}
		} finally {
			this.writing = false;
		}
	}
}
