import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

/**
 * Access and size checks of the REST gateway, decided per request before any body is read:
 * bearer tokens by HTTP method (so a route added later is covered without being listed), a per-client
 * rate limit on mutating requests, and body limits enforced on the declared and the streamed length.
 */

/** An HTTP answer to send instead of calling the action. `headers` go out with it (Retry-After, WWW-Authenticate). */
export class HttpError extends Error {
	constructor(
		readonly code: number,
		message: string,
		readonly type: string,
		readonly headers: Record<string, string> = {},
		readonly data?: Record<string, unknown>,
	) {
		super(message);
	}
}

/** GET, HEAD and OPTIONS read; every other method changes something. */
export function isReadMethod(method: string | undefined): boolean {
	return method === "GET" || method === "HEAD" || method === "OPTIONS";
}

const sha256 = (s: string): Buffer => createHash("sha256").update(s).digest();
/** Digests of the configured tokens: they do not change, so they are hashed once, not at every request. */
const expectedDigests = new Map<string, Buffer>();

/** Constant-time comparison: both sides hashed to the same length first, so neither content nor length leaks. */
export function tokenMatches(given: string, expected: string): boolean {
	let b = expectedDigests.get(expected);
	if (!b) expectedDigests.set(expected, (b = sha256(expected)));
	return timingSafeEqual(sha256(given), b);
}

export function bearerOf(header: string | string[] | undefined): string | null {
	if (typeof header !== "string") return null;
	const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
	return m ? m[1] : null;
}

/** The Authorization header a client of this API (npm run replay, npm run backfill) sends for a method: the write token, or for reads the read token (else the write token). */
export function clientAuthorization(tokens: { apiToken: string | null; apiReadToken: string | null }, method: string): Record<string, string> {
	const t = isReadMethod(method) ? (tokens.apiReadToken ?? tokens.apiToken) : tokens.apiToken;
	return t ? { authorization: `Bearer ${t}` } : {};
}

export interface AccessRules {
	/** Required on mutating requests when set; also grants reads. */
	token: string | null;
	/** Required on reads when set. */
	readToken: string | null;
	/** Paths readable without a token even when readToken is set (liveness and readiness probes). */
	openReadPaths: ReadonlySet<string>;
}

/** Throws a 401 HttpError when the request lacks the token its method needs. The token is never echoed. */
export function checkAccess(method: string | undefined, path: string, authorization: string | string[] | undefined, rules: AccessRules): void {
	const read = isReadMethod(method);
	if (read && method === "OPTIONS") return; // CORS preflight carries no credentials
	const accepted = read ? [rules.readToken, rules.token].filter((t): t is string => t !== null) : rules.token ? [rules.token] : [];
	if (read && (rules.readToken === null || rules.openReadPaths.has(path))) return;
	if (!accepted.length) return;
	const given = bearerOf(authorization);
	const ok = given !== null && accepted.map((t) => tokenMatches(given, t)).some(Boolean); // compare with every token: no early exit
	if (ok) return;
	const what = read ? "API_READ_TOKEN or API_TOKEN" : "API_TOKEN";
	throw new HttpError(401, given === null ? `send "Authorization: Bearer <token>" (${what})` : `the bearer token is not valid for ${read ? "reads" : "writes"}`, "UNAUTHORIZED", {
		"WWW-Authenticate": 'Bearer realm="mdp"',
	});
}

/**
 * Token bucket per client: `burst` requests at once, refilled at `perMin` a minute. Idle full buckets are
 * forgotten so a scan of many addresses cannot grow the map without bound.
 */
export class ClientRateLimiter {
	private buckets = new Map<string, { tokens: number; at: number }>();
	private lastSweep = 0;

	constructor(
		private readonly perMin: number,
		private readonly burst: number,
		private readonly now: () => number = Date.now,
	) {}

	/** Takes one token; null when allowed, else the seconds until the next token. */
	take(client: string): number | null {
		const t = this.now();
		const ratePerMs = this.perMin / 60_000;
		this.sweep(t, ratePerMs);
		const b = this.buckets.get(client) ?? { tokens: this.burst, at: t };
		b.tokens = Math.min(this.burst, b.tokens + (t - b.at) * ratePerMs);
		b.at = t;
		this.buckets.set(client, b);
		if (b.tokens >= 1) {
			b.tokens -= 1;
			return null;
		}
		return Math.max(1, Math.ceil((1 - b.tokens) / ratePerMs / 1000));
	}

	private sweep(t: number, ratePerMs: number): void {
		if (t - this.lastSweep < 60_000) return;
		this.lastSweep = t;
		for (const [k, b] of this.buckets) if (b.tokens + (t - b.at) * ratePerMs >= this.burst) this.buckets.delete(k);
	}
}

export function tooLarge(limit: number, what = "request body"): HttpError {
	return new HttpError(413, `${what} larger than ${limit} bytes`, "PAYLOAD_TOO_LARGE", {}, { limit });
}

/** 413 when the declared Content-Length is past the limit: refused before one byte is read. */
export function checkDeclaredLength(req: IncomingMessage, limit: number): void {
	const cl = req.headers["content-length"];
	if (cl !== undefined && Number(cl) > limit) throw tooLarge(limit);
}

/**
 * Read a whole body of at most `limit` bytes, counting what arrives (a chunked body declares no length).
 * Past the limit it stops keeping data and rejects with 413; the rest of the body is discarded.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
	checkDeclaredLength(req, limit);
	return new Promise((resolve, reject) => {
		const chunks: Buffer[] = [];
		let size = 0;
		const cleanup = () => {
			req.off("data", onData);
			req.off("end", onEnd);
			req.off("error", onError);
		};
		const onData = (c: Buffer) => {
			size += c.length;
			if (size > limit) {
				cleanup();
				chunks.length = 0;
				req.resume(); // discard the rest rather than hold the socket's data
				reject(tooLarge(limit));
				return;
			}
			chunks.push(c);
		};
		const onEnd = () => {
			cleanup();
			resolve(Buffer.concat(chunks));
		};
		const onError = (err: Error) => {
			cleanup();
			reject(err);
		};
		req.on("data", onData);
		req.on("end", onEnd);
		req.on("error", onError);
	});
}

/** A JSON object body (or none). Anything else is a 400 naming the body. */
export function parseJsonBody(buf: Buffer, contentType: string | undefined): Record<string, unknown> {
	if (buf.length === 0) return {};
	if (contentType && !/^application\/(.+\+)?json\b/i.test(contentType)) throw new HttpError(415, `send the body as application/json, not ${contentType}`, "UNSUPPORTED_MEDIA_TYPE", {}, { param: "body" });
	let v: unknown;
	try {
		v = JSON.parse(buf.toString("utf8"));
	} catch (err) {
		throw new HttpError(400, `body is not JSON: ${(err as Error).message}`, "INVALID_PARAMETER", {}, { param: "body" });
	}
	if (v === null || typeof v !== "object" || Array.isArray(v)) throw new HttpError(400, "body must be a JSON object", "INVALID_PARAMETER", {}, { param: "body" });
	return v as Record<string, unknown>;
}
