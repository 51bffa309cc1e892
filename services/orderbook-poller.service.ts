import { hostname } from "node:os";
import type { Context, Service, ServiceSchema } from "moleculer";
import { binanceWeightNeed, takeRestSnapshot, type RestBookClients } from "../lib/orderbook/rest-source";
import { SnapshotScheduler } from "../lib/orderbook/scheduler";
import { TargetList, targetsFromConfig, type CatalogPage } from "../lib/orderbook/targets";
import type { BookTarget } from "../lib/orderbook/types";
import { BinanceDepthRest, binanceWeightRate } from "../lib/venues/binance/rest";
import { krakenRestFromConfig } from "../lib/venues/kraken/rest";
import { nodesOfAction } from "../mixins/endpoints";
import { runtimeOf } from "../mixins/runtime";

interface Locals {
	scheduler: SnapshotScheduler<BookTarget> | null;
	targets: TargetList | null;
	abort: AbortController;
	refreshTimer: NodeJS.Timeout | null;
	failing: Set<string>; // books whose last snapshot failed
}

type Self = Service & Locals;

/**
 * REST order-book snapshots (lib/orderbook) of every active Kraken and Binance (spot, USD-M) book into
 * book_snapshots, one per symbol per ORDERBOOK_POLL_INTERVAL_MS, shared between replicas through slot claims.
 * The books come from the symbol catalog (`symbols.list`, followed through `symbols.changed`) when it runs,
 * else from KRAKEN_SYMBOLS and ORDERBOOK_SYMBOLS. REPL: `call orderbook-poller.status`.
 */
const OrderbookPollerService: ServiceSchema<{}, {}, Locals> = {
	name: "orderbook-poller",

	events: {
		"symbols.changed"(this: Self) {
			void this.targets?.refresh();
		},
		// The catalog may come up (or go away) after this service: look again when it did.
		"$services.changed"(this: Self) {
			void this.targets?.refreshIfSourceChanged();
		},
	},

	actions: {
		status: {
			params: {},
			handler(this: Self) {
				return {
					targetsFrom: this.targets?.from ?? null,
					targets: (this.targets?.targets ?? []).map((t) => ({ venue: t.venue, symbol: t.symbol, venueSymbol: t.venueSymbol, market: t.market })),
					stats: this.scheduler ? { ...this.scheduler.stats } : null,
				};
			},
		},
	},

	created(this: Self) {
		this.scheduler = null;
		this.targets = null;
		this.abort = new AbortController();
		this.refreshTimer = null;
		this.failing = new Set();
		const m = this.broker.metrics;
		if (m.isEnabled()) {
			m.register({ name: "mdp_orderbook_snapshots_total", type: "counter", labelNames: ["venue"], description: "Order-book snapshots stored by this poller" });
			m.register({ name: "mdp_orderbook_failures_total", type: "counter", labelNames: ["venue"], description: "Order-book snapshots that failed (retried within their slot)" });
		}
	},

	async started(this: Self) {
		const rt = runtimeOf(this.broker);
		const c = rt.config;
		const m = this.broker.metrics;
		const signal = this.abort.signal;
		const binance = (market: "spot" | "usdm", baseUrl: string) => {
			const w = binanceWeightRate(market, c.orderbookWeightShare);
			return new BinanceDepthRest({
				baseUrl,
				market,
				weightShare: c.orderbookWeightShare,
				// One weight bucket per host in this process; the requests/s limiters of other services are other keys.
				weightLimiter: rt.limiter(`${new URL(baseUrl).host}#weight`, w.perSec, w.burst),
				http: { signal },
			});
		};
		const kraken = krakenRestFromConfig(c, (host, rate, burst) => rt.limiter(host, rate, burst), signal);
		// Exact REST pair names (altnames) for every pair; without them the v2 name is mapped by Kraken's legacy codes.
		void kraken.loadAssetPairs().catch((err) => this.logger.debug(`Kraken AssetPairs not loaded: ${(err as Error).message}`));
		const clients: RestBookClients = {
			kraken,
			binanceSpot: binance("spot", c.binanceRestUrl),
			binanceUsdm: binance("usdm", c.binanceUsdmRestUrl),
		};
		const targets = (this.targets = new TargetList({
			catalogAvailable: () => nodesOfAction(this.broker, "symbols.list").length > 0,
			listCatalog: (params) => this.broker.call("symbols.list", params) as Promise<CatalogPage>,
			configured: () => targetsFromConfig(c.krakenSymbols, c.orderbookSymbols),
			onChange: (next, from) => {
				this.logger.info(`polling ${next.length} order books (from the ${from}): ${next.map((t) => `${t.venue}:${t.symbol}`).join(", ") || "-"}`);
				for (const w of binanceWeightNeed(next, c.orderbookDepth, c.orderbookPollIntervalMs, c.orderbookWeightShare)) {
					if (w.needPerMin > w.budgetPerMin) {
						this.logger.warn(`Binance ${w.market} books need ${Math.round(w.needPerMin)} weight/min, the budget is ${Math.round(w.budgetPerMin)} (ORDERBOOK_WEIGHT_SHARE): some snapshots will be late or missed`);
					}
				}
			},
			onError: (err) => this.logger.warn(`order-book targets not refreshed (keeping ${targets.targets.length}): ${(err as Error).message}`),
		}));
		await targets.refresh();
		this.scheduler = new SnapshotScheduler<BookTarget>({
			pool: rt.pool,
			owner: `${this.broker.nodeID}/${hostname()}/${process.pid}`,
			source: "rest",
			intervalMs: c.orderbookPollIntervalMs,
			claimTtlMs: c.orderbookClaimTtlMs,
			targets: () => targets.targets,
			take: (t, signal) => takeRestSnapshot(clients, t, c.orderbookDepth, signal),
			logger: this.logger,
			onStored: (s) => {
				if (m.isEnabled()) m.increment("mdp_orderbook_snapshots_total", { venue: s.venue });
				const key = `${s.venue}:${s.symbol}`;
				if (this.failing.delete(key)) this.logger.info(`order-book snapshots of ${key} work again`);
			},
			onFailed: (t, err) => {
				if (m.isEnabled()) m.increment("mdp_orderbook_failures_total", { venue: t.venue });
				// A venue that is down (or no internet) fails every retry: one warning per book until it works again.
				const key = `${t.venue}:${t.symbol}`;
				if (this.failing.has(key)) return;
				this.failing.add(key);
				this.logger.warn(`order-book snapshot of ${key} failed (retried; logged again once it works): ${(err as Error).message}`);
			},
		});
		this.scheduler.start();
		this.refreshTimer = setInterval(() => void targets.refresh(), Math.max(c.orderbookPollIntervalMs, 10_000));
	},

	async stopped(this: Self) {
		if (this.refreshTimer) clearInterval(this.refreshTimer);
		this.abort.abort(new Error("orderbook-poller stopped"));
		await this.scheduler?.stop();
		await this.targets?.settled();
	},
};

export default OrderbookPollerService;
