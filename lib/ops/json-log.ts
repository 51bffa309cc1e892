/**
 * LOG_FORMAT=json: one JSON object per line, for log collectors. Every line carries the node and the
 * service; venue and symbol come from the service (a venue's feed service) or from a plain object passed
 * as a log argument (`logger.warn("resubscribing", { symbol: "BTC/USD" })`), whose fields are merged in.
 */
export interface LogBindings {
	nodeID?: string;
	ns?: string;
	mod?: string;
	svc?: string;
}

/** The venue a service works for, when it works for one venue. */
const SERVICE_VENUES: Record<string, string> = {
	"kraken-stream": "kraken",
	"oanda-stream": "oanda",
	"dukascopy-backfill": "dukascopy",
	"orderbook-poller": "kraken",
};

function isPlainObject(v: unknown): v is Record<string, unknown> {
	return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Error) && Object.getPrototypeOf(v) === Object.prototype;
}

function text(v: unknown): string {
	if (typeof v === "string") return v;
	if (v instanceof Error) return v.stack ?? v.message;
	try {
		return JSON.stringify(v);
	} catch {
		return String(v);
	}
}

/** One log record as a JSON line; `now` is injectable for tests. */
export function jsonLogLine(level: string, args: unknown[], bindings: LogBindings, now: Date = new Date()): string {
	const record: Record<string, unknown> = { time: now.toISOString(), level, node: bindings.nodeID ?? null, service: bindings.svc ?? bindings.mod ?? null };
	const venue = bindings.svc ? SERVICE_VENUES[bindings.svc] : undefined;
	if (venue) record.venue = venue;
	const words: string[] = [];
	for (const a of args) {
		if (isPlainObject(a)) {
			for (const [k, v] of Object.entries(a)) if (!(k in record) || k === "venue") record[k] = v;
		} else {
			words.push(text(a));
		}
	}
	record.msg = words.join(" ");
	if (bindings.ns) record.namespace = bindings.ns;
	return JSON.stringify(record);
}

/** Moleculer Console logger `formatter` for LOG_FORMAT=json. */
export function jsonLogFormatter(type: string, args: unknown[], bindings: LogBindings): string[] {
	return [jsonLogLine(type, args, bindings)];
}
