import type { ServiceBroker } from "moleculer";
import type { Pool } from "pg";
import { logConfig, type Config } from "../lib/config";
import type { MarketLog } from "../lib/log/types";
import { createMarketLog, type MarketLogLogger } from "../lib/log";
import { RateLimiter } from "../lib/net/http";
import { createPool } from "../lib/store/pool";

/**
 * Process-wide resources shared by the services of one broker: one pg pool, one market-log
 * connection. In embedded mode every service of the pipeline shares them (the in-memory log only
 * works that way); in cluster mode each process has its own.
 */
export class Runtime {
	private poolP: Pool | null = null;
	private logP: Promise<MarketLog> | null = null;
	private limiters = new Map<string, RateLimiter>();
	/** Where the log driver reports reconnects and fallbacks; the broker's logger once attached. */
	logger: MarketLogLogger | undefined;

	constructor(
		readonly config: Config,
		readonly databaseUrl: string,
		log?: MarketLog,
	) {
		if (log) this.logP = Promise.resolve(log);
	}

	get pool(): Pool {
		if (!this.poolP) this.poolP = createPool(this.databaseUrl, { max: 10 });
		return this.poolP;
	}

	log(): Promise<MarketLog> {
		if (!this.logP) {
			this.logP = createMarketLog({ ...logConfig(this.config), logger: this.logger });
			this.logP.catch(() => (this.logP = null)); // a failed connect may be retried
		}
		return this.logP;
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

	/** The readiness checks of this process (api's /api/ready, the probes' /readyz): "ok" or why not. */
	async readiness(): Promise<Record<string, string>> {
		const checks: Record<string, string> = {};
		try {
			await this.pool.query("SELECT 1");
			checks.database = "ok";
		} catch (err) {
			checks.database = (err as Error).message;
		}
		try {
			await (await this.log()).ping();
			checks.log = "ok";
		} catch (err) {
			checks.log = (err as Error).message;
		}
		return checks;
	}

	async close(): Promise<void> {
		if (this.logP) await (await this.logP.catch(() => null))?.close();
		if (this.poolP) await this.poolP.end();
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
