/**
 * The one way this project opens a Redis connection: password and user from the URL (redis://user:pass@host),
 * TLS for rediss:// (with REDIS_TLS_CA's certificate authority when set), and a connection state that says
 * why Redis is unusable. ioredis retries a refused password forever and only emits 'error': without this
 * an authentication failure looked like "no leader", silently. Each change of state is logged once.
 */
import { readFileSync } from "node:fs";
import Redis, { type RedisOptions } from "ioredis";
import type { Logger } from "../store/pool";

export type RedisProblem = "auth-failed" | "unreachable";

export interface RedisClientOptions {
	/** PEM file of the certificate authority for rediss:// (default: the system's). */
	tlsCaFile?: string;
	/** Named in log lines, e.g. "lease cascade-refresher". */
	what: string;
	logger?: Logger;
	ioredis?: RedisOptions;
}

export interface WatchedRedis {
	client: Redis;
	/** Why Redis cannot be used right now; null while connected and authenticated. */
	problem(): RedisProblem | null;
}

const AUTH_ERROR = /WRONGPASS|NOAUTH|invalid password|invalid username-password|AUTH.*(failed|without any password)/i;

export function isRedisAuthError(err: unknown): boolean {
	return AUTH_ERROR.test((err as Error)?.message ?? "");
}

/** The URL without its password, for log lines. */
export function redactRedisUrl(url: string): string {
	try {
		const u = new URL(url);
		if (u.password) u.password = "***";
		return u.toString();
	} catch {
		return "(unparsable REDIS_URL)";
	}
}

export function createRedisClient(url: string, opts: RedisClientOptions): WatchedRedis {
	const tls = url.startsWith("rediss:") && opts.tlsCaFile ? { ca: readFileSync(opts.tlsCaFile) } : undefined;
	const client = new Redis(url, { ...(tls ? { tls } : {}), ...opts.ioredis });
	// Not usable until the first 'ready'; `said` is the state last logged (undefined: none yet).
	let problem: RedisProblem | null = "unreachable";
	let said: RedisProblem | null | undefined;
	const where = redactRedisUrl(url);
	const set = (p: RedisProblem | null, detail: string) => {
		problem = p;
		if (p === said) return;
		said = p;
		if (p === "auth-failed") opts.logger?.error(`${opts.what}: Redis at ${where} refused our credentials (${detail}); check REDIS_URL's user and password`);
		else if (p === "unreachable") opts.logger?.warn(`${opts.what}: Redis at ${where} unreachable (${detail})`);
		else opts.logger?.info(`${opts.what}: Redis at ${where} connected`);
	};
	client.on("error", (err: Error) => set(isRedisAuthError(err) ? "auth-failed" : problem === "auth-failed" ? "auth-failed" : "unreachable", err.message));
	client.on("ready", () => set(null, "ready"));
	// Lost connections are reported by the 'error' of the reconnect attempts; 'end' is also our own close: no line.
	client.on("close", () => (problem ??= "unreachable"));
	return { client, problem: () => problem };
}

/**
 * Wait (at most `ms`) for a connection still being made to succeed or fail, so a first look right after
 * the client was created does not report "unreachable" for "not connected yet".
 */
export function settled(w: WatchedRedis, ms: number): Promise<void> {
	if (!["connecting", "connect", "reconnecting"].includes(w.client.status) || w.problem() === "auth-failed") return Promise.resolve();
	return new Promise((resolve) => {
		const done = () => {
			clearTimeout(timer);
			w.client.off("ready", done);
			w.client.off("error", done);
			resolve();
		};
		const timer = setTimeout(done, ms);
		w.client.once("ready", done);
		w.client.once("error", done);
	});
}
