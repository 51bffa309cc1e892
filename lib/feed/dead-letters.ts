import type { Queryable } from "../store/migrate";

/**
 * A line or frame a feed could not read, kept in dead_letters (consumer = the feed service, topic = the topic
 * it would have gone to) so it can be looked at (/api/dead-letters) while the stream goes on.
 */
export async function deadLetterLine(db: Queryable, r: { consumer: string; topic: string; key: string | null; reason: string; payload: string; messageId: string }): Promise<void> {
	await db.query(
		`INSERT INTO dead_letters (consumer, topic, message_id, msg_key, reason, payload) VALUES ($1, $2, $3, $4, $5, $6)
		 ON CONFLICT (consumer, topic, message_id, reason) DO NOTHING`,
		[r.consumer, r.topic, r.messageId, r.key, r.reason.slice(0, 500), Buffer.from(r.payload, "utf8")],
	);
}
