import { randomBytes } from "node:crypto";
import { Errors, type Service, type ServiceSchema } from "moleculer";
import { cascadeLagSeconds, currentFenceToken, FencedOutError, markRangeDirty, runCascadeCycle, type CycleResult } from "../lib/candles/cascade";
import type { LeaderElector } from "../lib/coordination/lease";
import { LocalLease } from "../lib/coordination/local-lease";
import { RedisLease } from "../lib/coordination/redis-lease";
import { runtimeOf } from "../mixins/runtime";
import { Q } from "../mixins/action-params";
import { asClientErrors } from "../mixins/client-errors";
import { parseTime } from "../lib/api/params";

interface Locals {
	lease: LeaderElector;
	running: boolean;
	loopDone: Promise<void> | null;
	wake: (() => void) | null;
	woken: boolean;
	cycles: number;
	lastCycle: (CycleResult & { at: string }) | null;
	lastError: string | null;
	leaderSince: string | null;
}

type Self = Service & Locals & { cycleLoop(): Promise<void> };

const FENCE = "cascade-refresher";

/**
 * Exactly one active instance (Redis lease with fencing; in-process leadership without REDIS_URL)
 * rebuilds candles bottom-up over exactly the dirty windows, every CASCADE_INTERVAL_MS or as soon as
 * a tick-writer reports new rows. Tokens never fall below the database's leader_fence token, even when
 * Redis lost its counter. While Redis is unreachable there is no leader: the cascade pauses (documented in
 * the README), dirty marks pile up and are worked off by the next leader; stored ticks are never affected.
 */
const CascadeRefresherService: ServiceSchema<{}, { cycleLoop(): Promise<void> }, Locals> = {
	name: "cascade-refresher",

	events: {
		"ticks.stored"(this: Self) {
			this.woken = true;
			this.wake?.();
		},
		/** Broadcast by `refresh`: whichever replica leads runs a cycle now. */
		"cascade.refresh"(this: Self) {
			this.woken = true;
			this.wake?.();
		},
	},

	actions: {
		/** REPL: `call cascade-refresher.status` */
		status: {
			params: {},
			handler(this: Self) {
				return {
					nodeID: this.broker.nodeID,
					leader: this.lease.isLeader(),
					leaderSince: this.lease.isLeader() ? this.leaderSince : null,
					token: this.lease.token()?.toString() ?? null,
					problem: this.lease.problem(),
					cycles: this.cycles,
					lastCycle: this.lastCycle,
					lastError: this.lastError,
				};
			},
		},

		/**
		 * Rebuild candles now (REPL: `cascade refresh [from to]`): with a range, first mark its 1m buckets
		 * dirty (optionally of one venue / symbol); then wake the leader, wherever it runs.
		 */
		refresh: {
			params: {
				from: Q.time,
				to: Q.time,
				venue: { type: "string", optional: true, max: 64 },
				symbol: { type: "string", optional: true, max: 64 },
			},
			async handler(this: Self, ctx: { params: { from?: string | number; to?: string | number; venue?: string; symbol?: string } }) {
				const { venue, symbol } = ctx.params;
				// the same time formats as every read route (ISO-8601 or epoch ms), parsed in one place
				const { from, to } = await asClientErrors(() => ({ from: parseTime(ctx.params, "from"), to: parseTime(ctx.params, "to") }));
				if ((from === undefined) !== (to === undefined)) throw new Errors.ValidationError("give both from and to, or neither", "VALIDATION_ERROR", [{ field: from ? "to" : "from" }]);
				if (from && to && !(from < to)) throw new Errors.ValidationError("from must be before to", "VALIDATION_ERROR", [{ field: "to" }]);
				const marked = from && to ? await markRangeDirty(runtimeOf(this.broker).pool, { from, to, venue, symbol }) : 0;
				await this.broker.broadcast("cascade.refresh", {});
				return { marked, from: from?.toISOString() ?? null, to: to?.toISOString() ?? null };
			},
		},
	},

	created(this: Self) {
		const rt = runtimeOf(this.broker);
		const c = rt.config;
		// Unique per process start: the fence lets a token pass again only for the very holder that took it.
		const holderId = `${this.broker.nodeID}-${randomBytes(3).toString("hex")}`;
		this.lease = c.redisUrl
			? new RedisLease({
					redis: c.redisUrl,
					tlsCaFile: c.redisTlsCa,
					key: `${this.broker.namespace || "mdp"}:lease:${FENCE}`,
					ttlMs: c.leaseTtlMs,
					holderId,
					logger: this.logger,
					tokenFloor: () => currentFenceToken(rt.pool, FENCE),
				})
			: new LocalLease({
					holderId,
					// Restarts must keep increasing the token the database has seen.
					nextToken: async () => {
						const { rows } = await rt.pool.query("SELECT token FROM leader_fence WHERE name = $1", [FENCE]);
						return BigInt(rows[0]?.token ?? 0) + 1n;
					},
				});
		this.running = false;
		this.loopDone = null;
		this.wake = null;
		this.woken = false;
		this.cycles = 0;
		this.lastCycle = null;
		this.lastError = null;
		this.leaderSince = null;
		this.lease.on("elected", (token: bigint) => {
			this.leaderSince = new Date().toISOString();
			this.logger.info(`elected cascade leader with fencing token ${token}`);
		});
		this.lease.on("revoked", () => this.logger.warn("no longer the cascade leader"));
		const m = this.broker.metrics;
		if (m.isEnabled()) {
			m.register({ name: "mdp_cascade_cycle_ms", type: "histogram", description: "Cascade cycle duration", buckets: [5, 10, 25, 50, 100, 250, 500, 1000, 5000] });
			m.register({ name: "mdp_cascade_dirty_claimed_total", type: "counter", description: "Dirty 1m buckets processed" });
			m.register({ name: "mdp_cascade_leader", type: "gauge", description: "1 while this instance is the cascade leader" });
			m.register({ name: "mdp_cascade_lag_seconds", type: "gauge", labelNames: ["timeframe"], description: "Seconds from the end of the newest bucket a cycle rebuilt, per timeframe, to now (0 while it is open)" });
		}
	},

	async started(this: Self) {
		await this.lease.start();
		this.running = true;
		this.loopDone = this.cycleLoop();
	},

	async stopped(this: Self) {
		this.running = false;
		this.wake?.();
		await this.loopDone;
		await this.lease.stop();
	},

	methods: {
		async cycleLoop(this: Self) {
			const rt = runtimeOf(this.broker);
			const { cascadeIntervalMs, cascadeMaxDirty } = rt.config;
			let more = false;
			while (this.running) {
				if (!more && !this.woken) {
					await new Promise<void>((resolve) => {
						const t = setTimeout(resolve, cascadeIntervalMs);
						this.wake = () => {
							clearTimeout(t);
							resolve();
						};
					});
					this.wake = null;
				}
				this.woken = false;
				more = false;
				if (this.broker.metrics.isEnabled()) this.broker.metrics.set("mdp_cascade_leader", this.lease.isLeader() ? 1 : 0);
				const token = this.lease.token();
				if (!this.running || !this.lease.isLeader() || token === null) continue;
				try {
					const r = await runCascadeCycle(rt.pool, { fenceToken: token, holder: this.lease.holderId, fenceName: FENCE, maxDirty: cascadeMaxDirty, logger: this.logger });
					this.cycles++;
					this.lastError = null;
					if (r.claimed > 0) {
						this.lastCycle = { ...r, at: new Date().toISOString() };
						more = r.claimed >= cascadeMaxDirty; // a backlog: go again at once
						if (this.broker.metrics.isEnabled()) {
							this.broker.metrics.observe("mdp_cascade_cycle_ms", r.durationMs);
							this.broker.metrics.increment("mdp_cascade_dirty_claimed_total", undefined, r.claimed);
							for (const [tf, lag] of Object.entries(cascadeLagSeconds(r, Date.now()))) this.broker.metrics.set("mdp_cascade_lag_seconds", lag, { timeframe: tf });
						}
						this.broker.emit("candles.updated", { windows: r.windows, perLevel: r.perLevel });
					}
				} catch (err) {
					this.lastError = (err as Error).message;
					if (err instanceof FencedOutError) {
						// A newer leader wrote with a higher token: this instance must not act until re-elected.
						this.logger.warn(`fenced out: ${(err as Error).message}`);
						await this.lease.resign(err.currentToken);
					} else {
						this.logger.error("cascade cycle failed", (err as Error).message);
					}
				}
			}
		},
	},
};

export default CascadeRefresherService;
