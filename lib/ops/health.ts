import http from "node:http";
import type { AddressInfo } from "node:net";

/** What readiness reports per dependency: "ok" or why not. */
export type ReadinessChecks = Record<string, string>;

export interface HealthServer {
	port: number;
	close(): Promise<void>;
}

/** The probe paths, shared with the manifests' consistency test. */
export const HEALTH_PATHS = { live: "/livez", ready: "/readyz" } as const;

/**
 * Probe endpoints for pods that run no api (HEALTH_PORT). `/livez` answers while the process and its event
 * loop do: it never depends on a venue or the database, so an outage there does not restart pods.
 * `/readyz` runs the real readiness checks (database, market log) and answers 503 with them when one fails.
 */
export function startHealthServer(port: number, ready: () => Promise<ReadinessChecks>, host = "0.0.0.0"): Promise<HealthServer> {
	const server = http.createServer((req, res) => {
		const send = (status: number, body: unknown) => {
			res.writeHead(status, { "content-type": "application/json" });
			res.end(JSON.stringify(body));
		};
		const path = (req.url ?? "").split("?")[0];
		if (req.method !== "GET") return send(405, { error: "GET only" });
		if (path === HEALTH_PATHS.live) return send(200, { status: "ok", uptimeSeconds: Math.round(process.uptime()) });
		if (path !== HEALTH_PATHS.ready) return send(404, { error: "not found" });
		ready().then(
			(checks) => send(Object.values(checks).every((v) => v === "ok") ? 200 : 503, { status: Object.values(checks).every((v) => v === "ok") ? "ready" : "not ready", checks }),
			(err: Error) => send(503, { status: "not ready", error: err.message }),
		);
	});
	return new Promise((resolve, reject) => {
		server.once("error", reject);
		server.listen(port, host, () => {
			server.off("error", reject);
			resolve({
				port: (server.address() as AddressInfo).port,
				close: () => new Promise<void>((r) => server.close(() => r())),
			});
		});
	});
}
