import type { ServiceBroker } from "moleculer";

/** A moleculer-repl custom command (see node_modules/moleculer-repl: `customCommands`). */
export interface ReplCommand {
	command: string;
	description: string;
	options?: { option: string; description: string }[];
	action(broker: ServiceBroker, args: Record<string, any>, helpers: { table(rows: unknown[][]): string }): Promise<void>;
}

type Row = Record<string, unknown>;

/** One call, or the plain reason it cannot be made (a service that does not run in this cluster, a 4xx). */
export async function callForRepl(broker: ServiceBroker, action: string, params: Row = {}, opts: { nodeID?: string } = {}): Promise<{ ok: true; data: any } | { ok: false; message: string }> {
	try {
		return { ok: true, data: await broker.call(action, params, opts) };
	} catch (err) {
		const e = err as Error & { code?: number; type?: string; data?: unknown };
		if (e.name === "ServiceNotFoundError" || e.name === "ServiceNotAvailableError") {
			return { ok: false, message: `service not available: nothing in this cluster serves ${action} (is the ${action.split(".")[0]} service deployed and running?)` };
		}
		return { ok: false, message: `${action} failed: ${e.message}${e.data ? ` ${JSON.stringify(e.data)}` : ""}` };
	}
}

function cell(v: unknown): string {
	if (v === null || v === undefined) return "-";
	if (v instanceof Date) return v.toISOString();
	if (Array.isArray(v)) return v.join(",");
	if (typeof v === "object") return JSON.stringify(v);
	return String(v);
}

/** A table of chosen columns, or "(none)". */
export function renderRows(rows: Row[], columns: string[], table: (rows: unknown[][]) => string): string {
	if (rows.length === 0) return "(none)";
	return table([columns, ...rows.map((r) => columns.map((c) => cell(r[c])))]);
}

function itemsOf(data: unknown): Row[] {
	if (Array.isArray(data)) return data as Row[];
	if (data && typeof data === "object" && Array.isArray((data as { items?: unknown }).items)) return (data as { items: Row[] }).items;
	return [];
}

/** Call, then print a table of the chosen columns, or the reason the call could not be made. */
async function show(broker: ServiceBroker, action: string, params: Row, columns: string[], table: (rows: unknown[][]) => string): Promise<void> {
	const r = await callForRepl(broker, action, params);
	console.log(r.ok ? renderRows(itemsOf(r.data), columns, table) : r.message);
}

/** The nodes that run a service (from the registry), for calls that must reach every replica. */
function nodesOf(broker: ServiceBroker, service: string): string[] {
	const list = broker.registry.getServiceList({ onlyAvailable: true, skipInternal: true }) as { name: string; nodeID: string }[];
	return [...new Set(list.filter((s) => s.name === service).map((s) => s.nodeID))].sort();
}

/** Operator commands of `npm run repl` (each has help text: `help <command>`). */
export function replCommands(): ReplCommand[] {
	return [
		{
			command: "freshness",
			description: "Lag per venue, symbol and timeframe: the newest stored candle and tick (api.freshness)",
			async action(broker, _args, { table }) {
				await show(broker, "api.freshness", {}, ["venue", "symbol", "priceType", "timeframe", "latestBucket", "lagSeconds", "latestTick"], table);
			},
		},
		{
			command: "leader",
			description: "Who leads the candle cascade, since when, with which fencing token (cascade-refresher.status on every replica)",
			async action(broker, _args, { table }) {
				const nodes = nodesOf(broker, "cascade-refresher");
				if (nodes.length === 0) return console.log("service not available: no cascade-refresher runs in this cluster");
				const rows: Row[] = [];
				for (const nodeID of nodes) {
					const r = await callForRepl(broker, "cascade-refresher.status", {}, { nodeID });
					rows.push(r.ok ? { nodeID, ...r.data } : { nodeID, lastError: r.message });
				}
				const leaders = rows.filter((r) => r.leader === true).length;
				console.log(renderRows(rows, ["nodeID", "leader", "leaderSince", "token", "cycles", "lastError"], table));
				console.log(leaders === 1 ? "one leader" : `${leaders} leaders (expected exactly one)`);
			},
		},
		{
			command: "feeds",
			description: "Every feed: state, connected, last message age, messages/s, reconnects, open gap (api.feeds)",
			async action(broker, _args, { table }) {
				await show(broker, "api.feeds", {}, ["venue", "feed", "state", "connected", "lastMessageAgeMs", "messagesPerSec", "reconnects", "connectFailures", "openGapSince", "error"], table);
			},
		},
		{
			command: "symbols [venue]",
			description: "Symbols of the catalog, of one venue or all (symbols.list); --all includes inactive ones, --q filters",
			options: [
				{ option: "--all", description: "include inactive symbols" },
				{ option: "--q <text>", description: "search text" },
				{ option: "--limit <n>", description: "at most this many (default 100)" },
			],
			async action(broker, args, { table }) {
				const o = args.options ?? {};
				const params: Row = { limit: o.limit !== undefined ? Number(o.limit) : 100 };
				if (args.venue) params.venue = args.venue;
				if (!o.all) params.active = true;
				if (o.q) params.q = String(o.q);
				await show(broker, "symbols.list", params, ["venue", "symbol", "type", "active", "base", "quote"], table);
			},
		},
		{
			command: "add <venue> <symbol>",
			description: "Add a symbol to the catalog and start following it (symbols.add)",
			async action(broker, args) {
				const r = await callForRepl(broker, "symbols.add", { venue: args.venue, symbol: args.symbol });
				console.log(r.ok ? `added ${args.venue} ${args.symbol}` : r.message);
			},
		},
		{
			command: "remove <venue> <symbol>",
			description: "Stop following a symbol (symbols.remove); its stored data stays",
			async action(broker, args) {
				const r = await callForRepl(broker, "symbols.remove", { venue: args.venue, symbol: args.symbol });
				console.log(r.ok ? `removed ${args.venue} ${args.symbol}` : r.message);
			},
		},
		{
			command: "backfill",
			description: "Dukascopy backfill jobs with their progress (dukascopy-backfill.list)",
			async action(broker, _args, { table }) {
				const r = await callForRepl(broker, "dukascopy-backfill.list", {});
				if (!r.ok) return console.log(r.message);
				const rows = itemsOf(r.data).map((j) => {
					const p = (j.progress ?? {}) as { hoursDone?: number; hoursTotal?: number; hoursFailed?: number; ticks?: number };
					return { ...j, hours: `${p.hoursDone ?? 0}/${p.hoursTotal ?? 0}${p.hoursFailed ? ` (${p.hoursFailed} failed)` : ""}`, ticks: p.ticks };
				});
				console.log(renderRows(rows, ["id", "instrument", "kind", "from", "to", "state", "hours", "ticks"], table));
			},
		},
		{
			command: "gaps",
			description: "Open gaps in the feeds (api.gaps open=true); --all lists repaired ones too",
			options: [{ option: "--all", description: "include repaired gaps" }],
			async action(broker, args, { table }) {
				const params: Row = { limit: 100 };
				if (!args.options?.all) params.open = true;
				await show(broker, "api.gaps", params, ["id", "venue", "symbol", "channel", "from_time", "to_time", "cause", "repaired_at"], table);
			},
		},
		{
			command: "cascade <what> [from] [to]",
			description: "`cascade refresh [from to]`: run the cascade now; with an ISO range, rebuild that range first (cascade-refresher.refresh)",
			options: [
				{ option: "--venue <venue>", description: "only this venue's range" },
				{ option: "--symbol <symbol>", description: "only this symbol's range" },
			],
			async action(broker, args) {
				if (args.what !== "refresh") return console.log(`unknown: cascade ${args.what} (try: cascade refresh [from to])`);
				const params: Row = {};
				if (args.from) params.from = args.from;
				if (args.to) params.to = args.to;
				if (args.options?.venue) params.venue = String(args.options.venue);
				if (args.options?.symbol) params.symbol = String(args.options.symbol);
				const r = await callForRepl(broker, "cascade-refresher.refresh", params);
				console.log(r.ok ? `cascade refresh requested: ${r.data.marked} buckets marked${r.data.from ? ` in [${r.data.from}, ${r.data.to})` : ""}` : r.message);
			},
		},
	];
}
