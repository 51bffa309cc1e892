import WebSocket from "ws";
import type { PubBatch } from "../publish-batches";
import type { PulsarTopic } from "./topics";
import type { PulsarWsLog } from "./websocket";
import { backoff, closeSocket, openSocket, PERMANENT, UpgradeError } from "./ws-socket";

/** The Pulsar WebSocket log's producer: one connection per topic (see "Publishing" in lib/log/pulsar/websocket.ts). */

interface PendingSend {
	readonly frame: Buffer;
	readonly batch: PubBatch;
}

const PAYLOAD_OPEN = '{"payload":"';
/** ws.send options of a send frame: a Buffer, sent as the text frame the WebSocket API reads. */
const TEXT = { binary: false } as const;

/**
 * The producer's send frame, `{"payload","key","context","sequenceId"}`, as UTF-8 bytes. Base64 and a
 * decimal context need no JSON escaping, so only the key goes through JSON.stringify (once per batch):
 * stringifying the whole object scans the payload for characters to escape, which costs more than base64
 * itself for a large message. The frame is kept until acknowledged (a reconnect sends it again), so it
 * is built outside the JavaScript heap: a 10 kB string per message in flight made the collector copy and
 * mark them all, and ws would have flattened and encoded the string again on send.
 */
function sendFrame(payload: Uint8Array, jsonKeyBytes: Buffer, seq: number): Buffer {
	const b64 = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString("base64");
	const tail = `,"context":"${seq}","sequenceId":${seq}}`;
	const frame = Buffer.allocUnsafe(PAYLOAD_OPEN.length + b64.length + 8 + jsonKeyBytes.length + tail.length);
	let at = frame.write(PAYLOAD_OPEN, 0, "latin1");
	at += frame.write(b64, at, "latin1");
	at += frame.write('","key":', at, "latin1");
	at += jsonKeyBytes.copy(frame, at);
	frame.write(tail, at, "latin1");
	return frame;
}

/** Frames written in one tick go out together, but not more than this many bytes: the broker starts on the first ones while later ones are encoded. */
const CORK_BYTES = 64 * 1024;

export class TopicProducer {
	private ws: WebSocket | null = null;
	private opening: Promise<void> | null = null;
	private attempt = 0;
	private seq = 0;
	readonly pending = new Map<number, PendingSend>();
	private roomWaiters: (() => void)[] = [];
	private closed = false;
	private retry: NodeJS.Timeout | null = null;
	private corked = false;
	private corkedBytes = 0;
	/** Why the last connection attempt failed, for the timeout message. */
	lastError: string | null = null;

	constructor(
		private readonly log: PulsarWsLog,
		readonly t: PulsarTopic,
		readonly name: string,
	) {}

	private url(): string {
		const o = this.log.o;
		const q = new URLSearchParams({
			producerName: this.name,
			batchingEnabled: "true",
			batchingMaxMessages: String(o.batchingMaxMessages),
			batchingMaxPublishDelay: String(o.batchingMaxPublishDelayMs),
			maxPendingMessages: String(o.maxPendingPerTopic),
			compressionType: o.compressionType,
			sendTimeoutMillis: String(o.publishTimeoutMs),
		});
		return `${this.log.wsUrl}/ws/v2/producer/${this.t.restPath}?${q}`;
	}

	/** Queue the batch's messages, in order, sending as the window allows. */
	async send(key: string, payloads: readonly Uint8Array[], batch: PubBatch): Promise<void> {
		// checked before anything goes out, so a batch with an oversized message is refused whole
		const max = this.log.o.maxFrameBytes;
		const big = payloads.find((p) => Math.ceil(p.byteLength / 3) * 4 + key.length + 100 > max);
		if (big) {
			this.log.batches.settle(batch, new Error(`pulsar publish to ${this.t.full}: a ${big.byteLength}-byte message does not fit one WebSocket frame (the broker's webSocketMaxTextFrameSize, ${max} bytes, holds ~${Math.floor(((max - 100) * 3) / 4)} bytes of payload); publish smaller messages`));
			return;
		}
		const jsonKey = Buffer.from(JSON.stringify(key));
		for (const p of payloads) {
			while (this.pending.size >= this.log.o.maxPendingPerTopic && !batch.settled) await new Promise<void>((r) => this.roomWaiters.push(r));
			if (batch.settled) return;
			const seq = this.seq++;
			const frame = sendFrame(p, jsonKey, seq);
			this.pending.set(seq, { frame, batch });
			if (this.ws?.readyState === WebSocket.OPEN) {
				this.cork(this.ws, frame.length);
				this.ws.send(frame, TEXT);
			} else this.connect();
		}
	}

	/**
	 * Gather the frames sent in this tick into few socket writes (one syscall per small frame costs more
	 * than the rest), but write every CORK_BYTES: holding a whole batch of large messages back until the
	 * end of the tick would leave the broker idle while they are encoded.
	 */
	private cork(ws: WebSocket, bytes: number): void {
		const sock = (ws as unknown as { _socket?: import("node:net").Socket })._socket;
		if (!sock) return;
		if (this.corked) {
			this.corkedBytes += bytes;
			if (this.corkedBytes < CORK_BYTES) return;
			// write what is gathered (uncork only writes at the last of nested corks), keep gathering
			sock.uncork();
			sock.cork();
			this.corkedBytes = bytes;
			return;
		}
		this.corked = true;
		this.corkedBytes = bytes;
		sock.cork();
		process.nextTick(() => {
			this.corked = false;
			sock.uncork();
		});
	}

	private connect(): void {
		if (this.opening || this.closed || this.retry) return;
		this.opening = (async () => {
			try {
				const ws = await openSocket(this.url(), this.log.o.token, `producer on ${this.t.full}`, this.log.o);
				if (this.closed) {
					ws.close();
					return;
				}
				this.attempt = 0;
				this.lastError = null;
				this.ws = ws;
				ws.on("message", (d) => this.onAck(d.toString()));
				ws.on("close", () => this.onClose(ws));
				ws.on("error", (e) => this.log.o.logger.warn(`market log: pulsar producer ${this.name} on ${this.t.full}: ${e.message}`));
				// everything not acknowledged yet, in order: a broker with deduplication drops what it has
				for (const s of this.pending.values()) ws.send(s.frame, TEXT);
			} catch (e) {
				const err = e as UpgradeError;
				this.lastError = err.message;
				if (PERMANENT.has(err.status)) this.failAll(err);
				else {
					this.log.o.logger.warn(`market log: ${err.message}; retrying`);
					this.scheduleRetry();
				}
			} finally {
				this.opening = null;
			}
		})();
	}

	private scheduleRetry(): void {
		if (this.closed || !this.pending.size) return;
		this.retry = setTimeout(() => {
			this.retry = null;
			this.connect();
		}, backoff(this.attempt++));
		this.retry.unref();
	}

	private onClose(ws: WebSocket): void {
		if (this.ws !== ws) return;
		this.ws = null;
		if (this.closed) return;
		if (this.pending.size) {
			this.log.o.logger.warn(`market log: pulsar producer ${this.name} on ${this.t.full} lost its connection with ${this.pending.size} messages unacknowledged; resending`);
			this.scheduleRetry();
		}
	}

	private onAck(text: string): void {
		let a: { result?: string; messageId?: string; context?: string; errorMsg?: string };
		try {
			a = JSON.parse(text);
		} catch {
			this.log.o.logger.warn(`market log: pulsar producer ${this.name}: unreadable answer ${text.slice(0, 200)}`);
			return;
		}
		const seq = Number(a.context);
		const s = this.pending.get(seq);
		if (!s) return;
		this.pending.delete(seq);
		if (a.result === "ok") {
			this.log.batches.acked(s.batch);
		} else this.fail(s.batch, new Error(`pulsar publish to ${this.t.full} failed: ${a.result} ${a.errorMsg ?? ""}`.trim()));
		this.wakeRoom();
	}

	private wakeRoom(): void {
		if (this.roomWaiters.length && this.pending.size < this.log.o.maxPendingPerTopic) {
			const ws = this.roomWaiters;
			this.roomWaiters = [];
			for (const w of ws) w();
		}
	}

	holds(b: PubBatch): boolean {
		for (const s of this.pending.values()) if (s.batch === b) return true;
		return false;
	}

	/** Fail a batch and forget its other messages (their late acks are ignored). */
	fail(b: PubBatch, e: Error): void {
		for (const [seq, s] of this.pending) if (s.batch === b) this.pending.delete(seq);
		this.log.batches.settle(b, e);
		this.wakeRoom();
	}

	private failAll(e: Error): void {
		for (const s of [...this.pending.values()]) this.fail(s.batch, e);
	}

	/** Wait until every message sent has its answer. */
	async close(): Promise<void> {
		this.closed = true;
		if (this.retry) clearTimeout(this.retry);
		await this.opening;
		await closeSocket(this.ws);
	}
}
