import type { IncomingMessage, ServerResponse } from "node:http";
import type { Service } from "moleculer";
import { Errors } from "moleculer";
import { checkAccess, checkDeclaredLength, ClientRateLimiter, HttpError, isReadMethod, parseJsonBody, readBody } from "../lib/api/guard";
import { runtimeOf } from "./runtime";

/**
 * The api gateway's HTTP layer (moleculer-web route middleware and error answer), on top of the pure
 * checks in lib/api/guard.ts: who may call (tokens by method), how often (per-client write limit), how
 * much (body limits), and how errors are answered.
 */

export interface GatewayLocals {
	writeLimiter: ClientRateLimiter;
}

type Self = Service & GatewayLocals;
type GatewayRequest = IncomingMessage & { parsedUrl?: string; body?: unknown };

/** Liveness and readiness stay readable without API_READ_TOKEN: probes carry no credentials. */
const OPEN_READ_PATHS = new Set(["/api/health", "/api/ready"]);
/** Routes whose action reads the request body as a stream (with its own limit) instead of the JSON parser. */
const STREAMED_PATHS = new Set(["/api/ingest"]);
/**
 * 500s are internal failures (a driver's message, a bug): answered as "internal error" with the detail in
 * the log. 502/503/504 (service unavailable, venue errors, timeouts) and these types keep their message.
 */
const PUBLIC_5XX = new Set(["NOT_READY", "SERVICE_NOT_AVAILABLE", "SERVICE_NOT_FOUND", "REQUEST_TIMEOUT", "BANNED", "VENUE_ERROR", "REQUEST_SKIPPED", "BUSY"]);

function routePath(req: GatewayRequest): string {
	return (req.parsedUrl ?? req.url ?? "").split("?")[0].replace(/\/+$/, "");
}

/** A guard answer as the Moleculer error moleculer-web sends, with its headers already on the response. */
export function asMoleculerError(err: unknown, res?: ServerResponse): unknown {
	if (!(err instanceof HttpError)) return err;
	if (res && !res.headersSent) for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
	return new Errors.MoleculerClientError(err.message, err.code, err.type, err.data);
}

/**
 * Runs before the action and before any body is read: the token the method needs (401), the
 * per-client rate limit on mutating requests (429 with Retry-After), then the body within its route's
 * limit (413 on the declared or the counted length). /api/ingest keeps its body as a stream.
 */
export function guard(this: Self, req: GatewayRequest, res: ServerResponse, next: (err?: unknown) => void): void {
	const c = runtimeOf(this.broker).config;
	const path = routePath(req);
	try {
		checkAccess(req.method, path, req.headers.authorization, { token: c.apiToken, readToken: c.apiReadToken, openReadPaths: OPEN_READ_PATHS });
		if (!isReadMethod(req.method)) {
			const wait = this.writeLimiter.take(req.socket.remoteAddress ?? "unknown");
			if (wait !== null) throw new HttpError(429, `too many requests: at most ${c.apiWriteRatePerMin} changes a minute per client (burst ${c.apiWriteBurst}); retry in ${wait} s`, "RATE_LIMITED", { "Retry-After": String(wait) });
		}
		if (STREAMED_PATHS.has(path)) {
			checkDeclaredLength(req, c.apiIngestMaxBytes);
			return next();
		}
		if (isReadMethod(req.method)) return next();
	} catch (err) {
		return next(asMoleculerError(err, res));
	}
	readBody(req, c.apiBodyMaxBytes).then(
		(buf) => {
			try {
				req.body = parseJsonBody(buf, req.headers["content-type"]);
				next();
			} catch (err) {
				next(asMoleculerError(err, res));
			}
		},
		(err) => next(asMoleculerError(err, res)),
	);
}

/** Bytes of a refused body still read (and discarded) after a 413 before the connection is cut. */
const DRAIN_AFTER_413 = 64 * 1024 * 1024;

/**
 * After a 413 the rest of the body is read and thrown away rather than the socket closed at once: closing
 * with unread data makes the kernel send a reset, which can reach the client before our answer. Memory
 * stays flat (nothing is kept); past DRAIN_AFTER_413 more bytes, or API_REQUEST_TIMEOUT_MS, the
 * connection is cut.
 */
function drainThenClose(req: IncomingMessage): void {
	if (req.readableEnded) return;
	let drained = 0;
	req.on("data", (c: Buffer) => {
		drained += c.length;
		if (drained > DRAIN_AFTER_413) req.socket.destroy();
	});
	req.resume();
}

/**
 * Every error answer: validation errors as 400 naming the field, 413 with the rest of the body discarded,
 * and 5xx without internal error text (the detail goes to the log).
 */
export function sendApiError(this: Self, req: GatewayRequest, res: ServerResponse, err: any): void {
	let code = typeof err?.code === "number" && err.code >= 400 && err.code < 600 ? err.code : 500;
	let body: Record<string, unknown> = { name: err?.name ?? "Error", message: err?.message ?? "error", code, type: err?.type, data: err?.data };
	if (err?.type === "VALIDATION_ERROR" && Array.isArray(err.data)) {
		const fields = err.data.map((d: { field?: string; message?: string }) => ({ field: d.field, message: d.message }));
		code = 400;
		body = { name: "ValidationError", message: fields.map((f: { message?: string }) => f.message).join("; "), code, type: "INVALID_PARAMETER", data: { param: fields[0]?.field, fields } };
	} else if (code === 500 && !PUBLIC_5XX.has(err?.type)) {
		this.logger.error(`${req.method} ${routePath(req)} failed:`, err?.stack ?? err);
		body = { name: "Error", message: "internal error (details are in the api log)", code, type: "INTERNAL_ERROR" };
	}
	if (res.headersSent) return;
	if (code === 413) drainThenClose(req);
	res.setHeader("Content-Type", "application/json; charset=utf-8");
	res.writeHead(code);
	res.end(JSON.stringify(body));
}

