import { createHash } from "node:crypto";
import { headers, type Msg } from "nats";

/** How the market-data log's messages look on JetStream: their headers and ids, the publish acks and the ack subjects of deliveries. */

export const KEY_HEADER = "Mdp-Key";
/** JetStream drops a message whose Nats-Msg-Id it has stored within the stream's duplicate window (2 min). */
export const MSG_ID_HEADER = "Nats-Msg-Id";

const dec = new TextDecoder();

/**
 * The message id: a hash of subject, key and payload, so the same message gets the same id however often it is
 * sent (our resend after a reconnect, or a publisher retrying a failed batch), and the broker stores it once.
 */
export function messageId(subject: string, key: string, payload: Uint8Array): string {
	return createHash("sha256").update(subject).update("\u0000").update(key).update("\u0000").update(payload).digest("base64url").slice(0, 32);
}

export function pubHeaders(key: string, msgId: string) {
	const h = headers();
	h.set(KEY_HEADER, key);
	h.set(MSG_ID_HEADER, msgId);
	return h;
}

/** `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>`, or the 2.10+ form with domain and account hash. */
export function parseAckSubject(reply: string): { consumer: string; deliveryCount: number; streamSeq: number; publishTime: number } {
	const t = reply.split(".");
	const b = t.length === 9 ? 2 : 4;
	return {
		consumer: t[b + 1],
		deliveryCount: Number(t[b + 2]),
		streamSeq: Number(t[b + 3]),
		publishTime: Math.floor(Number(t[b + 5]) / 1e6),
	};
}

export function pubAckError(m: Msg, stream: string): Error | null {
	const code = m.headers?.code ?? 0;
	if (code === 503) return new Error(`JetStream publish: no stream takes this subject (is stream ${stream} there?)`);
	if (code >= 300) return new Error(`JetStream publish failed: ${code} ${m.headers?.description ?? ""}`);
	const d = m.data;
	// Fast path for the common ack `{"stream":...}`; anything else is parsed.
	if (d.length > 2 && d[2] === 0x73 /* s */) return null;
	try {
		const r = JSON.parse(dec.decode(d)) as { error?: { code?: number; err_code?: number; description?: string } };
		if (r.error) return new Error(`JetStream publish failed: ${r.error.description ?? "error"} (${r.error.err_code ?? r.error.code ?? "?"})`);
		return null;
	} catch {
		return new Error(`JetStream publish: unreadable ack ${dec.decode(d).slice(0, 200)}`);
	}
}
