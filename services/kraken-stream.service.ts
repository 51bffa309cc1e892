import type { Context, Service, ServiceSchema } from "moleculer";
import { Errors } from "moleculer";
import { krakenSeedRows } from "../lib/catalog/active";
import { seedActiveOnce } from "../lib/catalog/catalog";
import { PgDbAdapter, SYMBOLS_TABLE } from "../lib/catalog/pg-adapter";
import { venueLockName, withCatalogLock } from "../lib/catalog/venue-lock";
import type { LeaderElector } from "../lib/coordination/lease";
import { LocalLease } from "../lib/coordination/local-lease";
import { RedisLease } from "../lib/coordination/redis-lease";
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
	lease: LeaderElector;
	catalog: PgDbAdapter;
	reconcileTimer: NodeJS.Timeout | null;
	catalogPairs: Set<string>; // the active pairs as last read from the catalog
	leading: Promise<void> | null;
	lead(): Promise<void>;
	follow(reason: string): Promise<void>;
	reconcile(): Promise<void>;
}

/** How often the leader compares its subscriptions with the catalog (a missed symbols.changed heals here). */
const RECONCILE_MS = 15_000;

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
 * disconnect markers, gap repair from REST. The pairs are the catalog's active kraken symbols
 * (KRAKEN_SYMBOLS only seeds the first start); one replica streams them all under a lease (Redis with
 * REDIS_URL), another takes over when it dies, so no pair is streamed twice and none is dropped. REPL: `call kraken-stream.stats`,
 * `call kraken-stream.subscribe --symbols ETH/USD`.
 */
const KrakenStreamService: ServiceSchema<{}, {}, Locals> = {
	name: "kraken-stream",
	mixins: [FeedServiceMixin],

	events: {
		/** From the symbol catalog: `{venue?, symbols?: [...all active], added?: [...], removed?: [...]}`. */
		"symbols.changed"(this: Self, ctx: Context<{ venue?: string; symbols?: string[]; added?: string[]; removed?: string[] }>) {
			const p = ctx.params ?? {};
			// only the lease holder streams; the others pick the catalog up when they are elected
			if (!this.stream || (p.venue && p.venue !== "kraken")) return;
			try {
				const toWs = (l: unknown) => (Array.isArray(l) ? l.map((s) => wsSymbolOf(String(s))) : []);
				let added = toWs(p.added);
				let removed = toWs(p.removed);
				if (Array.isArray(p.symbols)) {
					const want = new Set(toWs(p.symbols));
					this.catalogPairs = want;
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

	methods: {
		/** Elected: stream the catalog's active pairs. */
		async lead(this: Self) {
			if (this.leading) return this.leading;
			this.leading = (async () => {
				if (this.stream) return;
				const rt = runtimeOf(this.broker);
				const pairs = (await this.catalog.find({ query: { venue: "kraken", active: true }, sort: ["venueSymbol"] })) as { venueSymbol: string }[];
				if (!this.lease.isLeader()) return;
				this.catalogPairs = new Set(pairs.map((r) => wsSymbolOf(r.venueSymbol)));
				this.stream = await createStream(this, rt, [...this.catalogPairs]);
				this.stream.start();
				this.bookSnapshots = startBookSnapshots(this, rt, this.stream);
				this.logger.info(`kraken-stream leader: streaming ${this.stream.symbols.join(", ") || "(no active pairs)"}`);
			})().finally(() => (this.leading = null));
			return this.leading;
		},
		/** Lease lost or stopping: stop streaming (the new holder resumes from the catalog). */
		async follow(this: Self, reason: string) {
			await this.leading?.catch(() => undefined);
			const s = this.stream;
			const snapshots = this.bookSnapshots;
			this.stream = null;
			this.bookSnapshots = null;
			await snapshots?.stop();
			if (s) {
				this.logger.warn(`kraken-stream: stopped streaming (${reason})`);
				await s.stop();
			}
			this.monitor.stopped(reason === "service stopping" ? null : `standby (${reason})`);
		},
		async reconcile(this: Self) {
			if (!this.stream || !this.lease.isLeader()) return;
			const rows = (await this.catalog.find({ query: { venue: "kraken", active: true } })) as { venueSymbol: string }[];
			// Apply what changed in the catalog since the last look (not "stream = catalog": a pair added by hand with
			// kraken-stream.subscribe stays until it is unsubscribed).
			const want = new Set(rows.map((r) => wsSymbolOf(r.venueSymbol)));
			const added = this.stream.subscribe([...want].filter((s) => !this.catalogPairs.has(s)));
			const removed = this.stream.unsubscribe([...this.catalogPairs].filter((s) => !want.has(s)));
			this.catalogPairs = want;
			if (added.length || removed.length) this.logger.info(`catalog reconcile: subscribed ${added.join(", ") || "-"}, unsubscribed ${removed.join(", ") || "-"}`);
		},
	},

	created(this: Self) {
		this.stream = null;
		this.bookSnapshots = null;
		// Made before the stream so the feed's series and `feeds` exist from the start, connected or not.
		this.monitor = new FeedMonitor("kraken", "ws", () => this.stream?.snapshotSymbols() ?? []);
		this.feedMonitors.push(this.monitor);
		this.leading = null;
		this.reconcileTimer = null;
		this.catalogPairs = new Set();
		const rt = runtimeOf(this.broker);
		const c = rt.config;
		this.catalog = new PgDbAdapter(SYMBOLS_TABLE, () => rt.pool);
		let token = 0n;
		this.lease = c.redisUrl
			? new RedisLease({ redis: c.redisUrl, key: `${this.broker.namespace || "mdp"}:lease:kraken-stream`, ttlMs: c.leaseTtlMs, holderId: this.broker.nodeID, logger: this.logger })
			: new LocalLease({ holderId: this.broker.nodeID, nextToken: () => ++token });
		const m = this.broker.metrics;
		if (m.isEnabled()) for (const [name, labelNames, description] of METRICS) m.register({ name: `mdp_kraken_${name}_total`, type: "counter", labelNames, description });
	},

	async started(this: Self) {
		const rt = runtimeOf(this.broker);
		// KRAKEN_SYMBOLS seeds the catalog once (first start); from then on the active rows are the truth
		// (under the venue's catalog lock: a sync inserting the same rows waits, or is waited for)
		const seeded = await withCatalogLock(rt.pool, venueLockName("kraken"), () => seedActiveOnce(this.catalog, "kraken", krakenSeedRows(rt.config.krakenSymbols)), { wait: true });
		if (seeded?.length) this.logger.info(`first start: activated ${seeded.join(", ")} from KRAKEN_SYMBOLS`);
		this.lease.on("elected", () => void this.lead().catch((err) => this.logger.error(`kraken-stream: could not start streaming: ${(err as Error).message}`)));
		this.lease.on("revoked", (reason: string) => void this.follow(`lease ${reason}`));
		await this.lease.start();
		if (this.lease.isLeader()) await this.lead();
		else this.monitor.stopped("standby: another kraken-stream replica holds the lease");
		this.reconcileTimer = setInterval(() => void this.reconcile().catch((err) => this.logger.warn(`catalog reconcile failed: ${(err as Error).message}`)), RECONCILE_MS);
		this.reconcileTimer.unref();
	},

	async stopped(this: Self) {
		if (this.reconcileTimer) clearInterval(this.reconcileTimer);
		await this.follow("service stopping");
		await this.lease.stop();
	},
};

/** One KrakenStream for a leadership, wired to this process's log, pool, REST limiter and metrics. */
async function createStream(svc: Self, rt: ReturnType<typeof runtimeOf>, symbols: string[]): Promise<KrakenStream> {
	const c = rt.config;
	const m = svc.broker.metrics;
	const abort = new AbortController();
	// KRAKEN_RECORD_FILE, or `npm start -- --record frames.jsonl` (bin/start.ts)
	const recordFile = c.krakenRecordFile;
	if (recordFile) svc.logger.info(`recording raw Kraken frames to ${recordFile}`);
	return new KrakenStream({
		symbols,
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
		logger: svc.logger,
		recorder: recordFile ? new FrameRecorder(recordFile) : null,
		onStop: () => abort.abort(new Error("kraken-stream stopped")),
		count: (name, n, labels) => {
			if (m.isEnabled()) m.increment(`mdp_kraken_${name}_total`, labels, n);
		},
		onDisconnect: (info) => svc.broker.emit("feed.disconnected", { venue: "kraken", ...info }),
		onGapRepaired: (info) => svc.broker.emit("feed.repaired", { venue: "kraken", ...info }),
		monitor: svc.monitor,
	});
}

/** The live books into book_snapshots (source 'ws', with their CRC32), once per ORDERBOOK_POLL_INTERVAL_MS. */
function startBookSnapshots(svc: Self, rt: ReturnType<typeof runtimeOf>, stream: KrakenStream): Locals["bookSnapshots"] {
	const c = rt.config;
	if (!c.orderbookWsSnapshots) return null;
	const scheduler = new SnapshotScheduler({
		pool: rt.pool,
		owner: `${svc.broker.nodeID}/${hostname()}/${process.pid}`,
		source: "ws",
		intervalMs: c.orderbookPollIntervalMs,
		claimTtlMs: c.orderbookClaimTtlMs,
		// Only books held verified right now: a pair still syncing (or a feed that is down) claims no slot.
		targets: () => stream.symbols.filter((ws) => stream.hasVerifiedBook(ws)).map((ws) => ({ venue: "kraken", symbol: canonicalSymbol(ws), wsSymbol: ws })),
		take: async (t) => {
			const b = stream.bookSnapshot(t.wsSymbol);
			return b && { time: b.time, recvTime: b.recvTime, lastUpdateId: null, checksum: b.checksum, bids: b.bids, asks: b.asks };
		},
		logger: svc.logger,
		onFailed: (t, err) => svc.logger.warn(`live book snapshot of ${t.symbol} not stored: ${(err as Error).message}`),
	});
	scheduler.start();
	return scheduler;
}

export default KrakenStreamService;
