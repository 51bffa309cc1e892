import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseAllDocuments } from "yaml";

/** A rendered Kubernetes object (what `kubectl kustomize` prints), loosely typed. */
export interface K8sObject {
	apiVersion: string;
	kind: string;
	metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
	[key: string]: any;
}

export const K8S_DIR = path.resolve(__dirname, "../../k8s");

/** kubectl (kustomize v5 inside); KUBECTL overrides the path. */
export function kubectlPath(): string {
	return process.env.KUBECTL || "kubectl";
}

/** Parse a multi-document YAML stream into objects. */
export function parseObjects(text: string): K8sObject[] {
	return parseAllDocuments(text)
		.map((d) => d.toJS() as K8sObject | null)
		.filter((o): o is K8sObject => !!o);
}

/** KEY=value lines of an env file (comments and blank lines skipped). */
export function parseEnvFile(text: string): Record<string, string> {
	const out: Record<string, string> = {};
	for (const line of text.split("\n")) {
		const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
		if (m) out[m[1]] = m[2];
	}
	return out;
}

/**
 * Render an overlay with `kubectl kustomize`. The overlays' Secret comes from an untracked secrets.env;
 * rendering works on a copy of k8s/ where each missing secrets.env is its committed .example.
 */
export function renderOverlay(overlay: string, k8sDir = K8S_DIR): K8sObject[] {
	const tmp = mkdtempSync(path.join(os.tmpdir(), "mdp-k8s-"));
	try {
		cpSync(k8sDir, tmp, { recursive: true });
		const overlays = path.join(tmp, "overlays");
		for (const o of readdirSync(overlays)) {
			const secrets = path.join(overlays, o, "secrets.env");
			const example = `${secrets}.example`;
			if (!existsSync(secrets) && existsSync(example)) writeFileSync(secrets, readFileSync(example));
		}
		const out = execFileSync(kubectlPath(), ["kustomize", path.join(overlays, overlay)], { encoding: "utf8", maxBuffer: 64 << 20 });
		return parseObjects(out);
	} finally {
		rmSync(tmp, { recursive: true, force: true });
	}
}

export function byKind(objects: K8sObject[], kind: string): K8sObject[] {
	return objects.filter((o) => o.kind === kind);
}

/**
 * The environment a container gets from the rendered objects: ConfigMaps named by envFrom, then `env`
 * (literal values, ConfigMap/Secret keys, and the downward API's metadata.name as `podName`).
 */
export function containerEnv(objects: K8sObject[], container: any, podName: string): Record<string, string> {
	const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);
	const dataOf = (o: K8sObject | undefined): Record<string, string> => {
		if (!o) return {};
		if (o.kind === "Secret") return Object.fromEntries(Object.entries((o.data ?? {}) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
		return (o.data ?? {}) as Record<string, string>;
	};
	const env: Record<string, string> = {};
	for (const src of container.envFrom ?? []) {
		if (src.configMapRef) Object.assign(env, dataOf(find("ConfigMap", src.configMapRef.name)));
		if (src.secretRef) Object.assign(env, dataOf(find("Secret", src.secretRef.name)));
	}
	for (const e of container.env ?? []) {
		if (e.value !== undefined) env[e.name] = String(e.value);
		else if (e.valueFrom?.fieldRef?.fieldPath === "metadata.name") env[e.name] = podName;
		else if (e.valueFrom?.configMapKeyRef) {
			const v = dataOf(find("ConfigMap", e.valueFrom.configMapKeyRef.name))[e.valueFrom.configMapKeyRef.key];
			if (v !== undefined) env[e.name] = v;
		} else if (e.valueFrom?.secretKeyRef) {
			const v = dataOf(find("Secret", e.valueFrom.secretKeyRef.name))[e.valueFrom.secretKeyRef.key];
			if (v !== undefined) env[e.name] = v;
		}
	}
	return env;
}
