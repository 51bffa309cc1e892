/**
 * One Server-Sent Events connection over a Node HTTP response: frames, heartbeats, and a bounded buffer so a
 * slow reader cannot make the server hold an unbounded backlog (it is disconnected instead and reconnects).
 */
import type { IncomingMessage, ServerResponse } from "node:http";

export interface SseOptions {
	/** Comment line sent when nothing else was, so proxies keep the connection and clients see it alive. */
	heartbeatMs: number;
	/** Bytes waiting in the socket's buffer above which the client counts as too slow and is dropped. */
	maxBufferedBytes: number;
	/** Reconnect delay suggested to EventSource clients. */
	retryMs: number;
}

/** One SSE frame: `event`, optional `id`, and the data as one JSON line. */
export function sseFrame(event: string, data: unknown, id?: string): string {
	return `${id !== undefined ? `id: ${id.replace(/[\r\n]/g, "")}\n` : ""}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export class SseClient {
	private closed = false;
	private heartbeat: NodeJS.Timeout;
	private lastWrite = Date.now();
	private readonly closeListeners: (() => void)[] = [];
	/** Frames refused since the start because the client was too slow (then it is dropped). */
	dropped = false;

	constructor(
		readonly req: IncomingMessage,
		private readonly res: ServerResponse,
		private readonly o: SseOptions,
	) {
		res.writeHead(200, {
			"Content-Type": "text/event-stream; charset=utf-8",
			"Cache-Control": "no-cache, no-transform",
			Connection: "keep-alive",
			"X-Accel-Buffering": "no", // nginx: do not buffer the stream
		});
		res.write(`retry: ${o.retryMs}\n\n`);
		res.flushHeaders?.();
		this.heartbeat = setInterval(() => {
			if (Date.now() - this.lastWrite >= o.heartbeatMs) this.write(`: heartbeat ${new Date().toISOString()}\n\n`);
		}, Math.max(250, Math.floor(o.heartbeatMs / 2)));
		this.heartbeat.unref();
		const onClose = () => this.close();
		req.on("close", onClose);
		res.on("close", onClose);
		res.on("error", onClose);
	}

	get isOpen(): boolean {
		return !this.closed;
	}

	onClose(fn: () => void): void {
		if (this.closed) fn();
		else this.closeListeners.push(fn);
	}

	send(event: string, data: unknown, id?: string): boolean {
		return this.write(sseFrame(event, data, id));
	}

	private write(text: string): boolean {
		if (this.closed) return false;
		// writableLength: bytes queued in Node above what the socket took; past the bound the reader is too slow.
		if (this.res.writableLength > this.o.maxBufferedBytes) {
			this.dropped = true;
			this.close();
			return false;
		}
		this.lastWrite = Date.now();
		this.res.write(text);
		return true;
	}

	close(): void {
		if (this.closed) return;
		this.closed = true;
		clearInterval(this.heartbeat);
		if (!this.res.writableEnded) this.res.end();
		for (const fn of this.closeListeners.splice(0)) fn();
	}
}
