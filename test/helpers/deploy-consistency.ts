import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { ALL_SERVICES } from "../../lib/config";

/** What the deployment files (k8s/, compose.yaml) are checked against: the code's services, environment and image. */
export const ROOT = path.resolve(__dirname, "../..");
const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { name: string; version: string };
export const IMAGE = `${pkg.name}:${pkg.version}`;

/** Deployed by the manifests, written on other branches (catalog, books, oanda): removed from here at their merge. */
export const SERVICES_LANDING_FROM_OTHER_BRANCHES = ["symbol-catalog", "orderbook-poller", "oanda-stream"];
/** Environment the manifests give that code on other branches reads (access: API tokens; oanda: account): removed at their merge. */
export const ENV_LANDING_FROM_OTHER_BRANCHES = ["API_TOKEN", "API_READ_TOKEN", "OANDA_API_KEY", "OANDA_ACCOUNT_ID"];
/** Read by libraries rather than by our code: node-postgres takes the password from PGPASSWORD. */
export const ENV_READ_BY_LIBRARIES = ["PGPASSWORD"];

export const KNOWN_SERVICES = new Set<string>([...ALL_SERVICES, ...SERVICES_LANDING_FROM_OTHER_BRANCHES]);

/** Every environment variable name our code reads (lib/config.ts and the entry points). */
export function envReadByCode(): Set<string> {
	const names = new Set<string>();
	const files = ["moleculer.config.ts"];
	const walk = (dir: string) => {
		for (const e of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
			const rel = path.join(dir, e.name);
			if (e.isDirectory()) walk(rel);
			else if (e.name.endsWith(".ts")) files.push(rel);
		}
	};
	for (const d of ["lib", "bin", "services", "mixins"]) walk(d);
	const re = /env\.([A-Z][A-Z0-9_]+)|env, "([A-Z][A-Z0-9_]+)"|env\["([A-Z][A-Z0-9_]+)"\]/g;
	for (const f of files) for (const m of readFileSync(path.join(ROOT, f), "utf8").matchAll(re)) names.add(m[1] ?? m[2] ?? m[3]);
	return names;
}

/** Names a deployment file may set: read by our code, by a library, or by code landing from another branch. */
export function allowedEnv(): Set<string> {
	return new Set([...envReadByCode(), ...ENV_READ_BY_LIBRARIES, ...ENV_LANDING_FROM_OTHER_BRANCHES]);
}
