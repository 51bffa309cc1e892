/**
 * Secrets kept out of every log line, error and answer. Two layers: URLs are printed with their password
 * masked (maskUrl), and the process's output streams replace any configured secret value that still
 * reaches them (a driver's error message quoting a URL, a stack trace), so a slip elsewhere cannot leak one.
 */

const MASK = "***";

/** `scheme://user:password@host/...` with the password (or a lone token in the user part of a URL that has no password) replaced by ***. */
export function maskUrl(url: string): string {
	return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^/@?#]*)@/i, (_m, scheme: string, cred: string) => {
		const i = cred.indexOf(":");
		return `${scheme}${i >= 0 ? `${cred.slice(0, i)}:${MASK}` : cred}@`;
	});
}

/** The password of a URL (percent-decoded and as written), or nothing. */
function urlPasswords(url: string | undefined): string[] {
	if (!url) return [];
	const m = /^[a-z][a-z0-9+.-]*:\/\/[^/@?#:]*:([^/@?#]*)@/i.exec(url);
	if (!m || !m[1]) return [];
	let decoded = m[1];
	try {
		decoded = decodeURIComponent(m[1]);
	} catch {
		/* keep it as written */
	}
	const pw = url.match(/[?&]password=([^&#]+)/);
	return [...new Set([m[1], decoded, ...(pw ? [pw[1]] : [])])];
}

/** Every secret value the environment configures: URL passwords, tokens, password variables. */
export function secretsOf(env: NodeJS.ProcessEnv): string[] {
	const out = new Set<string>();
	for (const [k, v] of Object.entries(env)) {
		if (!v) continue;
		if (/_URL$|^TRANSPORTER$/.test(k)) for (const p of urlPasswords(v)) out.add(p);
		if (/(TOKEN|PASSWORD|SECRET)$/.test(k) || k === "PGPASSWORD") out.add(v);
	}
	// Short values would mask ordinary words and numbers in the log; a secret that short is no secret anyway.
	return [...out].filter((s) => s.length >= 4);
}

function escapeRe(s: string): string {
	return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A function that replaces every given secret in a text with ***. */
export function redactor(secrets: string[]): (text: string) => string {
	const list = [...new Set(secrets.filter(Boolean))].sort((a, b) => b.length - a.length);
	if (!list.length) return (t) => t;
	const re = new RegExp(list.map(escapeRe).join("|"), "g");
	return (t) => t.replace(re, MASK);
}

/**
 * Wrap process.stdout and process.stderr so no configured secret is ever written to them. Returns a
 * function that undoes it (tests).
 */
export function redactProcessOutput(secrets: string[]): () => void {
	const redact = redactor(secrets);
	const undo: (() => void)[] = [];
	for (const stream of [process.stdout, process.stderr]) {
		const write = stream.write.bind(stream) as (...a: unknown[]) => boolean;
		stream.write = ((chunk: unknown, ...rest: unknown[]) => {
			if (typeof chunk === "string") return write(redact(chunk), ...rest);
			if (chunk instanceof Uint8Array) return write(redact(Buffer.from(chunk).toString("utf8")), ...rest);
			return write(chunk, ...rest);
		}) as typeof stream.write;
		undo.push(() => (stream.write = write as typeof stream.write));
	}
	return () => undo.forEach((f) => f());
}
