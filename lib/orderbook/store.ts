import type { Pool } from "pg";
import type { Queryable } from "../store/migrate";
import type { BookLevel, BookSnapshot, BookSource } from "./types";

/**
 * book_snapshots and the slot claims that keep replicas from taking one snapshot twice (sql/013).
 *
 * A slot is one (venue, symbol, source) per interval. A replica claims due slots in one statement: a slot
 * nobody claimed, or whose claim's lease ran out without being done, gets the replica's name, a fresh token
 * and a lease. The snapshot is stored in the transaction that marks the slot done under that token; if
 * another replica took the slot over meanwhile, the token no longer matches and nothing is stored.
 */

export interface SlotKey {
	venue: string;
	symbol: string;
	source: BookSource;
	slot: string; // ISO time the slot became due
}

export interface SlotClaim extends SlotKey {
	token: string;
}

export interface ClaimResult {
	claimed: SlotClaim[];
	/** Slots some replica already stored: nothing more to do for them. */
	done: SlotKey[];
}

const keyOf = (k: Omit<SlotKey, "slot"> & { slot: string | Date }) => `${k.venue}\u0000${k.symbol}\u0000${k.source}\u0000${new Date(k.slot).toISOString()}`;
export const slotKeyString = keyOf;

export async function claimSlots(db: Queryable, owner: string, leaseMs: number, want: SlotKey[]): Promise<ClaimResult> {
	if (!want.length) return { claimed: [], done: [] };
	const r = await db.query<{ venue: string; symbol: string; source: BookSource; slot: Date; token: string | null }>(
		`WITH want AS (
		    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) AS w(venue, symbol, source, slot)
		 ), claimed AS (
		    INSERT INTO book_poll_slots AS s (venue, symbol, source, slot, owner, token, lease_until)
		    SELECT venue, symbol, source, slot, $5, gen_random_uuid(), now() + $6 * interval '1 millisecond' FROM want
		    ON CONFLICT (venue, symbol, source, slot) DO UPDATE
		       SET owner = EXCLUDED.owner, token = EXCLUDED.token, lease_until = EXCLUDED.lease_until, attempts = s.attempts + 1
		     WHERE s.done_at IS NULL AND s.lease_until < now()
		    RETURNING s.venue, s.symbol, s.source, s.slot, s.token::text
		 )
		 SELECT venue, symbol, source, slot, token FROM claimed
		 UNION ALL
		 SELECT s.venue, s.symbol, s.source, s.slot, NULL FROM book_poll_slots s JOIN want USING (venue, symbol, source, slot) WHERE s.done_at IS NOT NULL`,
		[want.map((w) => w.venue), want.map((w) => w.symbol), want.map((w) => w.source), want.map((w) => w.slot), owner, leaseMs],
	);
	const out: ClaimResult = { claimed: [], done: [] };
	for (const row of r.rows) {
		const k = { venue: row.venue, symbol: row.symbol, source: row.source, slot: row.slot.toISOString() };
		if (row.token) out.claimed.push({ ...k, token: row.token });
		else out.done.push(k);
	}
	return out;
}

/** Give a claim back (the fetch failed) so that any replica may take the slot at once. */
export async function releaseSlot(db: Queryable, claim: SlotClaim): Promise<void> {
	await db.query(`UPDATE book_poll_slots SET lease_until = now() - interval '1 millisecond' WHERE venue = $1 AND symbol = $2 AND source = $3 AND slot = $4 AND token = $5 AND done_at IS NULL`, [
		claim.venue,
		claim.symbol,
		claim.source,
		claim.slot,
		claim.token,
	]);
}

/**
 * Store the snapshot of a claimed slot and mark the slot done, in one transaction; false (nothing stored) when the
 * claim was lost to another replica. A snapshot identical in key to a stored one (same exchange time) is not
 * stored again, but the slot is still done.
 */
export async function storeClaimedSnapshot(pool: Pool, claim: SlotClaim, snap: BookSnapshot): Promise<boolean> {
	const c = await pool.connect();
	try {
		await c.query("BEGIN");
		const done = await c.query(
			`UPDATE book_poll_slots SET done_at = now(), snapshot_time = $6
			  WHERE venue = $1 AND symbol = $2 AND source = $3 AND slot = $4 AND token = $5 AND done_at IS NULL`,
			[claim.venue, claim.symbol, claim.source, claim.slot, claim.token, snap.time],
		);
		if (done.rowCount !== 1) {
			await c.query("ROLLBACK");
			return false;
		}
		await insertSnapshot(c, snap);
		await c.query("COMMIT");
		return true;
	} catch (err) {
		await c.query("ROLLBACK").catch(() => undefined);
		throw err;
	} finally {
		c.release();
	}
}

export async function insertSnapshot(db: Queryable, s: BookSnapshot): Promise<void> {
	await db.query(
		`INSERT INTO book_snapshots (venue, symbol, time, source, last_update_id, bids, asks, checksum, recv_time)
		 VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9)
		 ON CONFLICT (venue, symbol, time, source) DO NOTHING`,
		[s.venue, s.symbol, s.time, s.source, s.lastUpdateId, JSON.stringify(s.bids), JSON.stringify(s.asks), s.checksum, s.recvTime],
	);
}

/** Slot claims older than `keepMs`: only the recent ones matter to the replicas. */
export async function pruneSlots(db: Queryable, keepMs: number): Promise<number> {
	const r = await db.query(`DELETE FROM book_poll_slots WHERE slot < now() - $1 * interval '1 millisecond'`, [keepMs]);
	return r.rowCount ?? 0;
}

export interface BooksQuery {
	venue: string;
	symbol: string;
	from: Date | null;
	to: Date | null;
	source: BookSource | null;
	limit: number;
}

/** Snapshots of one book in [from, to), newest first. */
export async function queryBooks(db: Queryable, q: BooksQuery): Promise<BookSnapshot[]> {
	const r = await db.query<{ time: Date; recv_time: Date; source: BookSource; last_update_id: string | null; checksum: string | null; bids: BookLevel[]; asks: BookLevel[] }>(
		`SELECT time, recv_time, source, last_update_id::text, checksum::text, bids, asks FROM book_snapshots
		  WHERE venue = $1 AND symbol = $2 AND ($3::timestamptz IS NULL OR time >= $3) AND ($4::timestamptz IS NULL OR time < $4)
		    AND ($5::text IS NULL OR source = $5)
		  ORDER BY time DESC, source LIMIT $6`,
		[q.venue, q.symbol, q.from, q.to, q.source, q.limit],
	);
	return r.rows.map((x) => ({
		venue: q.venue,
		symbol: q.symbol,
		time: x.time.toISOString(),
		recvTime: x.recv_time.toISOString(),
		source: x.source,
		lastUpdateId: x.last_update_id,
		checksum: x.checksum === null ? null : Number(x.checksum),
		bids: x.bids,
		asks: x.asks,
	}));
}
