import { redactUrl } from "./topics";

/**
 * The few calls of Pulsar's admin REST API (v2) the log needs, over fetch. The JWT goes in the
 * Authorization header only, never into a URL, so no error message or log line can carry it.
 *
 *   GET  /admin/v2/persistent/{tenant}/{namespace}             topics of a namespace
 *   PUT  /admin/v2/persistent/{tenant}/{namespace}/{topic}     create a non-partitioned topic (409: exists)
 *   GET  /admin/v2/namespaces/{tenant}                         namespaces of a tenant
 *   PUT  /admin/v2/namespaces/{tenant}/{namespace}             create a namespace (409: exists)
 *   POST /admin/v2/namespaces/{tenant}/{namespace}/deduplication   body true|false
 */
export class PulsarAdminError extends Error {
	constructor(
		message: string,
		readonly status: number,
	) {
		super(message);
	}
}

export interface PulsarAdminOptions {
	/** e.g. http://127.0.0.1:8080 */
	url: string;
	token?: string;
	timeoutMs?: number;
}

export class PulsarAdmin {
	private readonly base: string;
	constructor(private readonly o: PulsarAdminOptions) {
		this.base = o.url.replace(/\/+$/, "");
	}

	private async call(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
		const headers: Record<string, string> = { accept: "application/json" };
		if (this.o.token) headers.authorization = `Bearer ${this.o.token}`;
		if (body !== undefined) headers["content-type"] = "application/json";
		const where = `${method} ${redactUrl(this.base)}${path}`;
		let res: Response;
		try {
			res = await fetch(this.base + path, {
				method,
				headers,
				body: body === undefined ? undefined : JSON.stringify(body),
				signal: AbortSignal.timeout(this.o.timeoutMs ?? 10_000),
			});
		} catch (e) {
			throw new PulsarAdminError(`pulsar admin ${where}: ${(e as Error).message}`, 0);
		}
		return { status: res.status, text: await res.text() };
	}

	private fail(method: string, path: string, r: { status: number; text: string }): never {
		let reason = r.text.slice(0, 300);
		try {
			reason = (JSON.parse(r.text) as { reason?: string }).reason ?? reason;
		} catch {
			// not JSON: keep the text
		}
		const hint = r.status === 401 || r.status === 403 ? " (check PULSAR_TOKEN)" : "";
		throw new PulsarAdminError(`pulsar admin ${method} ${redactUrl(this.base)}${path}: HTTP ${r.status} ${reason}${hint}`, r.status);
	}

	/** Full names (persistent://tenant/ns/local) of the non-partitioned persistent topics of a namespace. */
	async listTopics(namespace: string): Promise<string[]> {
		const path = `/admin/v2/persistent/${namespace}`;
		const r = await this.call("GET", path);
		if (r.status !== 200) this.fail("GET", path, r);
		const list = JSON.parse(r.text) as unknown;
		if (!Array.isArray(list)) throw new PulsarAdminError(`pulsar admin GET ${path}: expected a JSON array`, r.status);
		return list.filter((x): x is string => typeof x === "string");
	}

	/** Create a non-partitioned topic; false when it existed already. */
	async createTopic(restPath: string): Promise<boolean> {
		const path = `/admin/v2/${restPath}`;
		const r = await this.call("PUT", path);
		if (r.status === 409) return false;
		if (r.status >= 300) this.fail("PUT", path, r);
		return true;
	}

	async listNamespaces(tenant: string): Promise<string[]> {
		const path = `/admin/v2/namespaces/${tenant}`;
		const r = await this.call("GET", path);
		if (r.status !== 200) this.fail("GET", path, r);
		return JSON.parse(r.text) as string[];
	}

	/** Create "tenant/namespace"; false when it existed already. */
	async createNamespace(namespace: string): Promise<boolean> {
		const path = `/admin/v2/namespaces/${namespace}`;
		const r = await this.call("PUT", path, {});
		if (r.status === 409) return false;
		if (r.status >= 300) this.fail("PUT", path, r);
		return true;
	}

	/** Turn broker-side deduplication (producer name + sequence id) on or off for a namespace. */
	async setDeduplication(namespace: string, enabled: boolean): Promise<void> {
		const path = `/admin/v2/namespaces/${namespace}/deduplication`;
		const r = await this.call("POST", path, enabled);
		if (r.status >= 300) this.fail("POST", path, r);
	}
}
