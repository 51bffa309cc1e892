import WebSocket from "ws";
import { backoffMs } from "../../net/http";
import type { ResolvedPulsarOptions } from "./options";

/** The WebSocket side shared by the Pulsar WebSocket log's producers and consumers (lib/log/pulsar/websocket.ts): opening, closing, and which refusals are final. */

/** A normal close handshake; a peer that does not answer it within 5 s is cut off, so stopping never hangs. */
export function closeSocket(ws: WebSocket | null): Promise<void> {
	if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.resolve();
	return new Promise<void>((r) => {
		const t = setTimeout(() => {
			ws.terminate();
			r();
		}, 5_000);
		ws.once("close", () => {
			clearTimeout(t);
			r();
		});
		ws.close(1000);
	});
}

/**
 * Errors on the upgrade that retrying will not fix. A producer's 409 is not one of them: it is
 * ProducerBusy, the broker still holding our previous connection under the same name (half-open, until
 * its keepalive notices), so it is retried like a network error, within the send timeout. A consumer's
 * 409 (the subscription is held with another type, or by an exclusive consumer) is permanent for that
 * connection: the consumer skips the topic and a later discovery round tries it again.
 */
export const PERMANENT = new Set([400, 401, 403, 404, 405]);
export const CONSUMER_PERMANENT = new Set([...PERMANENT, 409]);

export class UpgradeError extends Error {
	constructor(
		message: string,
		readonly status: number,
	) {
		super(message);
	}
}

/**
 * A masking key of zeros: ws then neither copies nor XORs the frame (its documented way to skip masking),
 * and the broker's unmasking is a no-op. Client-to-server masking exists so that script in a browser
 * cannot shape the bytes an intermediary sees (RFC 6455 10.3); this client is a server process sending
 * its own JSON, and masking a 10 kB frame byte by byte in JavaScript cost more than base64 and JSON
 * together (bench/pulsar-publish.bench.ts). `randomMaskKeys: true` restores RFC-random keys.
 * Neither native helper of ws is a dependency: with a zero key bufferutil's mask/unmask is never called
 * (and 4.1.0 ships no linux-arm64 prebuild, so it would compile at install there), and ws validates
 * UTF-8 with Node's own buffer.isUtf8, which utf-8-validate would only replace.
 */
export const zeroMask = (mask: Buffer) => void mask.fill(0);

/** Open one WebSocket; resolve when open, reject with the HTTP status and reason of a refused upgrade. */
export function openSocket(url: string, token: string | undefined, what: string, o: Pick<ResolvedPulsarOptions, "randomMaskKeys">): Promise<WebSocket> {
	return new Promise((resolve, reject) => {
		const ws = new WebSocket(url, {
			headers: token ? { authorization: `Bearer ${token}` } : {},
			handshakeTimeout: 10_000,
			// JSON with base64 payloads compresses, but deflating every frame costs more CPU than the loopback or LAN saves
			perMessageDeflate: false,
			...(o.randomMaskKeys ? {} : { generateMask: zeroMask }),
		});
		const cleanup = () => {
			ws.off("open", onOpen);
			ws.off("error", onError);
			ws.off("unexpected-response", onResponse);
			// terminate() of a socket that never opened emits one more error: nobody needs it
			ws.on("error", () => undefined);
		};
		const onOpen = () => {
			cleanup();
			resolve(ws);
		};
		const onError = (e: Error) => {
			cleanup();
			ws.terminate();
			reject(new UpgradeError(`pulsar ${what}: ${e.message}`, 0));
		};
		const onResponse = (_req: unknown, res: import("node:http").IncomingMessage) => {
			let body = "";
			res.on("data", (c: Buffer) => (body += c.toString()));
			res.on("end", () => {
				cleanup();
				ws.terminate();
				const hint = res.statusCode === 401 || res.statusCode === 403 ? " (check PULSAR_TOKEN)" : "";
				reject(new UpgradeError(`pulsar ${what}: HTTP ${res.statusCode} ${body.trim().slice(0, 300)}${hint}`, res.statusCode ?? 0));
			});
		};
		ws.on("open", onOpen);
		ws.on("error", onError);
		ws.on("unexpected-response", onResponse);
	});
}

export const backoff = (attempt: number) => backoffMs(attempt, 100, 5_000);
