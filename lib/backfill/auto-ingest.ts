import type { Pool } from "pg";
import type { LeaderElector } from "../coordination/lease";
import type { Logger } from "../store/pool";
import type { DukascopyInstrument } from "./dukascopy/instruments";
import { CorruptHourError } from "./dukascopy/ticks";
import { HOUR_MS, floorHour, hourIso } from "./hours";
import { recordEmptyHour } from "./gaps";
import { createJob, DEFAULT_PUBLISH_WINDOW_MS, mayBeUnpublished, notPublishedMessage, recordFailedHour, SOURCE } from "./jobs";
import { fetchAndPublishHour, type PublishDeps } from "./worker";
import { marketOpen } from "./market-hours";

export interface AutoIngestOptions extends PublishDeps {
	pool: Pool;
	instruments: DukascopyInstrument[];
	/** Only the leader ingests: one fetch per hour across all replicas. */
	lease: LeaderElector;
	intervalMs: number;
	/** Where a new instrument starts: this many hours back from now (default 24). */
	lookbackHours?: number;
	/** Hours fetched per instrument per round, so that one instrument's backlog does not starve the others (default 168). */
	maxHoursPerRound?: number;
	/** A 404 for an hour that ended less than this ago means "not published yet" (default 24 h); after it, the hour is a failure. */
	publishWindowMs?: number;
	now?: () => number;
	logger?: Logger;
	onHour?: (e: { instrument: string; hour: number; ticks: number }) => void;
}

export interface IngestRound {
	instrument: string;
	fetched: number[];
	skippedClosed: number;
	/** The hour the source has not published yet, if that is what stopped the round. */
	waitingFor: number | null;
	/** Hours passed over as failures (never published within the window, or corrupt), each recorded as a one-hour job. */
	failed: number[];
	error: string | null;
}

/**
 * Follows each configured instrument hour by hour as Dukascopy publishes it: from a per-instrument
 * cursor (backfill_cursors), fetch every ended hour in order, skip closed-market hours without asking,
 * and stop at the first hour the source answers 404 for (not published yet) until the next round.
 * Hours go through the log in order, so candles follow them in order. A corrupt hour is not skipped
 * silently: it becomes a one-hour job whose failure names the hour (GET /api/backfill). Nor is an hour
 * still missing once the publication window is over: it becomes a failed one-hour job, is logged, and
 * the cursor moves on. Hours found empty are recorded (backfill_empty_hours), so gap fill skips them.
 */
export class AutoIngester {
	private timer: NodeJS.Timeout | null = null;
	private running = false;
	private stopping = false;
	private round: Promise<void> | null = null;
	readonly stats = { rounds: 0, hours: 0, ticks: 0, lastRound: [] as IngestRound[], lastError: null as string | null };

	constructor(private readonly o: AutoIngestOptions) {}

	/** Follow this list from the next round on (the symbol catalog's active instruments change at run time). */
	setInstruments(list: DukascopyInstrument[]): void {
		this.o.instruments = list;
	}

	get instruments(): readonly DukascopyInstrument[] {
		return this.o.instruments;
	}

	start(): void {
		if (this.running) return;
		this.running = true;
		this.stopping = false;
		const tick = () => {
			if (!this.running) return;
			this.round = (this.o.lease.isLeader() ? this.runOnce().then(() => undefined) : Promise.resolve())
				.catch((err) => {
					this.stats.lastError = (err as Error).message;
					this.o.logger?.error("auto-ingest round failed", (err as Error).message);
				})
				.finally(() => {
					if (this.running) this.timer = setTimeout(tick, this.o.intervalMs);
				});
		};
		tick();
	}

	async stop(): Promise<void> {
		this.running = false;
		this.stopping = true;
		if (this.timer) clearTimeout(this.timer);
		await this.round;
	}

	/** One round over every instrument. */
	async runOnce(): Promise<IngestRound[]> {
		const out: IngestRound[] = [];
		for (const inst of this.o.instruments) {
			if (!this.o.lease.isLeader()) break;
			out.push(await this.ingest(inst));
		}
		this.stats.rounds++;
		this.stats.lastRound = out;
		return out;
	}

	private async cursor(inst: DukascopyInstrument, now: number): Promise<number> {
		const { rows } = await this.o.pool.query(`SELECT next_hour FROM backfill_cursors WHERE source = $1 AND instrument = $2`, [SOURCE, inst.id]);
		if (rows[0]) return (rows[0].next_hour as Date).getTime();
		return Math.max(inst.firstTickHourMs, floorHour(now) - (this.o.lookbackHours ?? 24) * HOUR_MS);
	}

	private async advance(inst: DukascopyInstrument, next: number): Promise<void> {
		await this.o.pool.query(
			`INSERT INTO backfill_cursors (source, instrument, next_hour) VALUES ($1, $2, $3)
			 ON CONFLICT (source, instrument) DO UPDATE SET next_hour = GREATEST(backfill_cursors.next_hour, EXCLUDED.next_hour), updated_at = now()`,
			[SOURCE, inst.id, new Date(next)],
		);
	}

	async ingest(inst: DukascopyInstrument): Promise<IngestRound> {
		const now = (this.o.now ?? Date.now)();
		const r: IngestRound = { instrument: inst.id, fetched: [], skippedClosed: 0, waitingFor: null, failed: [], error: null };
		let h = await this.cursor(inst, now);
		const max = this.o.maxHoursPerRound ?? 168;
		while (h + HOUR_MS <= now && r.fetched.length < max && !this.stopping && this.o.lease.isLeader()) {
			if (!marketOpen(inst.asset, h, inst.exchange)) {
				r.skippedClosed++;
				h += HOUR_MS;
				await this.advance(inst, h);
				continue;
			}
			try {
				const res = await fetchAndPublishHour(this.o, inst, h);
				if (!res.published) {
					if (mayBeUnpublished(h, now, this.o.publishWindowMs ?? DEFAULT_PUBLISH_WINDOW_MS)) {
						r.waitingFor = h;
						break;
					}
					const message = `${notPublishedMessage(inst.id, h, now)}; auto-ingest moved on`;
					r.error = message;
					r.failed.push(h);
					this.o.logger?.error(`auto-ingest: ${message}; recorded as a failed job`);
					await recordFailedHour(this.o.pool, { instrument: inst.id, hour: h, error: message, kind: "auto" });
					h += HOUR_MS;
					await this.advance(inst, h);
					continue;
				}
				if (res.ticks === 0) await recordEmptyHour(this.o.pool, inst, h);
				r.fetched.push(h);
				this.stats.hours++;
				this.stats.ticks += res.ticks;
				this.o.onHour?.({ instrument: inst.id, hour: h, ticks: res.ticks });
			} catch (err) {
				if (!(err instanceof CorruptHourError)) {
					// transient (the HTTP client already retried): try this hour again next round
					r.error = (err as Error).message;
					this.o.logger?.warn(`auto-ingest ${inst.id} ${hourIso(h)}: ${r.error}`);
					break;
				}
				r.error = err.message;
				r.failed.push(h);
				this.o.logger?.error(`auto-ingest: ${err.message}; recorded as a job`);
				await createJob(this.o.pool, { instrument: inst.id, hours: [h], from: h, to: h + HOUR_MS, kind: "auto" });
			}
			h += HOUR_MS;
			await this.advance(inst, h);
		}
		return r;
	}
}
