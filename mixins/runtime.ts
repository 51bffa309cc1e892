import type { ServiceBroker } from "moleculer";
import type { Pool } from "pg";
import { logConfig, type Config } from "../lib/config";
import type { MarketLog } from "../lib/log/types";
import { createMarketLog, type MarketLogLogger } from "../lib/log";
import { RateLimiter } from "../lib/net/http";
import { createPool } from "../lib/store/pool";
import { classifyDbError, type DatabaseState } from "../lib/store/db-wait";
import { createRedisClient, settled, type WatchedRedis } from "../lib/coordination/redis-client";

/**
 * Process-wide resources shared by the services of one broker: one pg pool, one market-log
 * connection. In embedded mode every service of the pipeline shares them (the in-memory log only
 * works that way); in cluster mode each process has its own.
 */
export class Runtime {
	private poolP: Pool | null = null;
	private logP: Promise<MarketLog> | null = null;
	private limiters = new Map<string, RateLimiter>();
	private redisW: WatchedRedis | null = null;
	private readyStates = new Map<string, string>();
	/** Where the log driver reports reconnects and fallbacks; the broker's logger once attached. */
	logger: MarketLogLogger | undefined;
	/** The last start-up attempt's view of PostgreSQL ("waiting" before the first). */
	databaseState: DatabaseState | "waiting" = "waiting";
	/** Every service of this process is up (start-up no longer waits for the database). */
	started = false;

	constructor(
		readonly config: Config,
		readonly databaseUrl: string,
		log?: MarketLog,
	) {
		if (log) this.logP = Promise.resolve(log);
	}

	get pool(): Pool {
		if (!this.poolP) this.poolP = createPool(this.databaseUrl, { max: 10, connectionTimeoutMillis: this.config.dbConnectTimeoutMs });
		return this.poolP;
	}

	log(): Promise<MarketLog> {
		if (!this.logP) {
			this.logP = createMarketLog({ ...logConfig(this.config), logger: this.logger });
			this.logP.catch(() => (this.logP = null)); // a failed connect may be retried
		}
		return this.logP;
	}

	/** A Redis connection for readiness (REDIS_URL), null when leadership is in-process. */
	redis(): WatchedRedis | null {
		if (!this.config.redisUrl) return null;
		this.redisW ??= createRedisClient(this.config.redisUrl, {
			what: "readiness",
			tlsCaFile: this.config.redisTlsCa,
			logger: this.logger,
			ioredis: { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2_000, retryStrategy: (n) => Math.min(100 * n, 2_000) },
		});
		return this.redisW;
	}

	/**
	 * The one rate limiter of a venue host in this process: every service calling that host (kraken-stream's gap
	 * repair and exchange-history for Kraken, say) takes its tokens from the same bucket. The first caller's rate
	 * and burst make it; later callers get that limiter whatever they ask for.
	 */
	limiter(host: string, ratePerSec: number, burst = 1): RateLimiter {
		let l = this.limiters.get(host);
		if (!l) this.limiters.set(host, (l = new RateLimiter(ratePerSec, burst)));
		return l;
	}

	/**
	 * The readiness checks of this process (api's /api/ready, the probes' /readyz): "ok" or a state word
	 * ("unreachable", "auth-failed", "waiting-for-database", ...), never the driver's text: that goes to the
	 * log, once per change of state.
	 */
	async readiness(): Promise<Record<string, string>> {
		const checks: Record<string, string> = {};
		const note = (name: string, state: string, err?: unknown) => {
			checks[name] = state;
			if (this.readyStates.get(name) === state) return;
			this.readyStates.set(name, state);
			if (state === "ok") this.logger?.info(`readiness: ${name} ok`);
			else this.logger?.warn(`readiness: ${name} ${state}: ${(err as Error)?.message ?? ""}`);
		};
		try {
			await this.pool.query("SELECT 1");
			note("database", "ok");
		} catch (err) {
			note("database", classifyDbError(err), err);
		}
		try {
			await (await this.log()).ping();
			note("log", "ok");
		} catch (err) {
			note("log", /authori[sz]ation|auth/i.test((err as Error).message ?? "") ? "auth-failed" : "unreachable", err);
		}
		if (!this.started) checks.startup = "waiting-for-database";
		const redis = this.redis();
		if (redis) {
			await settled(redis, 2_000);
			// Only the state's name: the reason is in the log (an auth failure as an error line).
			const problem = redis.problem() ?? (await redis.client.ping().then(() => null, () => "unreachable" as const));
			note("redis", problem ?? "ok");
		}
		return checks;
	}

	async close(): Promise<void> {
		if (this.logP) await (await this.logP.catch(() => null))?.close();
		if (this.poolP) await this.poolP.end();
		this.redisW?.client.disconnect();
		this.redisW = null;
		this.logP = null;
		this.poolP = null;
	}
}

const runtimes = new WeakMap<ServiceBroker, Runtime>();

export function attachRuntime(broker: ServiceBroker, rt: Runtime): void {
	runtimes.set(broker, rt);
	rt.logger ??= broker.getLogger("market-log");
}

export function runtimeOf(broker: ServiceBroker): Runtime {
	const rt = runtimes.get(broker);
	if (!rt) throw new Error("no Runtime attached to this broker: create it with createPipelineBroker()");
	return rt;
}
