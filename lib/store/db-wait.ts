import type { Pool } from "pg";

/**
 * Reaching PostgreSQL at start-up: retried with backoff instead of exiting, each failure classified so
 * readiness can name it ("unreachable", "auth-failed") without quoting the driver's message.
 */
export type DatabaseState = "ok" | "unreachable" | "auth-failed" | "missing" | "tls-failed" | "error";

/** What kind of failure a pg error is; the message itself stays in the (masked) log. */
export function classifyDbError(err: unknown): DatabaseState {
	const e = err as { code?: string; message?: string } | null;
	const code = e?.code ?? "";
	if (code === "28P01" || code === "28000") return "auth-failed"; // invalid_password, invalid_authorization_specification
	if (code === "3D000") return "missing"; // invalid_catalog_name: the database does not exist
	if (["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ECONNRESET", "57P03"].includes(code)) return "unreachable";
	if (/\bSSL\b|TLS|certificate|self[- ]signed/i.test(e?.message ?? "")) return "tls-failed";
	if (/timeout|terminated|ECONNREFUSED/i.test(e?.message ?? "")) return "unreachable";
	return "error";
}

const HINT: Record<DatabaseState, string> = {
	ok: "",
	unreachable: "is the server up and DATABASE_URL's host and port right?",
	"auth-failed": "authentication failed: check the user and password in DATABASE_URL",
	missing: "the database named in DATABASE_URL does not exist",
	"tls-failed": "TLS failed: check sslmode (and sslrootcert) in DATABASE_URL against the server's TLS setup",
	error: "",
};

export interface DbWaitOptions {
	logger: { info(...a: unknown[]): void; warn(...a: unknown[]): void; error(...a: unknown[]): void };
	/** Where the URL is shown in the log: masked (lib/security/secrets maskUrl). */
	where: string;
	maxBackoffMs: number;
	baseBackoffMs?: number;
	onState?: (s: DatabaseState) => void;
	signal?: AbortSignal;
}

/** Resolves once `SELECT 1` answers; until then logs each failure (auth failures as errors) and waits 0.5 s, 1 s, 2 s... up to maxBackoffMs. */
export async function waitForDatabase(pool: Pool, o: DbWaitOptions): Promise<void> {
	let delay = o.baseBackoffMs ?? 500;
	for (let attempt = 1; ; attempt++) {
		try {
			await pool.query("SELECT 1");
			o.onState?.("ok");
			if (attempt > 1) o.logger.info(`database ${o.where} reachable after ${attempt} attempts`);
			return;
		} catch (err) {
			const state = classifyDbError(err);
			o.onState?.(state);
			const line = `database ${o.where} not ready (${state}): ${(err as Error).message}${HINT[state] ? ` - ${HINT[state]}` : ""}; retrying in ${delay} ms`;
			if (state === "auth-failed" || state === "missing" || state === "tls-failed") o.logger.error(line);
			else o.logger.warn(line);
		}
		if (o.signal?.aborted) throw new Error("stopped while waiting for the database");
		await new Promise<void>((r) => {
			const t = setTimeout(r, delay);
			o.signal?.addEventListener("abort", () => (clearTimeout(t), r()), { once: true });
		});
		if (o.signal?.aborted) throw new Error("stopped while waiting for the database");
		delay = Math.min(o.maxBackoffMs, delay * 2);
	}
}
