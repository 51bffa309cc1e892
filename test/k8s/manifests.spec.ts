import { readFileSync } from "node:fs";
import path from "node:path";
import { ALL_SERVICES, loadConfig } from "../../lib/config";
import { HEALTH_PATHS } from "../../lib/ops/health";
import { byKind, containerEnv, parseEnvFile, renderOverlay, K8S_DIR, type K8sObject } from "../../lib/ops/manifests";
import ApiService from "../../services/api.service";
import { allowedEnv, envReadByCode, IMAGE, KNOWN_SERVICES, ROOT } from "../helpers/deploy-consistency";

/** Set for the infrastructure's own images (k8s/infra), not for ours. */
const INFRA_IMAGES = /^(nats|redis|timescale\/timescaledb|apachepulsar\/pulsar):/;

/** kubernetes-models is ESM-only: load it with Node's own require (Jest's cannot), by file (its exports map is import-only). */
const nodeRequire = process.getBuiltinModule("node:module").createRequire(__filename);
function validatorOf(o: K8sObject): (obj: K8sObject) => void {
	// "apps/v1" and "v1" are both folders of the package
	const mod = nodeRequire(path.join(ROOT, "node_modules/kubernetes-models", o.apiVersion, "index.js")) as Record<string, new (d: unknown) => { validate(): void }>;
	const Model = mod[o.kind];
	if (!Model) throw new Error(`no Kubernetes schema for ${o.apiVersion} ${o.kind}`);
	return (obj) => new Model(obj).validate();
}

/** The api's routes as "/api/<path>" (the probes must hit one of them). */
function apiGetPaths(): Set<string> {
	const out = new Set<string>();
	for (const route of (ApiService.settings as { routes: { path: string; aliases: Record<string, string> }[] }).routes) {
		for (const alias of Object.keys(route.aliases)) {
			const [method, p] = alias.split(" ");
			if (method === "GET") out.add(`${route.path}/${p}`);
		}
	}
	return out;
}

const OVERLAYS = ["dev", "prod"] as const;
const rendered: Record<string, K8sObject[]> = Object.fromEntries(OVERLAYS.map((o) => [o, renderOverlay(o)]));
const codeEnv = envReadByCode();
const knownServices = KNOWN_SERVICES;

function ours(objects: K8sObject[]): K8sObject[] {
	return byKind(objects, "Deployment").filter((d) => d.metadata.labels?.["app.kubernetes.io/part-of"] === "market-data-pipeline");
}

describe.each(OVERLAYS)("k8s overlay %s", (overlay) => {
	const objects = rendered[overlay];
	const deployments = ours(objects);

	it("renders, and every object is valid against the Kubernetes schemas", () => {
		expect(objects.length).toBeGreaterThan(15);
		const errors: string[] = [];
		for (const o of objects) {
			try {
				validatorOf(o)(o);
			} catch (err) {
				errors.push(`${o.kind}/${o.metadata.name}: ${(err as Error).message}`);
			}
		}
		expect(errors).toEqual([]);
	});

	it("has one Deployment per service, each running real services", () => {
		const names = deployments.map((d) => d.metadata.name).sort();
		expect(names).toEqual([...knownServices].sort());
		for (const d of deployments) {
			const env = d.spec.template.spec.containers[0].env as { name: string; value?: string }[];
			const services = env.find((e) => e.name === "SERVICES")!.value!.split(",");
			for (const s of services) expect(knownServices).toContain(s);
		}
	});

	it("gives every container an environment the configuration accepts for a cluster", () => {
		for (const d of deployments) {
			const c = d.spec.template.spec.containers[0];
			const env = containerEnv(objects, c, `${d.metadata.name}-pod-0`);
			const services = env.SERVICES.split(",").filter((s) => (ALL_SERVICES as readonly string[]).includes(s));
			if (services.length === 0) continue; // a service of another branch: its config lands with it
			const config = loadConfig({ ...env, SERVICES: services.join(",") });
			expect({ d: d.metadata.name, transporter: !!config.transporter, db: !!config.databaseUrl, log: config.marketLog !== "memory", redis: !!config.redisUrl, nodeId: config.nodeId }).toEqual({
				d: d.metadata.name,
				transporter: true,
				db: true,
				log: true,
				redis: true,
				nodeId: `${d.metadata.name}-pod-0`,
			});
			expect(config.logFormat).toBe("json");
		}
	});

	it("sets only environment variables the code reads", () => {
		const allowed = allowedEnv();
		const unknown: string[] = [];
		for (const d of deployments) {
			const spec = d.spec.template.spec;
			for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
				for (const name of Object.keys(containerEnv(objects, c, "pod"))) if (!allowed.has(name)) unknown.push(`${d.metadata.name}/${c.name}: ${name}`);
			}
		}
		expect(unknown).toEqual([]);
	});

	it("keeps only Secret keys the code reads, from a committed example", () => {
		const secrets = byKind(objects, "Secret");
		expect(secrets).toHaveLength(1);
		const keys = Object.keys(secrets[0].data).sort();
		const example = parseEnvFile(readFileSync(path.join(K8S_DIR, "overlays", overlay, "secrets.env.example"), "utf8"));
		expect(keys).toEqual(Object.keys(example).sort());
		for (const k of ["PGPASSWORD", "OANDA_API_KEY", "PULSAR_TOKEN", "API_TOKEN"]) expect(keys).toContain(k);
		const readable = allowedEnv();
		for (const k of keys) expect(readable).toContain(k);
		// every reference reaches it
		const refs = JSON.stringify(objects).match(/"secretKeyRef":\{[^}]*\}/g) ?? [];
		for (const r of refs) expect(r).toContain(`"name":"${secrets[0].metadata.name}"`);
		const apiEnv = deployments.find((d) => d.metadata.name === "api")!.spec.template.spec.containers[0].env;
		expect(apiEnv.find((e: { name: string }) => e.name === "API_TOKEN").valueFrom.secretKeyRef.key).toBe("API_TOKEN");
	});

	it("probes real paths on real ports; liveness never asks the database or a venue", () => {
		const apiPaths = apiGetPaths();
		for (const d of deployments) {
			const c = d.spec.template.spec.containers[0];
			const env = containerEnv(objects, c, "pod");
			const config = loadConfig({ ...env, SERVICES: "api" });
			const ports: Record<string, number> = Object.fromEntries(c.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]));
			expect(ports.metrics).toBe(config.metricsPort);
			expect(ports.health).toBe(config.healthPort);
			if (ports.http !== undefined) expect(ports.http).toBe(config.port);
			for (const probe of [c.readinessProbe, c.livenessProbe]) {
				expect(ports[probe.httpGet.port]).toBeDefined();
				const p = probe.httpGet.path as string;
				if (probe.httpGet.port === "health") expect(Object.values(HEALTH_PATHS)).toContain(p);
				else {
					expect(env.SERVICES.split(",")).toContain("api");
					expect(apiPaths).toContain(p);
				}
			}
			expect(c.livenessProbe.httpGet.path).toBe(HEALTH_PATHS.live);
			expect(c.readinessProbe.httpGet.path).toBe(env.SERVICES.split(",").includes("api") ? "/api/ready" : HEALTH_PATHS.ready);
		}
	});

	it("runs every container of ours from one image, locked down, with requests and limits", () => {
		for (const d of deployments) {
			const spec = d.spec.template.spec;
			expect(spec.securityContext).toMatchObject({ runAsNonRoot: true });
			expect(d.spec.template.metadata.annotations).toMatchObject({ "prometheus.io/scrape": "true", "prometheus.io/port": "3030" });
			for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
				expect(`${d.metadata.name}/${c.name} ${c.image}`).toBe(`${d.metadata.name}/${c.name} ${IMAGE}`);
				expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
				expect(c.resources.requests).toEqual(expect.objectContaining({ cpu: expect.any(String), memory: expect.any(String) }));
				expect(c.resources.limits).toEqual(expect.objectContaining({ memory: expect.any(String) }));
			}
			const env = spec.containers[0].env as { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
			for (const n of ["POD_NAME", "NODE_ID"]) expect(env.find((e) => e.name === n)?.valueFrom?.fieldRef?.fieldPath).toBe("metadata.name");
		}
		const others = byKind(objects, "StatefulSet").concat(byKind(objects, "Deployment")).flatMap((o) => o.spec.template.spec.containers).map((c: { image: string }) => c.image).filter((i: string) => i !== IMAGE);
		for (const i of others) expect(i).toMatch(INFRA_IMAGES);
	});

	it("autoscales tick-writer and api, and budgets disruptions of every multi-replica service", () => {
		const hpas = byKind(objects, "HorizontalPodAutoscaler").map((h) => h.spec.scaleTargetRef.name).sort();
		expect(hpas).toEqual(["api", "tick-writer"]);
		const refresher = deployments.find((d) => d.metadata.name === "cascade-refresher")!;
		expect(refresher.spec.replicas).toBe(2);
		const pdbApps = new Set(byKind(objects, "PodDisruptionBudget").map((p) => p.spec.selector.matchLabels.app));
		for (const d of deployments) if (d.spec.replicas > 1) expect(pdbApps).toContain(d.metadata.name);
		for (const app of pdbApps) expect(deployments.find((d) => d.metadata.name === app)).toBeDefined();
	});
});

describe("k8s overlays", () => {
	it("dev carries its own infrastructure with volumes; prod points at external services with more replicas", () => {
		const dev = rendered.dev;
		const sts = Object.fromEntries(byKind(dev, "StatefulSet").map((s) => [s.metadata.name, s]));
		expect(Object.keys(sts).sort()).toEqual(["nats", "pulsar", "timescaledb"]);
		for (const s of Object.values(sts)) expect(s.spec.volumeClaimTemplates).toHaveLength(1);
		expect(sts.nats.spec.template.spec.containers[0].args).toContain("--jetstream");
		expect(byKind(dev, "Deployment").map((d) => d.metadata.name)).toContain("redis");
		for (const svc of ["nats", "redis", "timescaledb", "pulsar"]) expect(byKind(dev, "Service").map((s) => s.metadata.name)).toContain(svc);
		const prod = rendered.prod;
		expect(byKind(prod, "StatefulSet")).toHaveLength(0);
		const prodConfig = byKind(prod, "ConfigMap")[0].data;
		for (const k of ["TRANSPORTER", "NATS_URL", "REDIS_URL", "DATABASE_URL", "PULSAR_URL"]) expect(prodConfig[k]).not.toBe(byKind(dev, "ConfigMap")[0].data[k]);
		const replicas = (objs: K8sObject[], name: string) => byKind(objs, "Deployment").find((d) => d.metadata.name === name)!.spec.replicas;
		expect(replicas(prod, "api")).toBeGreaterThan(replicas(dev, "api"));
		expect(replicas(prod, "tick-writer")).toBeGreaterThan(replicas(dev, "tick-writer"));
	});

	it("the schema validation rejects a broken object", () => {
		const d = ours(rendered.dev)[0];
		const broken = JSON.parse(JSON.stringify(d));
		broken.spec.replicas = "two";
		expect(() => validatorOf(broken)(broken)).toThrow(/replicas/);
	});

	it("the image build script and the Dockerfile agree on the image", () => {
		expect(readFileSync(path.join(ROOT, "bin/image-build.sh"), "utf8")).toContain(`IMAGE=\${IMAGE:-${IMAGE}}`);
		expect(readFileSync(path.join(ROOT, "Dockerfile"), "utf8")).toMatch(/ENTRYPOINT \["node", "bin\/start\.js"\]/);
	});
});
