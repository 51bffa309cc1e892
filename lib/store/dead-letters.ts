import type { Pool } from "pg";

/**
 * Retention of dead_letters: keep the newest `maxRows` rows (by id), so a flood of bad input cannot fill the
 * disk. Returns how many were deleted and how many remain (for the mdp_dead_letters gauge).
 */
export async function trimDeadLetters(pool: Pool, maxRows: number): Promise<{ deleted: number; remaining: number }> {
	if (!Number.isInteger(maxRows) || maxRows < 1) throw new RangeError(`maxRows must be a positive integer (got ${maxRows})`);
	const del = await pool.query(`DELETE FROM dead_letters WHERE id < (SELECT id FROM dead_letters ORDER BY id DESC OFFSET $1 LIMIT 1)`, [maxRows - 1]);
	const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM dead_letters");
	return { deleted: del.rowCount ?? 0, remaining: rows[0].n };
}
