import type { Context, Service, ServiceSchema } from "moleculer";
import { asClientErrors } from "../mixins/client-errors";
import { Errors } from "moleculer";
import { intParam, ParamError } from "../lib/api/params";
import { AutoIngester } from "../lib/backfill/auto-ingest";
import { findInstrument, getInstrument, type DukascopyInstrument } from "../lib/backfill/dukascopy/instruments";
import { activeDukascopyInstruments, registerCatalogInstruments } from "../lib/catalog/instruments";
import { PgDbAdapter, SYMBOLS_TABLE } from "../lib/catalog/pg-adapter";
import { createSource } from "../lib/backfill/dukascopy/source";
import { findGaps } from "../lib/backfill/gaps";
import { cancelJob, createJob, getJob, listJobs, retryFailed } from "../lib/backfill/jobs";
import { BackfillWorker } from "../lib/backfill/worker";
import { parseBackfillRequest } from "../lib/backfill/params";
import type { LeaderElector } from "../lib/coordination/lease";
import { LocalLease } from "../lib/coordination/local-lease";
import { RedisLease } from "../lib/coordination/redis-lease";
import { RateLimiter } from "../lib/net/http";
import { runtimeOf } from "../mixins/runtime";
import { Q, required } from "../mixins/action-params";

const JOB_PARAMS = { source: Q.text(64), instrument: required(Q.name), from: required(Q.time), to: required(Q.time) };

type Params = Record<string, unknown>;

interface Locals {
	worker: BackfillWorker | null;
	ingester: AutoIngester | null;
	lease: LeaderElector | null;
	catalog: PgDbAdapter;
	configured: DukascopyInstrument[]; // AUTO_INGEST_INSTRUMENTS
	refreshCatalog(): Promise<void>;
	knowsInstrument(p: Params): Promise<void>;
}

type Self = Service & Locals;

/** Parameter problems become 400s naming the parameter (an unknown instrument says which ones exist). */
function jobId(p: Params): string {
	const id = p.id;
	if ((typeof id !== "string" && typeof id !== "number") || !/^\d{1,18}$/.test(String(id))) throw new ParamError("id", `id ${JSON.stringify(id)} is not a job id (a positive integer)`);
	return String(id);
}

/**
 * Dukascopy history: jobs split into hours and run by every replica's worker (leases in PostgreSQL),
 * gap fill, and the auto-ingester (one leader) that follows configured instruments hour by hour.
 * Ticks go through the market-data log's historical stream to the tick-writer like any other quotes.
 * REPL: `call dukascopy-backfill.start --instrument EURUSD --from 2024-01-01 --to 2024-01-02`.
 */
const DukascopyBackfillService: ServiceSchema<{}, {}, Locals> = {
	name: "dukascopy-backfill",

	events: {
		/** Another replica queued a job: look for work now rather than at the next poll. */
		"backfill.queued"(this: Self, ctx: Context<{ id?: string }>) {
			if (typeof ctx.params?.id === "string") this.worker?.jobRequeued(ctx.params.id);
			this.worker?.wake();
		},
		/** A job was cancelled (on any replica): hours of it claimed here and not started are handed back, not run. */
		async "backfill.cancelled"(this: Self, ctx: Context<{ id: string }>) {
			if (typeof ctx.params?.id !== "string") return;
			await this.worker?.dropJob(ctx.params.id).catch((err) => this.logger.warn(`handing back the hours of cancelled job ${ctx.params.id} failed: ${(err as Error).message}`));
		},
		/** A Dukascopy symbol was added or removed: auto-ingest follows the catalog's active ones. */
		"symbols.changed"(this: Self, ctx: Context<{ venue?: string }>) {
			if (ctx.params?.venue === "dukascopy") return this.refreshCatalog().catch((err) => this.logger.warn(`catalog refresh failed: ${(err as Error).message}`));
		},
		/** A catalog sync may have listed new instruments. */
		"symbols.synced"(this: Self, ctx: Context<{ venue?: string }>) {
			if (ctx.params?.venue === "dukascopy") return this.refreshCatalog().catch((err) => this.logger.warn(`catalog refresh failed: ${(err as Error).message}`));
		},
	},

	methods: {
		/** Learn the catalog's Dukascopy instruments, and follow the active ones with auto-ingest (besides AUTO_INGEST_INSTRUMENTS). */
		async refreshCatalog(this: Self) {
			await registerCatalogInstruments(this.catalog);
			if (!this.ingester) return;
			const list = new Map(this.configured.map((i) => [i.id, i]));
			for (const i of await activeDukascopyInstruments(this.catalog)) list.set(i.id, i);
			const before = this.ingester.instruments.map((i) => i.id).join(",");
			this.ingester.setInstruments([...list.values()]);
			const after = [...list.keys()].join(",");
			if (before !== after) this.logger.info(`auto-ingest follows ${after || "nothing"}`);
		},
		/** An instrument the built-in table does not know may have reached the catalog since the last refresh. */
		async knowsInstrument(this: Self, p: Params) {
			if (typeof p.instrument === "string" && !findInstrument(p.instrument)) await registerCatalogInstruments(this.catalog);
		},
	},

	actions: {
		/** Queue a job: `{source: "dukascopy", instrument, from, to}` -> the job's status (with its id). */
		start: {
			params: JOB_PARAMS,
			async handler(this: Self, ctx: Context<Params>) {
				const rt = runtimeOf(this.broker);
				await this.knowsInstrument(ctx.params);
				const req = await asClientErrors(() => parseBackfillRequest(ctx.params));
				const id = await createJob(rt.pool, { instrument: req.inst.id, hours: req.hours, from: req.from, to: req.to, kind: "range" });
				this.worker?.wake();
				ctx.broadcast("backfill.queued", { id, instrument: req.inst.id });
				return getJob(rt.pool, id);
			},
		},
		/** State and progress of one job: hours done/total, ticks, rate, ETA, errors per hour. */
		status: {
			params: { id: Q.id },
			async handler(this: Self, ctx: Context<Params>) {
				const id = await asClientErrors(() => jobId(ctx.params));
				const job = await getJob(runtimeOf(this.broker).pool, id);
				if (!job) throw new Errors.MoleculerClientError(`no backfill job ${id}`, 404, "JOB_NOT_FOUND", { id });
				return job;
			},
		},
		list: {
			params: { limit: Q.int, state: Q.text(64) },
			async handler(this: Self, ctx: Context<Params>) {
				const { limit, state } = await asClientErrors(() => {
					const l = intParam(ctx.params, "limit", 50, 1, 1000);
					const s = ctx.params.state;
					if (s !== undefined && !["queued", "running", "done", "failed", "cancelled"].includes(String(s))) throw new ParamError("state", `state ${JSON.stringify(s)} is not one of queued, running, done, failed, cancelled`);
					return { limit: l, state: s === undefined ? undefined : String(s) };
				});
				return { items: await listJobs(runtimeOf(this.broker).pool, { limit, state }) };
			},
		},
		cancel: {
			params: { id: Q.id },
			async handler(this: Self, ctx: Context<Params>) {
				const id = await asClientErrors(() => jobId(ctx.params));
				const pool = runtimeOf(this.broker).pool;
				const cancelled = await cancelJob(pool, id);
				if (cancelled) ctx.broadcast("backfill.cancelled", { id });
				const job = await getJob(pool, id);
				if (!job) throw new Errors.MoleculerClientError(`no backfill job ${id}`, 404, "JOB_NOT_FOUND", { id });
				return { cancelled, job };
			},
		},
		/** Queue a job's failed hours again. */
		retry: {
			params: { id: Q.id },
			async handler(this: Self, ctx: Context<Params>) {
				const id = await asClientErrors(() => jobId(ctx.params));
				const pool = runtimeOf(this.broker).pool;
				const requeued = await retryFailed(pool, id);
				this.worker?.wake();
				if (requeued > 0) ctx.broadcast("backfill.queued", { id });
				return { requeued, job: await getJob(pool, id) };
			},
		},
		/**
		 * Find the hours of [from, to) that should have ticks and have none (FX weekends skipped) and queue
		 * a job for exactly those; `dryRun: true` only lists them.
		 */
		fillGaps: {
			params: { ...JOB_PARAMS, dryRun: Q.bool },
			async handler(this: Self, ctx: Context<Params>) {
				const rt = runtimeOf(this.broker);
				await this.knowsInstrument(ctx.params);
				const req = await asClientErrors(() => parseBackfillRequest(ctx.params));
				const gaps = await findGaps(rt.pool, req.inst, req.from, req.to);
				const dryRun = ctx.params.dryRun === true || ctx.params.dryRun === "true";
				if (dryRun || gaps.length === 0) return { instrument: req.inst.id, gaps: gaps.map((h) => new Date(h).toISOString()), job: null };
				const id = await createJob(rt.pool, { instrument: req.inst.id, hours: gaps, from: req.from, to: req.to, kind: "gaps" });
				this.worker?.wake();
				ctx.broadcast("backfill.queued", { id, instrument: req.inst.id });
				return { instrument: req.inst.id, gaps: gaps.map((h) => new Date(h).toISOString()), job: await getJob(rt.pool, id) };
			},
		},
		/** Worker and auto-ingest counters of this replica (REPL: `call dukascopy-backfill.stats`). */
		stats: {
			params: {},
			handler(this: Self) {
				return {
					worker: this.worker ? { ...this.worker.stats } : null,
					autoIngest: this.ingester ? { leader: this.lease?.isLeader() ?? false, instruments: this.ingester.instruments.map((i) => i.id), ...this.ingester.stats } : null,
				};
			},
		},
	},

	created(this: Self) {
		this.worker = null;
		this.ingester = null;
		this.lease = null;
		this.catalog = new PgDbAdapter(SYMBOLS_TABLE, () => runtimeOf(this.broker).pool);
		this.configured = [];
		const m = this.broker.metrics;
		if (m.isEnabled()) {
			m.register({ name: "mdp_backfill_hours_total", type: "counter", labelNames: ["result"], description: "Dukascopy hours by result: done, retried (transient failure), waiting (not published yet), failed" });
			m.register({ name: "mdp_backfill_ticks_total", type: "counter", description: "Dukascopy ticks accepted by the market-data log" });
		}
	},

	async started(this: Self) {
		const rt = runtimeOf(this.broker);
		const c = rt.config;
		const log = await rt.log();
		const m = this.broker.metrics;
		const source = createSource(c.dukascopySource, {
			bi5Url: c.dukascopyUrl,
			jsonUrl: c.dukascopyJsonUrl,
			limiter: new RateLimiter(c.backfillRatePerSec, Math.max(1, Math.ceil(c.backfillRatePerSec))),
			onRetry: ({ attempt, delayMs, error }) => this.logger.warn(`dukascopy: retry ${attempt} in ${delayMs} ms: ${error.message}`),
		});
		this.worker = new BackfillWorker({
			pool: rt.pool,
			source,
			log,
			owner: this.broker.nodeID,
			concurrency: c.backfillConcurrency,
			wire: c.backfillWire,
			leaseMs: c.backfillLeaseMs,
			publishWindowMs: c.dukascopyPublishWindowMs,
			unpublishedRetryMs: c.dukascopyUnpublishedRetryMs,
			logger: this.logger,
			onHourDone: ({ ticks }) => {
				if (m.isEnabled()) {
					m.increment("mdp_backfill_hours_total", { result: "done" });
					m.increment("mdp_backfill_ticks_total", undefined, ticks);
				}
			},
			onHourFailed: ({ retrying }) => {
				if (m.isEnabled()) m.increment("mdp_backfill_hours_total", { result: retrying ? "retried" : "failed" });
			},
			onHourWaiting: () => {
				if (m.isEnabled()) m.increment("mdp_backfill_hours_total", { result: "waiting" });
			},
			onJobFinished: ({ jobId, state }) => {
				this.logger.info(`backfill job ${jobId} ${state}`);
				this.broker.emit("backfill.finished", { id: jobId, state });
			},
		});
		// the catalog's instruments first: jobs of queued catalog instruments (AAPLUSUSD) must resolve
		await registerCatalogInstruments(this.catalog);
		this.worker.start();
		this.configured = c.autoIngestInstruments.map((n) => getInstrument(n));
		{
			// Always on: the catalog's active Dukascopy symbols may be added at any time.
			const holderId = this.broker.nodeID;
			let token = 0n;
			this.lease = c.redisUrl
				? new RedisLease({ redis: c.redisUrl, key: `${this.broker.namespace || "mdp"}:lease:dukascopy-auto-ingest`, ttlMs: c.leaseTtlMs, holderId, logger: this.logger })
				: new LocalLease({ holderId, nextToken: () => ++token });
			this.ingester = new AutoIngester({
				pool: rt.pool,
				source,
				log,
				lease: this.lease,
				instruments: this.configured,
				wire: c.backfillWire,
				intervalMs: c.autoIngestIntervalMs,
				publishWindowMs: c.dukascopyPublishWindowMs,
				logger: this.logger,
				onHour: ({ instrument, hour, ticks }) => this.logger.info(`auto-ingest ${instrument} ${new Date(hour).toISOString()}: ${ticks} ticks`, { symbol: instrument, hour: new Date(hour).toISOString(), ticks }),
			});
			await this.lease.start();
			await this.refreshCatalog();
			this.ingester.start();
		}
	},

	async stopped(this: Self) {
		await this.ingester?.stop();
		await this.lease?.stop();
		await this.worker?.stop();
	},
};

export default DukascopyBackfillService;
