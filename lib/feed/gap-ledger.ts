import type { Pool } from "pg";
import type { StreamLogger } from "./logger";

/**
 * The gap ledger (`feed_gaps`): every stretch of time a feed may have missed data, whether it was repaired and
 * by what. Shared by every live feed (Kraken, OANDA); each feed decides what a gap is and how it is repaired.
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

/** A ledger that records nothing (no database: replays, unit tests). */
export const NO_LEDGER: GapLedger = { open: async () => "", close: async () => undefined, repaired: async () => undefined };

/**
 * Open a gap row without ever failing the feed: null when there is no ledger, or when the insert failed
 * (warned; the data goes on, only the record of the gap is missing).
 */
export function openGapRow(ledger: GapLedger | null, g: GapRow, logger: Pick<StreamLogger, "warn">): Promise<string | null> {
	if (!ledger) return Promise.resolve(null);
	return ledger.open(g).catch((err) => {
		logger.warn(`feed_gaps insert failed: ${(err as Error).message}`);
		return null;
	});
}

/** Close a gap row once its id is known, never failing the feed: nothing without a ledger or a row, a failure warned. */
export function closeGapRow(ledger: GapLedger | null | undefined, id: string | null | Promise<string | null>, toTime: string, logger: Pick<StreamLogger, "warn">): Promise<void> {
	return Promise.resolve(id)
		.then((x) => (x && ledger ? ledger.close(x, toTime) : undefined))
		.catch((err) => logger.warn(`feed_gaps close failed: ${(err as Error).message}`));
}

/** Mark a gap row repaired once its id is known, never failing the feed (as closeGapRow). */
export function repairedGapRow(ledger: GapLedger | null | undefined, id: string | null | Promise<string | null>, by: string, logger: Pick<StreamLogger, "warn">): Promise<void> {
	return Promise.resolve(id)
		.then((x) => (x && ledger ? ledger.repaired(x, by, {}) : undefined))
		.catch((err) => logger.warn(`feed_gaps update failed: ${(err as Error).message}`));
}
