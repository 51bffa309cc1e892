import type { Context, Service, ServiceSchema } from "moleculer";
import { asClientErrors } from "../mixins/client-errors";
import { Errors } from "moleculer";
import ApiGateway from "moleculer-web";
import { intParam, parseCandleQuery, parseTickQuery, ParamError } from "../lib/api/params";
import { queryQuotes, queryTrades } from "../lib/api/ticks";
import { freshness } from "../lib/api/freshness";
import { getCandles } from "../lib/candles/query";
import { parseKlinesQuery } from "../lib/history/params";
import { queryKlines } from "../lib/history/klines-store";
import { parseReplay } from "../lib/replay";
import { runtimeOf } from "../mixins/runtime";
import path from "node:path";
import { createReadStream, existsSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { LiveHub, TooManyClientsError, type CandleWindowSummary, type LiveLoaders, type StreamKind, type TickSpan } from "../lib/live/hub";
import { pgLiveLoaders } from "../lib/live/loaders";
import { openStream } from "../lib/live/open";
import { parseStreamKey, resumeFrom } from "../lib/live/params";

interface Locals {
	hub: LiveHub | null;
	loaders: LiveLoaders | null;
}

type Next = (err?: unknown) => void;
type GatewayReq = IncomingMessage & { $params?: Record<string, unknown> };

/** The chart page (public/) and the one vendor file it loads, served from the project: no CDN. */
const PUBLIC_DIR = path.resolve(__dirname, "../public");
// The package's "exports" offer only its ES module entry, so the standalone build (global LightweightCharts)
// is looked up in the node_modules folders Node would search.
const LIGHTWEIGHT_CHARTS = (require.resolve.paths("lightweight-charts") ?? [])
	.map((dir) => path.join(dir, "lightweight-charts/dist/lightweight-charts.standalone.production.js"))
	.find((f) => existsSync(f));

/** A moleculer-web alias that answers with Server-Sent Events of one stream kind (see lib/live). */
function streamAlias(kind: StreamKind) {
	return async function (this: Service & Locals, req: GatewayReq, res: ServerResponse, next: Next) {
		try {
			const params = req.$params ?? Object.fromEntries(new URL(req.url ?? "/", "http://x").searchParams);
			const key = await asClientErrors(() => parseStreamKey(kind, params));
			const since = await asClientErrors(() => resumeFrom(params, req.headers["last-event-id"] as string | undefined));
			if (!this.hub || !this.loaders) throw new Errors.MoleculerServerError("live streams are not running", 503, "NOT_READY");
			const c = runtimeOf(this.broker).config;
			await openStream(this.hub, this.loaders, key, since, req, res, { heartbeatMs: c.liveHeartbeatMs, maxBufferedBytes: c.liveMaxBufferedBytes, retryMs: 2000 });
			// The response stays open: `next` is never called, the client's close ends it.
		} catch (err) {
			if (res.headersSent) {
				res.end();
				return;
			}
			next(err instanceof TooManyClientsError ? new Errors.MoleculerServerError(err.message, 503, "TOO_MANY_CLIENTS") : err);
		}
	};
}

type Params = Record<string, unknown>;

/** Turn a parameter problem into a 400 that says what is wrong; let everything else through. */
/**
 * The REST gateway (moleculer-web). Routes are listed in README.md and docs/openapi.yaml.
 * Market data is read straight from PostgreSQL; the still-open candle is computed live.
 */
const ApiService: ServiceSchema<any, any, Locals> = {
	name: "api",
	mixins: [ApiGateway as unknown as Partial<ServiceSchema>],

	settings: {
		port: 3000, // bin/pipeline sets PORT from the configuration
		ip: "0.0.0.0",
		// `/` and the page's own files; moleculer-web serves these when no route matched.
		assets: { folder: PUBLIC_DIR, options: { index: "index.html", maxAge: 0 } },
		routes: [
			{
				path: "/vendor",
				mappingPolicy: "restrict",
				aliases: {
					"GET lightweight-charts.js"(req: IncomingMessage, res: ServerResponse, next: Next) {
						if (!LIGHTWEIGHT_CHARTS) return next(new Errors.MoleculerServerError("lightweight-charts is not installed (npm install)", 500, "NO_CHART_LIBRARY"));
						res.writeHead(200, { "Content-Type": "application/javascript; charset=utf-8", "Cache-Control": "public, max-age=3600" });
						createReadStream(LIGHTWEIGHT_CHARTS).pipe(res);
					},
				},
			},
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
					// Server-Sent Events (lib/live): live candles and ticks, fed by ticks.stored and candles.updated
					"GET stream/candles": streamAlias("candles"),
					"GET stream/trades": streamAlias("trades"),
					"GET stream/quotes": streamAlias("quotes"),
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

	events: {
		/** From every tick-writer (any node): ticks committed; moves the open candles and the tick streams. */
		"ticks.stored"(this: Service & Locals, ctx: Context<{ spans?: TickSpan[] }>) {
			if (Array.isArray(ctx.params?.spans)) this.hub?.ticksStored(ctx.params.spans);
		},
		/** From the cascade leader: rebuilt windows (late ticks, backfills). */
		"candles.updated"(this: Service & Locals, ctx: Context<{ windows?: CandleWindowSummary[] }>) {
			if (Array.isArray(ctx.params?.windows)) this.hub?.candlesUpdated(ctx.params.windows);
		},
	},

	created(this: Service & Locals) {
		this.hub = null;
		this.loaders = null;
	},

	started(this: Service & Locals) {
		const rt = runtimeOf(this.broker);
		this.loaders = pgLiveLoaders(rt.pool);
		this.hub = new LiveHub({ loaders: this.loaders, maxClients: rt.config.liveMaxClients, coalesceMs: rt.config.liveCoalesceMs, logger: this.logger });
	},

	async stopped(this: Service & Locals) {
		// Runs before moleculer-web's own stopped (mixins' hooks stop in reverse), which waits in server.close()
		// for every connection to end: live streams end here, and keep-alive connections of a page that keeps
		// polling are cut after a grace period, or the close would wait for them forever.
		await this.hub?.stop();
		const server = (this as unknown as { server?: { closeAllConnections?(): void } }).server;
		if (server?.closeAllConnections) setTimeout(() => server.closeAllConnections!(), 2000).unref();
	},

	actions: {
		/** Live-stream counters (REPL: `call api.live`). */
		live: {
			visibility: "public",
			params: {},
			handler(this: Service & Locals) {
				return this.hub ? { clients: this.hub.clientCount, ...this.hub.stats } : null;
			},
		},
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
				if (Object.values(checks).some((v) => v !== "ok")) throw new Errors.MoleculerError("not ready", 503, "NOT_READY", checks);
				return { status: "ready", checks };
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
