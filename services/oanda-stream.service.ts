import type { Context, Service, ServiceSchema } from "moleculer";
import { deadLetterLine } from "../lib/feed/dead-letters";
import { PgGapLedger } from "../lib/feed/gap-ledger";
import type { RepairQueue } from "../lib/feed/repair-queue";
import { FeedMonitor } from "../lib/feed/status";
import { oandaGapRepairer } from "../lib/venues/oanda/gap-repair";
import { instrumentOf, VENUE } from "../lib/venues/oanda/parse";
import { OandaRest } from "../lib/venues/oanda/rest";
import { OandaStream, type OandaGap } from "../lib/venues/oanda/stream";
import { FeedServiceMixin, type FeedServiceLocals } from "../mixins/feed";
import { runtimeOf } from "../mixins/runtime";

interface Locals extends FeedServiceLocals {
	stream: OandaStream | null;
	repairer: RepairQueue<OandaGap> | null;
	monitor: FeedMonitor;
	abort: AbortController;
	/** The instrument list came from the symbol catalog (then OANDA_INSTRUMENTS no longer applies). */
	fromCatalog: boolean;
	catalogLoading: Promise<void> | null;
	seq: number;
}

type Self = Service & Locals;

const METRICS: [name: string, labels: string[], help: string][] = [
	["lines_rejected", [], "OANDA stream lines rejected (malformed, unknown type, bad field); dead-lettered"],
	["non_tradeable", [], "OANDA prices marked non-tradeable: not stored as quotes"],
	["quotes_dropped", [], "OANDA quotes dropped while the log refused them (OANDA_MAX_PENDING held)"],
	["disconnects", ["cause"], "OANDA stream disconnects (disconnect or watchdog)"],
	["connect_failures", ["status"], "OANDA stream connection attempts that failed, by HTTP status or network"],
	["gaps_repaired", [], "OANDA gaps repaired from S5 candles"],
	["gap_repair_failures", [], "OANDA gaps left unrepaired after retries"],
];

/** OANDA names from catalog or event symbols ("EUR_USD" or "EUR-USD-SPOT"); unknown shapes are skipped with a warning. */
function instrumentsOf(self: Self, list: unknown[]): string[] {
	const out: string[] = [];
	for (const s of list) {
		try {
			out.push(instrumentOf(String(s)));
		} catch (err) {
			self.logger.warn(`ignoring symbol ${JSON.stringify(s)}: ${(err as Error).message}`);
		}
	}
	return out;
}

/** The active OANDA symbols of the catalog (`symbols.list`, paged), or null when the catalog is not running. */
async function catalogInstruments(self: Self): Promise<string[] | null> {
	if (!self.broker.registry.getServiceList({ onlyAvailable: true }).some((s: { name: string }) => s.name === "symbols")) return null;
	const items: unknown[] = [];
	let cursor: string | undefined;
	for (let page = 0; page < 100; page++) {
		const r = (await self.broker.call("symbols.list", { venue: VENUE, active: true, limit: 500, ...(cursor ? { cursor } : {}) })) as { items?: { venueSymbol?: string; symbol?: string }[]; nextCursor?: string | null };
		for (const it of r.items ?? []) items.push(it.venueSymbol ?? it.symbol);
		if (!r.nextCursor) break;
		cursor = r.nextCursor;
	}
	return instrumentsOf(self, items);
}

function loadCatalog(self: Self): void {
	if (!self.stream || self.fromCatalog || self.catalogLoading) return;
	self.catalogLoading = catalogInstruments(self)
		.then((list) => {
			if (list === null || !self.stream) return;
			self.fromCatalog = true;
			if (!list.length) self.logger.warn("the symbol catalog has no active OANDA symbol: nothing is streamed until one is activated");
			self.stream.setInstruments(list);
		})
		.catch((err) => self.logger.warn(`symbols.list failed (${(err as Error).message}); streaming ${self.stream?.instruments.join(", ")}`))
		.finally(() => (self.catalogLoading = null));
}

/**
 * OANDA v20 pricing stream → market-data log (lib/venues/oanda): quotes, outage markers and gaps, gap repair
 * from S5 candles. Off (said once at start) without OANDA_API_KEY. REPL: `call oanda-stream.stats`,
 * `call oanda-stream.feeds`.
 */
const OandaStreamService: ServiceSchema<{}, {}, Locals> = {
	name: "oanda-stream",
	mixins: [FeedServiceMixin],

	events: {
		/** From the symbol catalog: `{venue, symbols: [all active venue symbols], added, removed}`. */
		"symbols.changed": {
			params: { venue: { type: "string", optional: true }, symbols: { type: "array", optional: true }, added: { type: "array", optional: true }, removed: { type: "array", optional: true } },
			handler(this: Self, ctx: Context<{ venue?: string; symbols?: unknown[]; added?: unknown[]; removed?: unknown[] }>) {
				const p = ctx.params ?? {};
				if (!this.stream || p.venue !== VENUE) return;
				let next: string[];
				if (Array.isArray(p.symbols)) next = instrumentsOf(this, p.symbols);
				else {
					const removed = new Set(instrumentsOf(this, p.removed ?? []));
					next = [...new Set([...this.stream.instruments.filter((i) => !removed.has(i)), ...instrumentsOf(this, p.added ?? [])])];
				}
				this.fromCatalog = true;
				const r = this.stream.setInstruments(next);
				if (r.added.length || r.removed.length) this.logger.info(`symbols.changed: added ${r.added.join(", ") || "-"}, removed ${r.removed.join(", ") || "-"}`);
			},
		},
		/** The catalog may start after this service: read its list once it appears. */
		"$services.changed"(this: Self) {
			loadCatalog(this);
		},
	},

	actions: {
		/** Counters per session and instrument. */
		stats: {
			params: {},
			handler(this: Self) {
				return this.stream ? { ...this.stream.snapshot(), repair: this.repairer ? { ...this.repairer.stats, pending: this.repairer.pending } : null } : { enabled: false, reason: "OANDA_API_KEY is not set" };
			},
		},
	},

	created(this: Self) {
		this.stream = null;
		this.repairer = null;
		this.fromCatalog = false;
		this.catalogLoading = null;
		this.seq = 0;
		this.abort = new AbortController();
		this.monitor = new FeedMonitor(VENUE, "pricing-stream", () => this.stream?.symbols() ?? []);
		this.feedMonitors.push(this.monitor);
		const m = this.broker.metrics;
		if (m.isEnabled()) for (const [name, labelNames, description] of METRICS) m.register({ name: `mdp_oanda_${name}_total`, type: "counter", labelNames, description });
	},

	async started(this: Self) {
		const rt = runtimeOf(this.broker);
		const c = rt.config;
		if (!c.oandaApiKey || !c.oandaAccountId) {
			const off = `oanda-stream is off: ${!c.oandaApiKey ? "OANDA_API_KEY" : "OANDA_ACCOUNT_ID"} is not set`;
			this.logger.info(off);
			this.monitor.stopped(off);
			return;
		}
		const m = this.broker.metrics;
		const count = (name: string, n = 1, labels?: Record<string, string>) => {
			if (m.isEnabled()) m.increment(`mdp_oanda_${name}_total`, labels, n);
		};
		const ledger = new PgGapLedger(rt.pool);
		const rest = new OandaRest({ baseUrl: c.oandaRestUrl, apiKey: c.oandaApiKey, limiter: rt.limiter(new URL(c.oandaRestUrl).host, c.oandaRestRatePerSec, 2), signal: this.abort.signal });
		this.repairer = oandaGapRepairer({
			rest,
			pool: rt.pool,
			ledger,
			logger: this.logger,
			onRepaired: (g, r) => {
				count("gaps_repaired");
				this.broker.emit("feed.repaired", { venue: VENUE, symbol: g.symbol, gapId: g.ledgerId, candles: r.candles });
			},
			onFailed: () => count("gap_repair_failures"),
		});
		this.stream = new OandaStream({
			instruments: c.oandaInstruments,
			client: {
				streamUrl: c.oandaStreamUrl,
				accountId: c.oandaAccountId,
				apiKey: c.oandaApiKey,
				watchdogMs: c.oandaStaleMs,
				backoffBaseMs: c.oandaBackoffBaseMs,
				backoffMaxMs: c.oandaBackoffMaxMs,
				closedProbeMs: c.oandaClosedProbeMs,
				untilOpen: c.oandaMarketHours === "always" ? () => 0 : undefined,
			},
			log: await rt.log(),
			ledger,
			repair: (g) => this.repairer?.enqueue(g),
			flushMs: c.oandaFlushMs,
			maxBatchItems: 1000,
			maxPending: c.oandaMaxPending,
			logger: this.logger,
			monitor: this.monitor,
			count,
			deadLetter: (line, reason) => deadLetterLine(rt.pool, { consumer: "oanda-stream", topic: "oanda/pricing/stream", key: null, reason, payload: line, messageId: `${this.broker.nodeID}:${Date.now()}:${++this.seq}` }),
			onAuthFailed: (reason) => this.broker.emit("feed.auth-failed", { venue: VENUE, reason }),
		});
		this.stream.start();
		loadCatalog(this);
	},

	async stopped(this: Self) {
		this.abort.abort(new Error("oanda-stream stopped"));
		await this.stream?.stop();
		await this.repairer?.stop();
	},
};

export default OandaStreamService;
