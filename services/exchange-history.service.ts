import type { Context, Service, ServiceSchema } from "moleculer";
import { asClientErrors } from "../mixins/client-errors";
import { Errors } from "moleculer";
import { ParamError } from "../lib/api/params";
import { HistoryError } from "../lib/history/errors";
import { exchangeHistoryFromConfig, type ExchangeHistory } from "../lib/history/exchange-history";
import { historyRange, klineInterval, klinesVenue } from "../lib/history/params";
import { runtimeOf } from "../mixins/runtime";
import { Q, required } from "../mixins/action-params";

const RANGE = { from: required(Q.time), to: required(Q.time) };

type Params = Record<string, unknown>;

/**
 * A history run takes as long as the venue's pages take: no call timeout (Moleculer honours an action's
 * `timeout`, its typings do not list it).
 */
const NO_TIMEOUT = { timeout: 0 } as {};

interface Locals {
	history: ExchangeHistory;
	abort: AbortController;
}

const STATUS: Record<HistoryError["code"], number> = { BAD_PARAMETER: 400, UNKNOWN_SYMBOL: 404, BUSY: 409, BANNED: 503, VENUE_ERROR: 502 };

/** Parameter and venue problems as client errors that name what is wrong (HTTP status through the gateway). */
/** HistoryError codes as Moleculer errors: the caller's mistakes are client errors, the venue's are not. */
function historyError(err: unknown): Error | undefined {
	if (!(err instanceof HistoryError)) return undefined;
	const status = STATUS[err.code];
	return status < 500 ? new Errors.MoleculerClientError(err.message, status, err.code, { param: err.param }) : new Errors.MoleculerError(err.message, status, err.code);
}

function str(p: Params, name: string): string {
	const v = p[name];
	if (typeof v !== "string" || v === "") throw new ParamError(name, `${name} is required`);
	return v;
}

/**
 * Thin shell around lib/history: Binance klines into `klines`, Kraken trades through the log into `trades`,
 * for one symbol or every active crypto symbol of the catalog. Runs are synchronous (the result is the count
 * of pages and rows), so the actions have no call timeout.
 */
const ExchangeHistoryService: ServiceSchema<{}, {}, Locals> = {
	name: "exchange-history",

	actions: {
		/** REPL: `call exchange-history.klines --symbol BTCUSDT --interval 1m --from 2024-01-01 --to 2024-01-02` */
		klines: {
			params: { venue: Q.name, symbol: required(Q.name), interval: Q.text(64), ...RANGE },
			...NO_TIMEOUT,
			async handler(this: Service & Locals, ctx: Context<Params>) {
				return asClientErrors(async () => {
					klinesVenue(ctx.params);
					const symbol = str(ctx.params, "symbol");
					const interval = klineInterval(ctx.params);
					return this.history.klines({ symbol, interval, ...historyRange(ctx.params) });
				}, historyError);
			},
		},
		/** REPL: `call exchange-history.krakenTrades --pair XBTUSD --from 2024-01-01 --to 2024-01-02` */
		krakenTrades: {
			params: { pair: required(Q.name), full: Q.bool, ...RANGE },
			...NO_TIMEOUT,
			async handler(this: Service & Locals, ctx: Context<Params>) {
				return asClientErrors(async () => {
					const pair = str(ctx.params, "pair");
					const full = ctx.params.full === true || ctx.params.full === "true";
					return this.history.krakenTrades({ pair, full, ...historyRange(ctx.params) });
				}, historyError);
			},
		},
		/** Every active crypto symbol of the catalog. REPL: `call exchange-history.catalog --from 2024-01-01 --to 2024-01-02` */
		catalog: {
			params: { interval: Q.text(64), ...RANGE },
			...NO_TIMEOUT,
			async handler(this: Service & Locals, ctx: Context<Params>) {
				return asClientErrors(async () => this.history.catalog({ interval: klineInterval(ctx.params, "1m"), ...historyRange(ctx.params) }), historyError);
			},
		},
		/** What is running now, with its progress. */
		status: {
			params: {},
			handler(this: Service & Locals) {
				return this.history.status();
			},
		},
	},

	created(this: Service & Locals) {
		const rt = runtimeOf(this.broker);
		this.abort = new AbortController();
		// The venue limiters are the process's (Runtime.limiter): kraken-stream's gap repair shares Kraken's.
		this.history = exchangeHistoryFromConfig(rt.config, rt.pool, () => rt.log(), this.logger, { limiter: (host, rate, burst) => rt.limiter(host, rate, burst), signal: this.abort.signal });
	},

	/** Runs in progress end at their next venue call: none keeps paging into a closed pool or log. */
	async stopped(this: Service & Locals) {
		this.abort.abort(new Error("exchange-history stopped"));
		await this.history.stop();
	},
};

export default ExchangeHistoryService;
