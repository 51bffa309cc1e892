import type { Context, Service, ServiceSchema } from "moleculer";
import { Errors } from "moleculer";
import DbService from "moleculer-db";
import { catalogAdaptersFromConfig } from "../lib/catalog/adapters";
import { Catalog, decodeListCursor, UnknownSymbolError, type SymbolsChanged, type SyncOutcome } from "../lib/catalog/catalog";
import { historyRequestFor } from "../lib/catalog/follow";
import { PgDbAdapter, SYMBOLS_TABLE } from "../lib/catalog/pg-adapter";
import { RetryingSchedule } from "../lib/catalog/schedule";
import { INSTRUMENT_TYPES, type CatalogRow } from "../lib/catalog/types";
import { venueLockName, withCatalogLock } from "../lib/catalog/venue-lock";
import { provisionPulsarTopics, symbolTopics } from "../lib/log/pulsar/provision";
import { runtimeOf } from "../mixins/runtime";
import { Q } from "../mixins/action-params";

interface Locals {
	catalog: Catalog;
	adapter: PgDbAdapter;
	syncs: RetryingSchedule | null;
	topUps: RetryingSchedule | null;
	abort: AbortController;
	followUps: Set<Promise<unknown>>;
	syncVenue(venue: string): Promise<SyncOutcome>;
	announce(changed: SymbolsChanged): Promise<void>;
	followUp(row: CatalogRow): void;
}
type Self = Service & Locals;

const NAME = { type: "string", min: 1, max: 64, trim: true } as const;

/** Unknown names → 404 naming them with the closest matches (REST and REPL alike). */
function notFound(err: unknown): never {
	if (err instanceof UnknownSymbolError) {
		throw new Errors.MoleculerClientError(err.message, 404, err.venueKnown ? "UNKNOWN_SYMBOL" : "UNKNOWN_VENUE", { venue: err.venue, symbol: err.requested, matches: err.matches });
	}
	throw err;
}

/**
 * The symbol catalog (deployable `symbol-catalog`, service `symbols`): every instrument of the configured
 * venues (lib/catalog adapters), stored through moleculer-db with our PostgreSQL adapter, synced at start
 * and every CATALOG_SYNC_INTERVAL_MS. Adding a symbol activates it and broadcasts `symbols.changed`
 * (kraken-stream subscribes, dukascopy auto-ingest follows), creates its Pulsar topics and starts its
 * history (ADD_SYMBOL_BACKFILL); active Binance klines and Kraken trades are topped up every
 * HISTORY_TOPUP_INTERVAL_MS. REPL: `call symbols.add --venue kraken --symbol ETH-USD`.
 */
const SymbolCatalogService: ServiceSchema<any, {}, Locals> = {
	name: "symbols",
	// moleculer-db for persistence (adapter lifecycle, this.adapter); the actions are ours, not its generic CRUD.
	mixins: [{ ...(DbService as unknown as ServiceSchema), actions: {} } as ServiceSchema],
	...({ adapter: new PgDbAdapter(SYMBOLS_TABLE, (broker) => runtimeOf(broker as never).pool) } as {}), // moleculer-db's schema key
	settings: { idField: "id" },

	actions: {
		/** `{venue?, symbol?, type?, active?, q?, limit?, cursor?}` → `{items, nextCursor}`, ordered by venue:symbol. */
		list: {
			params: {
				venue: { ...NAME, optional: true, lowercase: true },
				symbol: { ...NAME, optional: true },
				type: { type: "enum", values: [...INSTRUMENT_TYPES, ...INSTRUMENT_TYPES.map((t) => t.toLowerCase())], optional: true },
				active: { type: "boolean", convert: true, optional: true },
				q: { type: "string", min: 1, max: 64, optional: true },
				limit: Q.int, // range checked below (a converting number rule would coerce any object)
				cursor: { type: "string", max: 200, optional: true },
			},
			async handler(this: Self, ctx: Context<{ venue?: string; symbol?: string; type?: string; active?: boolean; q?: string; limit?: number | string; cursor?: string }>) {
				const p = ctx.params;
				const limit = p.limit === undefined ? 100 : Number(p.limit);
				if (!(limit >= 1 && limit <= 1000)) throw new Errors.MoleculerClientError("limit must be from 1 to 1000", 400, "INVALID_PARAMETER", { param: "limit" });
				const cursor = p.cursor ? decodeListCursor(p.cursor) : null;
				if (p.cursor && !cursor) throw new Errors.MoleculerClientError("cursor is not one this API returned", 400, "INVALID_PARAMETER", { param: "cursor" });
				return this.catalog.list({ venue: p.venue, symbol: p.symbol, type: p.type, active: p.active, q: p.q, limit, cursor });
			},
		},
		/** Any spelling (BTC-USDT-SPOT, BTCUSDT, btc/usd, AAPL) → the row; 404 with the closest matches. */
		resolve: {
			params: { venue: { ...NAME, lowercase: true }, symbol: NAME },
			async handler(this: Self, ctx: Context<{ venue: string; symbol: string }>) {
				return this.catalog.resolve(ctx.params.venue, ctx.params.symbol).catch(notFound);
			},
		},
		/** Activate a symbol: the stream, its topics and its history follow. HTTP 201 with the row. */
		add: {
			params: { venue: { ...NAME, lowercase: true }, symbol: NAME },
			async handler(this: Self, ctx: Context<{ venue: string; symbol: string }, { $statusCode?: number }>) {
				const { row, changed } = await this.catalog.add(ctx.params.venue, ctx.params.symbol, (v) => this.syncVenue(v)).catch(notFound);
				ctx.meta.$statusCode = 201;
				if (changed) {
					await this.announce(changed);
					this.followUp(row);
				}
				return row;
			},
		},
		/** Deactivate (the row stays): the stream unsubscribes, auto-ingest and top-ups stop following it. */
		remove: {
			params: { venue: { ...NAME, lowercase: true }, symbol: NAME },
			async handler(this: Self, ctx: Context<{ venue: string; symbol: string }>) {
				const { row, changed } = await this.catalog.remove(ctx.params.venue, ctx.params.symbol).catch(notFound);
				if (changed) await this.announce(changed);
				return row;
			},
		},
		/** Sync one venue now; 502 when none of its sources answered (the rows stay as they were). */
		sync: {
			...({ timeout: 0 } as {}), // a sync takes as long as the venues take
			params: { venue: { ...NAME, lowercase: true } },
			async handler(this: Self, ctx: Context<{ venue: string }>) {
				const venue = ctx.params.venue;
				if (!this.catalog.venues().includes(venue)) {
					throw new Errors.MoleculerClientError(`venue ${JSON.stringify(venue)} is not synced here (configured: ${this.catalog.venues().join(", ") || "none"})`, 404, "UNKNOWN_VENUE", { venue, matches: this.catalog.venues() });
				}
				const outcome = await this.syncVenue(venue);
				if (!outcome.sources.some((s) => s.ok)) throw new Errors.MoleculerError(`${venue} could not be synced; its rows are unchanged`, 502, "VENUE_UNREACHABLE", outcome);
				return outcome;
			},
		},
	},

	methods: {
		async syncVenue(this: Self, venue: string) {
			const rt = runtimeOf(this.broker);
			// rows are written under the venue's lock, after a sync on another replica (or kraken-stream's first-start seeding)
			const outcome = await this.catalog.sync(venue, this.abort.signal, async (fn) => (await withCatalogLock(rt.pool, venueLockName(venue), fn, { wait: true }))!);
			if (outcome.sources.some((s) => s.ok && (s.inserted || s.updated || s.delisted))) {
				await this.broker.broadcast("symbols.synced", { venue, sources: outcome.sources });
			}
			return outcome;
		},
		async announce(this: Self, changed: SymbolsChanged) {
			this.logger.info(`symbols.changed ${changed.venue}: +${changed.added.join(",") || "-"} -${changed.removed.join(",") || "-"} (${changed.symbols.length} active)`);
			await this.broker.broadcast("symbols.changed", changed);
		},
		/** Topics and history for a newly active symbol, in the background: a failure is logged, the add stands. */
		followUp(this: Self, row: CatalogRow) {
			const rt = runtimeOf(this.broker);
			const c = rt.config;
			const jobs: Promise<unknown>[] = [];
			if (c.marketLog === "pulsar") {
				jobs.push(
					provisionPulsarTopics(c, symbolTopics(row.assetClass, row.venue, row.venueSymbol))
						.then((r) => this.logger.info(`${row.venue} ${row.symbol}: Pulsar topics created ${r.created.length}, existing ${r.existing.length}`))
						.catch((err) => this.logger.warn(`${row.venue} ${row.symbol}: Pulsar topics not created: ${(err as Error).message}`)),
				);
			}
			const req = historyRequestFor(row, new Date(), c.addSymbolBackfillMs);
			if (req) {
				jobs.push(
					this.broker
						.call(req.action, req.params, { timeout: 0 })
						.then(() => this.logger.info(`${row.venue} ${row.symbol}: history of the last ${c.addSymbolBackfillMs / 3_600_000} h requested (${req.action})`))
						.catch((err) => this.logger.warn(`${row.venue} ${row.symbol}: history not fetched (${req.action}): ${(err as Error).message}`)),
				);
			}
			for (const j of jobs) {
				this.followUps.add(j);
				void j.finally(() => this.followUps.delete(j));
			}
		},
	},

	created(this: Self) {
		const rt = runtimeOf(this.broker);
		this.catalog = new Catalog(this.adapter, catalogAdaptersFromConfig(rt.config));
		this.syncs = null;
		this.topUps = null;
		this.abort = new AbortController();
		this.followUps = new Set();
	},

	async started(this: Self) {
		const c = runtimeOf(this.broker).config;
		this.syncs = new RetryingSchedule({
			what: "catalog sync",
			intervalMs: c.catalogSyncIntervalMs,
			retryBaseMs: c.catalogRetryBaseMs,
			retryMaxMs: c.catalogRetryMaxMs,
			logger: this.logger,
			run: async (venue) => {
				const outcome = await this.syncVenue(venue);
				const failed = outcome.sources.filter((s) => !s.ok);
				if (failed.length) throw new Error(failed.map((s) => s.error).join("; "));
				this.logger.info(`catalog ${venue}: ${outcome.sources.map((s) => `${s.source} listed ${s.listed}, new ${s.inserted}, changed ${s.updated}, delisted ${s.delisted}`).join("; ")}`);
				return true;
			},
		});
		this.syncs.start(this.catalog.venues());
		// Active Binance klines and Kraken trades stay current: exchange-history's catalog run over the last two intervals.
		this.topUps = new RetryingSchedule({
			what: "history top-up",
			intervalMs: c.historyTopUpIntervalMs,
			retryBaseMs: c.historyTopUpIntervalMs,
			retryMaxMs: c.historyTopUpIntervalMs,
			logger: this.logger,
			run: async () => {
				const to = new Date();
				const from = new Date(to.getTime() - 2 * c.historyTopUpIntervalMs);
				await withCatalogLock(runtimeOf(this.broker).pool, "history-top-up", async () => {
					const active = await this.catalog.list({ active: true, limit: 1 });
					if (!active.items.length) return;
					await this.broker.call("exchange-history.catalog", { from: from.toISOString(), to: to.toISOString() }, { timeout: 0 });
				});
				return true;
			},
		});
		// first top-up one interval after start (the add itself fetched ADD_SYMBOL_BACKFILL)
		setTimeout(() => this.topUps?.start(["binance+kraken"]), c.historyTopUpIntervalMs).unref();
	},

	async stopped(this: Self) {
		this.abort.abort(new Error("symbol-catalog stopped"));
		await this.syncs?.stop();
		await this.topUps?.stop();
		await Promise.allSettled([...this.followUps]);
	},
};

/** The schema with its own adapter instance: two brokers in one process (tests, replicas) must not share one. */
export function symbolCatalogSchema(): ServiceSchema {
	return { ...SymbolCatalogService, adapter: new PgDbAdapter(SYMBOLS_TABLE, (broker) => runtimeOf(broker as never).pool) } as ServiceSchema;
}

export default SymbolCatalogService;
