import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { ALL_SERVICES } from "../../lib/config";

/** What the deployment files (k8s/, compose.yaml) are checked against: the code's services, environment and image. */
export const ROOT = path.resolve(__dirname, "../..");
const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { name: string; version: string };
export const IMAGE = `${pkg.name}:${pkg.version}`;

/** Read by libraries rather than by our code: node-postgres takes the password from PGPASSWORD. */
export const ENV_READ_BY_LIBRARIES = ["PGPASSWORD"];

export const KNOWN_SERVICES = new Set<string>(ALL_SERVICES);

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

/** Names a deployment file may set: read by our code or by a library. */
export function allowedEnv(): Set<string> {
	return new Set([...envReadByCode(), ...ENV_READ_BY_LIBRARIES]);
}
