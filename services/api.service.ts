import type { Context, Service, ServiceSchema } from "moleculer";
import { asClientErrors } from "../mixins/client-errors";
import { Errors } from "moleculer";
import ApiGateway from "moleculer-web";
import { intParam, parseCandleQuery, parseTickQuery, ParamError } from "../lib/api/params";
import { queryQuotes, queryTrades } from "../lib/api/ticks";
import { freshness } from "../lib/api/freshness";
import { gatherFeeds, type FeedBroker } from "../lib/feed/gather";
import { feedsCheck } from "../lib/feed/status";
import { getCandles } from "../lib/candles/query";
import { parseKlinesQuery } from "../lib/history/params";
import { queryKlines } from "../lib/history/klines-store";
import { parseReplay } from "../lib/replay";
import { runtimeOf } from "../mixins/runtime";

type Params = Record<string, unknown>;

/** Turn a parameter problem into a 400 that says what is wrong; let everything else through. */
/**
 * The REST gateway (moleculer-web). Routes are listed in README.md and docs/openapi.yaml.
 * Market data is read straight from PostgreSQL; the still-open candle is computed live.
 */
const ApiService: ServiceSchema<any> = {
	name: "api",
	mixins: [ApiGateway as unknown as Partial<ServiceSchema>],

	settings: {
		port: 3000, // bin/pipeline sets PORT from the configuration
		ip: "0.0.0.0",
		routes: [
			{
				path: "/api",
				mappingPolicy: "restrict",
				aliases: {
					"GET candles": "api.candles",
					"GET trades": "api.trades",
					"GET quotes": "api.quotes",
					"GET freshness": "api.freshness",
					"GET health": "api.health",
					"GET ready": "api.ready",
					"GET dead-letters": "api.deadLetters",
					"GET gaps": "api.gaps",
					"GET feeds": "api.feeds",
					"POST ingest": "api.ingest",
					// Dukascopy history jobs (served by the dukascopy-backfill service, local or on another node)
					"POST backfill/gaps": "dukascopy-backfill.fillGaps",
					"POST backfill": "dukascopy-backfill.start",
					"GET backfill": "dukascopy-backfill.list",
					"GET backfill/:id": "dukascopy-backfill.status",
					"POST backfill/:id/cancel": "dukascopy-backfill.cancel",
					"GET klines": "api.klines",
					"POST history/klines": "exchange-history.klines",
					"POST history/kraken-trades": "exchange-history.krakenTrades",
				},
				bodyParsers: { json: { limit: "64mb" } },
			},
		],
		log4XXResponses: false,
	},

	actions: {
		candles: {
			visibility: "published",
			async handler(this: Service, ctx: Context<Params>) {
				const rt = runtimeOf(this.broker);
				const q = await asClientErrors(() => parseCandleQuery(ctx.params, { maxBuckets: rt.config.apiMaxRangeBuckets }));
				return getCandles(rt.pool, q);
			},
		},
		trades: {
			visibility: "published",
			async handler(this: Service, ctx: Context<Params>) {
				const rt = runtimeOf(this.broker);
				const q = await asClientErrors(() => parseTickQuery(ctx.params, { maxRows: rt.config.apiMaxRows }));
				return queryTrades(rt.pool, q);
			},
		},
		quotes: {
			visibility: "published",
			async handler(this: Service, ctx: Context<Params>) {
				const rt = runtimeOf(this.broker);
				const q = await asClientErrors(() => parseTickQuery(ctx.params, { maxRows: rt.config.apiMaxRows }));
				return queryQuotes(rt.pool, q);
			},
		},
		/** Stored exchange klines (Binance), oldest first; fill them with POST /api/history/klines. */
		klines: {
			visibility: "published",
			async handler(this: Service, ctx: Context<Params>) {
				const rt = runtimeOf(this.broker);
				const q = await asClientErrors(() => parseKlinesQuery(ctx.params, { maxRows: rt.config.apiMaxRows }));
				return queryKlines(rt.pool, q, q.from, q.to, q.limit);
			},
		},
		freshness: {
			visibility: "published",
			async handler(this: Service) {
				return freshness(runtimeOf(this.broker).pool);
			},
		},
		health: {
			visibility: "published",
			handler() {
				return { status: "ok", uptimeSeconds: Math.round(process.uptime()) };
			},
		},
		ready: {
			visibility: "published",
			async handler(this: Service) {
				const rt = runtimeOf(this.broker);
				const checks: Record<string, string> = {};
				try {
					await rt.pool.query("SELECT 1");
					checks.database = "ok";
				} catch (err) {
					checks.database = (err as Error).message;
				}
				try {
					await (await rt.log()).ping();
					checks.log = "ok";
				} catch (err) {
					checks.log = (err as Error).message;
				}
				// Feeds report without failing readiness (a venue being down is not this process being broken),
				// except refused credentials: that needs an operator, so the check names the feed and fails.
				const feeds = await gatherFeeds(this.broker as unknown as FeedBroker);
				checks.feeds = feedsCheck(feeds);
				const authFailed = feeds.filter((f) => f.state === "auth-failed");
				const failing = Object.entries(checks).filter(([k, v]) => k !== "feeds" && v !== "ok");
				if (failing.length || authFailed.length) {
					if (authFailed.length) checks.feeds = `auth-failed: ${authFailed.map((f) => `${f.venue} (${f.error ?? "credentials refused"})`).join(", ")}`;
					throw new Errors.MoleculerError("not ready", 503, "NOT_READY", checks);
				}
				return { status: "ready", checks };
			},
		},
		/** Every live feed on every node: state, last message age, reconnects, open outage (FeedStatus[]). */
		feeds: {
			visibility: "published",
			params: {},
			async handler(this: Service) {
				return { items: await gatherFeeds(this.broker as unknown as FeedBroker) };
			},
		},
		/** The gap ledger (feed_gaps): stretches a feed may have missed, newest first; `open=true` for unrepaired ones. */
		gaps: {
			visibility: "published",
			async handler(this: Service, ctx: Context<Params>) {
				const rt = runtimeOf(this.broker);
				const q = await asClientErrors(() => {
					const p = ctx.params;
					const limit = intParam(p, "limit", 100, 1, 1000);
					for (const k of ["venue", "symbol"] as const) if (p[k] !== undefined && (typeof p[k] !== "string" || !/^[A-Za-z0-9._\-/]{1,64}$/.test(p[k] as string))) throw new ParamError(k, `${k} must be a venue or symbol name`);
					if (p.open !== undefined && p.open !== "true" && p.open !== "false" && typeof p.open !== "boolean") throw new ParamError("open", "open must be true or false");
					return { limit, venue: (p.venue as string) ?? null, symbol: (p.symbol as string) ?? null, open: p.open === undefined ? null : String(p.open) === "true" };
				});
				const { rows } = await rt.pool.query(
					`SELECT id::text, venue, symbol, channel, from_time, to_time, cause, detail, repaired_at, repaired_by
					   FROM feed_gaps
					  WHERE ($1::text IS NULL OR venue = $1) AND ($2::text IS NULL OR symbol = $2)
					    AND ($3::boolean IS NULL OR (repaired_at IS NULL) = $3)
					  ORDER BY id DESC LIMIT $4`,
					[q.venue, q.symbol, q.open, q.limit],
				);
				return { items: rows };
			},
		},
		deadLetters: {
			visibility: "published",
			async handler(this: Service, ctx: Context<Params>) {
				const rt = runtimeOf(this.broker);
				const limit = await asClientErrors(() => {
					return intParam(ctx.params, "limit", 100, 1, 1000);
				});
				const { rows } = await rt.pool.query(
					`SELECT id::text, received_at, consumer, topic, message_id, msg_key, reason, convert_from(payload, 'UTF8') AS payload
					   FROM dead_letters ORDER BY id DESC LIMIT $1`,
					[limit],
				);
				const { rows: c } = await rt.pool.query("SELECT count(*)::int AS n FROM dead_letters");
				return { total: c[0].n, items: rows };
			},
		},
		/**
		 * Publish normalized trades/quotes (JSON lines, as `npm run replay` reads them) into this process's log.
		 * This is how the replay CLI reaches the in-memory log of the embedded mode.
		 */
		ingest: {
			visibility: "published",
			async handler(this: Service, ctx: Context<Params>) {
				const rt = runtimeOf(this.broker);
				const text = (ctx.params as Params).lines;
				if (typeof text !== "string") throw new Errors.MoleculerClientError('send {"lines": "<JSON lines>"}', 400, "INVALID_PARAMETER", { param: "lines" });
				const parsed = parseReplay(text);
				const log = await rt.log();
				for (const m of parsed.messages) await log.publish(m.topic, m.key, [m.payload]);
				return { lines: parsed.lines, published: parsed.records, messages: parsed.messages.length, errors: parsed.errors.slice(0, 100) };
			},
		},
	},
};

export default ApiService;
