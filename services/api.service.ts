import type { Readable } from "node:stream";
import type { Context, Service, ServiceSchema } from "moleculer";
import { asClientErrors } from "../mixins/client-errors";
import { Errors } from "moleculer";
import ApiGateway from "moleculer-web";
import { intParam, parseCandleQuery, parseTickQuery, ParamError } from "../lib/api/params";
import { queryQuotes, queryTrades } from "../lib/api/ticks";
import { freshness } from "../lib/api/freshness";
import { ClientRateLimiter } from "../lib/api/guard";
import { asMoleculerError, guard, sendApiError, type GatewayLocals } from "../mixins/http-guard";
import { parseIngestStream, parseIngestText } from "../lib/api/ingest";
import { gatherFeeds, type FeedBroker } from "../lib/feed/gather";
import { feedsCheck } from "../lib/feed/status";
import { SymbolKnowledge, UnknownMarketError } from "../lib/api/known";
import { getCandles } from "../lib/candles/query";
import { parseKlinesQuery } from "../lib/history/params";
import { queryKlines } from "../lib/history/klines-store";
import { isLoopback } from "../lib/config";
import { runtimeOf } from "../mixins/runtime";
import { nodesOfAction } from "../mixins/endpoints";
import { parseBooksQuery, parseLatestBookQuery } from "../lib/api/books";
import { queryBooks } from "../lib/orderbook/store";
import type { LiveBookSnapshot } from "../lib/venues/kraken/stream";
import { Q, READ_PARAMS } from "../mixins/action-params";
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
	/** which markets exist (catalog, stored data), for the 404 of an unknown market; made at start */
	known: SymbolKnowledge;
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

type Self = Service & GatewayLocals & Locals;

/** An empty read of a venue/symbol nobody knows is a 404 naming it, not an empty 200 (lib/api/known.ts says what "known" is). */
async function emptyMeansUnknown<T>(rows: T, empty: boolean, known: SymbolKnowledge, venue: string, symbol: string): Promise<T> {
	if (!empty) return rows;
	try {
		await known.assertReadable(venue, symbol);
	} catch (err) {
		if (err instanceof UnknownMarketError) throw new Errors.MoleculerClientError(err.message, 404, "UNKNOWN_SYMBOL", { venue, symbol, matches: err.matches });
		throw err;
	}
	return rows;
}

/**
 * The REST gateway (moleculer-web). Routes are listed in README.md and docs/openapi.yaml; access rules
 * and limits in README "Security".
 * Market data is read straight from PostgreSQL; the still-open candle is computed live.
 */
const ApiService: ServiceSchema<any, any, GatewayLocals & Locals> = {
	name: "api",
	mixins: [ApiGateway as unknown as Partial<ServiceSchema>],

	settings: {
		port: 3000, // bin/pipeline sets PORT, API_HOST and the request timeout from the configuration
		ip: "127.0.0.1",
		requestTimeout: 120_000,
		// `/` and the page's own files; moleculer-web serves these when no route matched (public: no market data).
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
					"GET feeds": "api.feeds",
					// Server-Sent Events (lib/live): live candles and ticks, fed by ticks.stored and candles.updated
					"GET stream/candles": streamAlias("candles"),
					"GET stream/trades": streamAlias("trades"),
					"GET stream/quotes": streamAlias("quotes"),
					"POST ingest": "stream:api.ingest",
					// Dukascopy history jobs (served by the dukascopy-backfill service, local or on another node)
					"POST backfill/gaps": "dukascopy-backfill.fillGaps",
					"POST backfill": "dukascopy-backfill.start",
					"GET backfill": "dukascopy-backfill.list",
					"GET backfill/:id": "dukascopy-backfill.status",
					"POST backfill/:id/cancel": "dukascopy-backfill.cancel",
					"GET klines": "api.klines",
					"GET books/latest": "api.booksLatest",
					"GET books": "api.books",
					"POST history/klines": "exchange-history.klines",
					"POST history/kraken-trades": "exchange-history.krakenTrades",
					// the symbol catalog (symbol-catalog service, Moleculer name `symbols`)
					"GET symbols": "symbols.list",
					"POST symbols/sync": "symbols.sync",
					"POST symbols": "symbols.add",
					"GET symbols/:venue/:symbol": "symbols.resolve",
					"DELETE symbols/:venue/:symbol": "symbols.remove",
				},
				// Bodies are read by `guard`, after the access checks and within each route's limit.
				bodyParsers: false,
				use: [guard],
				onError: sendApiError,
			},
		],
		log4XXResponses: false,
		// One debug line per request and response: info would be three lines for every call.
		logRequest: "debug",
		logResponse: "debug",
		logRequestParams: null,
		logResponseData: null,
	},

	created(this: Self & Locals) {
		const c = runtimeOf(this.broker).config;
		this.writeLimiter = new ClientRateLimiter(c.apiWriteRatePerMin, c.apiWriteBurst);
		this.hub = null;
		this.loaders = null;
	},

	started(this: Self & Locals) {
		const rt = runtimeOf(this.broker);
		const c = rt.config;
		this.loaders = pgLiveLoaders(rt.pool);
		this.known = new SymbolKnowledge(rt.pool);
		this.hub = new LiveHub({ loaders: this.loaders, maxClients: c.liveMaxClients, coalesceMs: c.liveCoalesceMs, logger: this.logger });
		const server = (this as unknown as { server: import("node:http").Server }).server;
		server.headersTimeout = Math.min(60_000, c.apiRequestTimeoutMs);
		const access = c.apiToken ? `writes need API_TOKEN${c.apiReadToken ? ", reads API_READ_TOKEN" : ", reads are open"}` : "no API_TOKEN: anyone who reaches this address can write";
		const scope = c.apiHost === "0.0.0.0" || c.apiHost === "::" ? "every interface" : "this address only";
		const where = isLoopback(c.apiHost) ? `loopback only${c.apiToken ? "" : " (set API_TOKEN to listen on every interface)"}` : c.apiToken ? scope : `${scope}, API_INSECURE=true`;
		this.logger.info(`api listening on ${c.apiHost}:${(this as unknown as { settings: { port: number } }).settings.port} (${where}; ${access})`);
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
			params: { ...READ_PARAMS, timeframe: Q.text(64), price: Q.text(64), fill: Q.text(64) },
			async handler(this: Self, ctx: Context<Params>) {
				const rt = runtimeOf(this.broker);
				const q = await asClientErrors(() => parseCandleQuery(ctx.params, { maxBuckets: rt.config.apiMaxRangeBuckets }));
				const known = this.known;
				if (ctx.params.price === undefined || ctx.params.price === "") q.price = await known.defaultPrice(q.venue, q.symbol);
				const candles = await getCandles(rt.pool, q);
				return emptyMeansUnknown(candles, candles.length === 0, known, q.venue, q.symbol);
			},
		},
		trades: {
			visibility: "published",
			params: { ...READ_PARAMS, limit: Q.int, cursor: Q.text(200) },
			async handler(this: Self, ctx: Context<Params>) {
				const rt = runtimeOf(this.broker);
				const q = await asClientErrors(() => parseTickQuery(ctx.params, { maxRows: rt.config.apiMaxRows }));
				const page = await queryTrades(rt.pool, q);
				return emptyMeansUnknown(page, page.items.length === 0 && !q.cursor, this.known, q.venue, q.symbol);
			},
		},
		quotes: {
			visibility: "published",
			params: { ...READ_PARAMS, limit: Q.int, cursor: Q.text(200) },
			async handler(this: Self, ctx: Context<Params>) {
				const rt = runtimeOf(this.broker);
				const q = await asClientErrors(() => parseTickQuery(ctx.params, { maxRows: rt.config.apiMaxRows }));
				const page = await queryQuotes(rt.pool, q);
				return emptyMeansUnknown(page, page.items.length === 0 && !q.cursor, this.known, q.venue, q.symbol);
			},
		},
		/** Stored exchange klines (Binance), oldest first; fill them with POST /api/history/klines. */
		klines: {
			visibility: "published",
			params: { ...READ_PARAMS, interval: Q.text(64), limit: Q.int },
			async handler(this: Self, ctx: Context<Params>) {
				const rt = runtimeOf(this.broker);
				const q = await asClientErrors(() => parseKlinesQuery(ctx.params, { maxRows: rt.config.apiMaxRows }));
				const rows = await queryKlines(rt.pool, q, q.from, q.to, q.limit);
				return emptyMeansUnknown(rows, rows.length === 0, this.known, q.venue, q.symbol);
			},
		},
		/** Stored order-book snapshots (REST polls and live Kraken books), newest first. */
		books: {
			visibility: "published",
			params: { ...READ_PARAMS, limit: Q.int, source: Q.name },
			async handler(this: Self, ctx: Context<Params>) {
				const rt = runtimeOf(this.broker);
				const q = await asClientErrors(() => parseBooksQuery(ctx.params, { maxRows: rt.config.apiMaxRows }));
				const items = await queryBooks(rt.pool, q);
				return { items: items.map(({ venue, symbol, ...rest }) => rest) };
			},
		},
		/**
		 * The newest book: Kraken's live checksummed book when a kraken-stream node holds it verified, else the last
		 * stored snapshot; 404 when there is neither.
		 */
		booksLatest: {
			visibility: "published",
			params: { venue: READ_PARAMS.venue, symbol: READ_PARAMS.symbol },
			async handler(this: Self, ctx: Context<Params>) {
				const rt = runtimeOf(this.broker);
				const q = await asClientErrors(() => parseLatestBookQuery(ctx.params));
				if (q.venue === "kraken") {
					// Replicas of kraken-stream may split the pairs: ask each node until one holds the book.
					for (const nodeID of nodesOfAction(this.broker, "kraken-stream.book")) {
						const live = (await ctx.call("kraken-stream.book", { symbol: q.symbol }, { nodeID }).catch(() => null)) as LiveBookSnapshot | null;
						if (live) return { time: live.time, recvTime: live.recvTime, source: "ws", live: true, lastUpdateId: null, checksum: live.checksum, bids: live.bids, asks: live.asks };
					}
				}
				const [stored] = await queryBooks(rt.pool, { ...q, from: null, to: null, source: null, limit: 1 });
				if (!stored) throw new Errors.MoleculerClientError(`no order book stored for ${q.venue} ${q.symbol}`, 404, "NOT_FOUND", { venue: q.venue, symbol: q.symbol });
				const { venue, symbol, ...item } = stored;
				return { ...item, live: false };
			},
		},
		freshness: {
			visibility: "published",
			params: {},
			async handler(this: Service) {
				return freshness(runtimeOf(this.broker).pool);
			},
		},
		health: {
			visibility: "published",
			params: {},
			handler() {
				return { status: "ok", uptimeSeconds: Math.round(process.uptime()) };
			},
		},
		ready: {
			visibility: "published",
			params: {},
			/** 503 naming each failing check ("database": "unreachable" | "auth-failed" | ...); the driver's message goes to the log only. */
			async handler(this: Self) {
				const rt = runtimeOf(this.broker);
				const checks = await rt.readiness();
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
			params: { venue: Q.name, symbol: Q.name, open: Q.bool, limit: Q.int },
			async handler(this: Self, ctx: Context<Params>) {
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
			params: { limit: Q.int },
			async handler(this: Self, ctx: Context<Params>) {
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
			params: { lines: Q.text(Number.MAX_SAFE_INTEGER) },
			async handler(this: Self, ctx: Context<Params>) {
				const rt = runtimeOf(this.broker);
				const c = rt.config;
				const limits = { maxBytes: c.apiIngestMaxBytes, maxLines: c.apiIngestMaxLines };
				const body = (ctx as unknown as { stream?: Readable | null }).stream;
				const parsed = await asClientErrors(
					() => {
						if (body) {
							if (body.readableEnded) throw new ParamError("body", "the request body was already read");
							return parseIngestStream(body, limits);
						}
						const text = ctx.params.lines;
						if (typeof text !== "string") throw new ParamError("lines", 'send JSON lines as the body, or {"lines": "<JSON lines>"}');
						return parseIngestText(text, limits);
					},
					(err) => asMoleculerError(err) as Error,
				);
				if (!c.ingestAllowUnknown) {
					const unknown = await this.known.unknownForIngest(parsed.messages);
					if (unknown.length) {
						throw new Errors.MoleculerClientError(`refused: ${unknown.map((u) => u.message).join("; ")} (add it with POST /api/symbols, or set INGEST_ALLOW_UNKNOWN=true)`, 404, "UNKNOWN_SYMBOL", {
							unknown: unknown.map((u) => ({ venue: u.venue, symbol: u.symbol, matches: u.matches })),
						});
					}
				}
				const log = await rt.log();
				for (const m of parsed.messages) await log.publish(m.topic, m.key, [m.payload]);
				return parsed.result;
			},
		},
	},
};

export default ApiService;
