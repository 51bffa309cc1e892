import { assertPattern, assertTopic } from "../names";

/**
 * How log topics map onto Pulsar topic names.
 *
 * Our topics are slash-separated (market-data/crypto/raw/kraken/btcusd/trades). Pulsar cannot keep
 * those slashes in a topic's local name: `TopicName` splits `persistent://a/b/c/d` into four parts and
 * reads it as the legacy v1 form tenant/cluster/namespace/topic, the WebSocket consumer handler
 * rejects a request path that does not have exactly 9 slash-separated parts, and a `topicsPattern`
 * regex may not contain '/'. So the seeds' `persistent://public/default/market-data/crypto/raw/...`
 * is not a v2 topic name. We replace '/' by '.', which our topics never contain (lib/log/names):
 *
 *   market-data/crypto/raw/kraken/btcusd/trades
 *     -> persistent://public/default/market-data.crypto.raw.kraken.btcusd.trades
 *   market-data/crypto/historical/dukascopy/eurusd/quotes
 *     -> persistent://public/historical/market-data.crypto.historical.dukascopy.eurusd.quotes
 *
 * The mapping is reversible from the local name alone; the namespace is chosen by the stream segment
 * (the third one): "historical" goes to the historical namespace, everything else to the real-time one.
 */
export interface PulsarLayout {
	/** Default "public". */
	tenant: string;
	/** Real-time namespace, default "default". */
	namespace: string;
	/** Namespace of topics whose stream segment is "historical", default "historical". */
	historicalNamespace: string;
}

export const DEFAULT_LAYOUT: PulsarLayout = { tenant: "public", namespace: "default", historicalNamespace: "historical" };

/** Segment index of the stream ("raw" | "historical") in market-data/{asset}/{stream}/... */
const STREAM_SEGMENT = 2;
const NAME_PART = /^[A-Za-z0-9_=:.-]+$/;

export interface PulsarTopic {
	/** Log topic, e.g. market-data/crypto/raw/kraken/btcusd/trades. */
	topic: string;
	/** "tenant/namespace". */
	namespace: string;
	/** Local name inside the namespace, e.g. market-data.crypto.raw.kraken.btcusd.trades. */
	local: string;
	/** persistent://tenant/namespace/local */
	full: string;
	/** persistent/tenant/namespace/<url-encoded local>: the path used by the WebSocket and admin APIs. */
	restPath: string;
}

export function assertLayout(l: PulsarLayout): void {
	for (const [k, v] of Object.entries(l)) {
		if (!NAME_PART.test(v)) throw new TypeError(`pulsar ${k} ${JSON.stringify(v)}: use letters, digits and _ = : . - only`);
	}
}

export function namespaceOf(topic: string, l: PulsarLayout): string {
	const seg = topic.split("/")[STREAM_SEGMENT];
	return `${l.tenant}/${seg === "historical" ? l.historicalNamespace : l.namespace}`;
}

export function pulsarTopic(topic: string, l: PulsarLayout): PulsarTopic {
	assertTopic(topic);
	const local = topic.replace(/\//g, ".");
	// Pulsar would read a trailing "-partition-<n>" as a partition of a partitioned topic.
	if (/-partition-\d+$/.test(local)) throw new TypeError(`invalid topic "${topic}": Pulsar reserves the suffix -partition-<n>`);
	const namespace = namespaceOf(topic, l);
	return { topic, namespace, local, full: `persistent://${namespace}/${local}`, restPath: `persistent/${namespace}/${encodeURIComponent(local)}` };
}

/** The log topic of a Pulsar topic name (full or local); null for names this mapping did not make. */
export function logTopic(name: string): string | null {
	const local = name.includes("://") ? name.slice(name.lastIndexOf("/") + 1) : name;
	const topic = local.replace(/\./g, "/");
	try {
		assertTopic(topic);
		return topic;
	} catch {
		return null;
	}
}

function escapeRegex(s: string): string {
	return s.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&");
}

/** Regex over local names matching what `pattern` matches over log topics ('*' one segment, final '>' the rest). */
export function localNameRegex(pattern: string): string {
	assertPattern(pattern);
	return pattern
		.split("/")
		.map((s) => (s === "*" ? "[^.]+" : s === ">" ? "[^.]+(\\.[^.]+)*" : escapeRegex(s)))
		.join("\\.");
}

/** Namespaces ("tenant/ns") that can hold topics matching `pattern`. */
export function namespacesOf(pattern: string, l: PulsarLayout): string[] {
	const segs = pattern.split("/");
	const realtime = `${l.tenant}/${l.namespace}`;
	const historical = `${l.tenant}/${l.historicalNamespace}`;
	const upTo = segs.findIndex((s) => s === ">");
	const stream = segs[STREAM_SEGMENT];
	if ((upTo >= 0 && upTo <= STREAM_SEGMENT) || stream === "*") return [...new Set([realtime, historical])];
	if (stream === "historical") return [historical];
	return [realtime];
}

/** A literal pattern (no wildcard) names exactly one topic. */
export function isLiteral(pattern: string): boolean {
	return !pattern.split("/").some((s) => s === "*" || s === ">");
}

/**
 * Where the other endpoints live when only PULSAR_URL is given: `pulsar://host:6650` (binary protocol)
 * pairs with `http://host:8080` (admin, WebSocket), as in `bin/pulsar standalone`; http(s) and ws(s)
 * URLs share host and port.
 */
export function deriveUrls(serviceUrl: string, adminUrl?: string): { service: string; ws: string; admin: string } {
	let u: URL;
	try {
		u = new URL(serviceUrl);
	} catch {
		throw new TypeError(`PULSAR_URL ${JSON.stringify(redactUrl(serviceUrl))} is not a URL (expected pulsar://, pulsar+ssl://, http(s):// or ws(s)://)`);
	}
	const secure = u.protocol === "pulsar+ssl:" || u.protocol === "https:" || u.protocol === "wss:";
	let hostPort: string;
	switch (u.protocol) {
		case "pulsar:":
		case "pulsar+ssl:":
			hostPort = `${u.hostname}:${secure ? 8443 : 8080}`;
			break;
		case "http:":
		case "https:":
		case "ws:":
		case "wss:":
			hostPort = u.host;
			break;
		default:
			throw new TypeError(`PULSAR_URL scheme ${u.protocol} not supported (expected pulsar://, pulsar+ssl://, http(s):// or ws(s)://)`);
	}
	const ws = `${secure ? "wss" : "ws"}://${hostPort}`;
	const admin = (adminUrl || `${secure ? "https" : "http"}://${hostPort}`).replace(/\/+$/, "");
	return { service: serviceUrl.replace(/\/+$/, ""), ws, admin };
}

/** A URL with any credentials and token parameter removed, for messages. */
export function redactUrl(url: string): string {
	return url.replace(/\/\/[^/@]*@/, "//***@").replace(/([?&]token=)[^&]*/gi, "$1***");
}
