import type { Pool } from "pg";
import type { DukascopyInstrument } from "./dukascopy/instruments";
import { HOUR_MS, floorHour } from "./hours";
import { SOURCE, VENUE } from "./jobs";
import { marketOpen } from "./market-hours";

/**
 * Hours of [from, to) that should have Dukascopy ticks but have none stored: the market was open (FX
 * weekends are skipped, crypto never closes), the hour has been published (it has ended), no quote
 * lies in it, and no earlier backfill or auto-ingest fetched it and found it empty (a holiday hour is
 * not a gap).
 */
export async function findGaps(pool: Pool, inst: DukascopyInstrument, fromMs: number, toMs: number, nowMs = Date.now()): Promise<number[]> {
	const candidates: number[] = [];
	for (let h = Math.max(floorHour(fromMs), inst.firstTickHourMs); h < toMs && h + HOUR_MS <= nowMs; h += HOUR_MS) {
		if (marketOpen(inst.asset, h, inst.exchange)) candidates.push(h);
	}
	if (candidates.length === 0) return [];
	const { rows } = await pool.query(
		`SELECT h::text AS h
		   FROM unnest($1::bigint[]) AS h
		  WHERE NOT EXISTS (SELECT 1 FROM quotes q
		                     WHERE q.venue = $2 AND q.symbol = $3
		                       AND q.time >= to_timestamp(h / 1000.0) AND q.time < to_timestamp(h / 1000.0) + interval '1 hour')
		    AND NOT EXISTS (SELECT 1 FROM backfill_units u JOIN backfill_jobs j ON j.id = u.job_id
		                     WHERE u.unit_start = to_timestamp(h / 1000.0) AND u.state = 'done' AND u.ticks = 0
		                       AND j.source = $4 AND j.instrument = $5)
		    AND NOT EXISTS (SELECT 1 FROM backfill_empty_hours e
		                     WHERE e.source = $4 AND e.instrument = $5 AND e.hour = to_timestamp(h / 1000.0))
		  ORDER BY h`,
		[candidates, VENUE, inst.symbol, SOURCE, inst.id],
	);
	return rows.map((r) => Number(r.h));
}

/** Remember an hour fetched outside a job and found empty (auto-ingest), so that findGaps skips it. */
export async function recordEmptyHour(pool: Pool, inst: DukascopyInstrument, hourStartMs: number): Promise<void> {
	await pool.query(`INSERT INTO backfill_empty_hours (source, instrument, hour) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [SOURCE, inst.id, new Date(hourStartMs)]);
}
