import type { Context, Service, ServiceSchema } from "moleculer";
import { Errors } from "moleculer";
import { PgGapLedger } from "../lib/feed/gap-ledger";
import { FeedMonitor } from "../lib/feed/status";
import { FrameRecorder } from "../lib/venues/kraken/recorder";
import { krakenRestFromConfig } from "../lib/venues/kraken/rest";
import { KrakenStream } from "../lib/venues/kraken/stream";
import { canonicalSymbol, SymbolError, wsSymbolOf } from "../lib/venues/kraken/symbols";
import { FeedServiceMixin, type FeedServiceLocals } from "../mixins/feed";
import { runtimeOf } from "../mixins/runtime";
import { SnapshotScheduler } from "../lib/orderbook/scheduler";
import { hostname } from "node:os";

interface Locals extends FeedServiceLocals {
	stream: KrakenStream | null;
	bookSnapshots: SnapshotScheduler<{ venue: string; symbol: string; wsSymbol: string }> | null;
	monitor: FeedMonitor;
}

type Self = Service & Locals;

const METRICS: [name: string, labels: string[], help: string][] = [
	["frames_rejected", ["reason"], "Kraken frames rejected (malformed, v1, unknown-channel, error)"],
	["items_rejected", ["channel"], "Kraken data items rejected inside otherwise good frames"],
	["checksum_mismatches", ["symbol"], "Kraken book checksum mismatches"],
	["book_resubscribes", [], "Kraken book resubscriptions after repeated checksum mismatches"],
	["subscribe_errors", ["channel"], "Kraken subscribe/unsubscribe requests refused"],
	["disconnects", ["cause"], "Kraken socket disconnects (disconnect or watchdog)"],
	["trade_id_gaps", [], "Jumps in Kraken trade ids"],
	["gaps_repaired", [], "Kraken gaps repaired from REST"],
	["gap_repair_failures", [], "Kraken gaps left unrepaired after retries"],
	["trades_repaired", [], "Trades fetched from Kraken REST for gaps"],
	["items_dropped", ["channel"], "Kraken trades, quotes and book messages dropped while the log refused them (KRAKEN_MAX_PENDING held); recorded in feed_gaps"],
	["items_lost", [], "Kraken items the log still refused when the service stopped"],
];

/** "BTC/USD,ETH/USD" or ["BTC/USD", ...]: bounded so one call cannot subscribe the whole venue. */
const SYMBOLS_RULE = [
	{ type: "array", items: { type: "string", min: 1, max: 64 }, min: 1, max: 200 },
	{ type: "string", min: 1, max: 4096 },
];

/** Symbols from action/event params: "BTC/USD", "BTC-USD-SPOT" or a list of them. */
function symbolsParam(v: unknown): string[] {
	const list = Array.isArray(v) ? v : typeof v === "string" ? v.split(",") : [];
	if (!list.length) throw new Errors.MoleculerClientError('give "symbols": ["BTC/USD", ...]', 400, "INVALID_PARAMETER", { param: "symbols" });
	try {
		return list.map((s) => wsSymbolOf(String(s)));
	} catch (err) {
		if (err instanceof SymbolError) throw new Errors.MoleculerClientError(err.message, 400, "INVALID_PARAMETER", { param: "symbols" });
		throw err;
	}
}

/**
 * Kraken WebSocket v2 → market-data log (lib/venues/kraken): trades, bbo quotes, verified books,
 * disconnect markers, gap repair from REST. REPL: `call kraken-stream.stats`,
 * `call kraken-stream.subscribe --symbols ETH/USD`.
 */
const KrakenStreamService: ServiceSchema<{}, {}, Locals> = {
	name: "kraken-stream",
	mixins: [FeedServiceMixin],

	events: {
		/** From the symbol catalog: `{venue?, symbols?: [...all active], added?: [...], removed?: [...]}`. */
		"symbols.changed"(this: Self, ctx: Context<{ venue?: string; symbols?: string[]; added?: string[]; removed?: string[] }>) {
			const p = ctx.params ?? {};
			if (!this.stream || (p.venue && p.venue !== "kraken")) return;
			try {
				const toWs = (l: unknown) => (Array.isArray(l) ? l.map((s) => wsSymbolOf(String(s))) : []);
				let added = toWs(p.added);
				let removed = toWs(p.removed);
				if (Array.isArray(p.symbols)) {
					const want = new Set(toWs(p.symbols));
					added = [...want];
					removed = this.stream.symbols.filter((s) => !want.has(s));
				}
				const a = this.stream.subscribe(added);
				const r = this.stream.unsubscribe(removed);
				if (a.length || r.length) this.logger.info(`symbols.changed: subscribed ${a.join(", ") || "-"}, unsubscribed ${r.join(", ") || "-"}`);
			} catch (err) {
				this.logger.warn(`symbols.changed ignored: ${(err as Error).message}`);
			}
		},
	},

	actions: {
		/** Counters per session and symbol. */
		stats: {
			params: {},
			handler(this: Self) {
				return this.stream?.snapshot() ?? null;
			},
		},
		/** The live, checksum-verified book of a pair (`BTC/USD` or `BTC-USD-SPOT`), or null when this node holds none (GET /api/books/latest). */
		book: {
			params: { symbol: { type: "string", min: 1, max: 64 } },
			handler(this: Self, ctx: Context<{ symbol: string }>) {
				return this.stream?.bookSnapshot(ctx.params.symbol) ?? null;
			},
		},
		subscribe: {
			params: { symbols: SYMBOLS_RULE },
			handler(this: Self, ctx: Context<{ symbols: unknown }>) {
				const symbols = symbolsParam(ctx.params.symbols);
				return { subscribed: this.stream!.subscribe(symbols), symbols: this.stream!.symbols };
			},
		},
		unsubscribe: {
			params: { symbols: SYMBOLS_RULE },
			handler(this: Self, ctx: Context<{ symbols: unknown }>) {
				const symbols = symbolsParam(ctx.params.symbols);
				return { unsubscribed: this.stream!.unsubscribe(symbols), symbols: this.stream!.symbols };
			},
		},
	},

	created(this: Self) {
		this.stream = null;
		this.bookSnapshots = null;
		// Made before the stream so the feed's series and `feeds` exist from the start, connected or not.
		this.monitor = new FeedMonitor("kraken", "ws", () => this.stream?.snapshotSymbols() ?? []);
		this.feedMonitors.push(this.monitor);
		const m = this.broker.metrics;
		if (m.isEnabled()) for (const [name, labelNames, description] of METRICS) m.register({ name: `mdp_kraken_${name}_total`, type: "counter", labelNames, description });
	},

	async started(this: Self) {
		const rt = runtimeOf(this.broker);
		const c = rt.config;
		const m = this.broker.metrics;
		const abort = new AbortController();
		// KRAKEN_RECORD_FILE, or `npm start -- --record frames.jsonl` (bin/start.ts)
		const recordFile = c.krakenRecordFile;
		if (recordFile) this.logger.info(`recording raw Kraken frames to ${recordFile}`);
		this.stream = new KrakenStream({
			symbols: c.krakenSymbols,
			bookDepth: c.krakenBookDepth,
			log: await rt.log(),
			ledger: new PgGapLedger(rt.pool),
			store: rt.pool,
			rest: krakenRestFromConfig(c, (host, rate, burst) => rt.limiter(host, rate, burst), abort.signal), // the limiter exchange-history uses too
			feed: { url: c.krakenWsUrl, watchdogMs: c.krakenWatchdogMs, pingIntervalMs: c.krakenPingIntervalMs, backoffBaseMs: c.krakenBackoffBaseMs, backoffMaxMs: c.krakenBackoffMaxMs },
			flushMs: c.krakenFlushMs,
			maxBatchItems: 1000,
			maxPending: c.krakenMaxPending,
			checksumMismatchLimit: c.krakenChecksumMismatchLimit,
			logger: this.logger,
			recorder: recordFile ? new FrameRecorder(recordFile) : null,
			onStop: () => abort.abort(new Error("kraken-stream stopped")),
			count: (name, n, labels) => {
				if (m.isEnabled()) m.increment(`mdp_kraken_${name}_total`, labels, n);
			},
			onDisconnect: (info) => this.broker.emit("feed.disconnected", { venue: "kraken", ...info }),
			onGapRepaired: (info) => this.broker.emit("feed.repaired", { venue: "kraken", ...info }),
			monitor: this.monitor,
		});
		this.stream.start();
		if (c.orderbookWsSnapshots) {
			// The live books into book_snapshots (source 'ws', with their CRC32), once per ORDERBOOK_POLL_INTERVAL_MS.
			const stream = this.stream;
			this.bookSnapshots = new SnapshotScheduler({
				pool: rt.pool,
				owner: `${this.broker.nodeID}/${hostname()}/${process.pid}`,
				source: "ws",
				intervalMs: c.orderbookPollIntervalMs,
				claimTtlMs: c.orderbookClaimTtlMs,
				// Only books held verified right now: a pair still syncing (or a feed that is down) claims no slot.
				targets: () => stream.symbols.filter((ws) => stream.hasVerifiedBook(ws)).map((ws) => ({ venue: "kraken", symbol: canonicalSymbol(ws), wsSymbol: ws })),
				take: async (t) => {
					const b = stream.bookSnapshot(t.wsSymbol);
					return b && { time: b.time, recvTime: b.recvTime, lastUpdateId: null, checksum: b.checksum, bids: b.bids, asks: b.asks };
				},
				logger: this.logger,
				onFailed: (t, err) => this.logger.warn(`live book snapshot of ${t.symbol} not stored: ${(err as Error).message}`),
			});
			this.bookSnapshots.start();
		}
	},

	async stopped(this: Self) {
		await this.bookSnapshots?.stop();
		await this.stream?.stop();
	},
};

export default KrakenStreamService;
