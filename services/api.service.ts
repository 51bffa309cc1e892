import type { Context, Service, ServiceSchema } from "moleculer";
import { asClientErrors } from "../mixins/client-errors";
import { Errors } from "moleculer";
import ApiGateway from "moleculer-web";
import { intParam, parseCandleQuery, parseTickQuery, ParamError } from "../lib/api/params";
import { queryQuotes, queryTrades } from "../lib/api/ticks";
import { freshness } from "../lib/api/freshness";
import { SymbolKnowledge, UnknownMarketError } from "../lib/api/known";
import { getCandles } from "../lib/candles/query";
import { parseKlinesQuery } from "../lib/history/params";
import { queryKlines } from "../lib/history/klines-store";
import { parseReplay } from "../lib/replay";
import { runtimeOf } from "../mixins/runtime";

type Params = Record<string, unknown>;

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

const knowledge = new WeakMap<object, SymbolKnowledge>();
function knownOf(pool: import("pg").Pool): SymbolKnowledge {
	let k = knowledge.get(pool);
	if (!k) knowledge.set(pool, (k = new SymbolKnowledge(pool)));
	return k;
}

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
					// the symbol catalog (symbol-catalog service, Moleculer name `symbols`)
					"GET symbols": "symbols.list",
					"POST symbols/sync": "symbols.sync",
					"POST symbols": "symbols.add",
					"GET symbols/:venue/:symbol": "symbols.resolve",
					"DELETE symbols/:venue/:symbol": "symbols.remove",
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
				const known = knownOf(rt.pool);
				if (ctx.params.price === undefined || ctx.params.price === "") q.price = await known.defaultPrice(q.venue, q.symbol);
				const candles = await getCandles(rt.pool, q);
				return emptyMeansUnknown(candles, candles.length === 0, known, q.venue, q.symbol);
			},
		},
		trades: {
			visibility: "published",
			async handler(this: Service, ctx: Context<Params>) {
				const rt = runtimeOf(this.broker);
				const q = await asClientErrors(() => parseTickQuery(ctx.params, { maxRows: rt.config.apiMaxRows }));
				const page = await queryTrades(rt.pool, q);
				return emptyMeansUnknown(page, page.items.length === 0 && !q.cursor, knownOf(rt.pool), q.venue, q.symbol);
			},
		},
		quotes: {
			visibility: "published",
			async handler(this: Service, ctx: Context<Params>) {
				const rt = runtimeOf(this.broker);
				const q = await asClientErrors(() => parseTickQuery(ctx.params, { maxRows: rt.config.apiMaxRows }));
				const page = await queryQuotes(rt.pool, q);
				return emptyMeansUnknown(page, page.items.length === 0 && !q.cursor, knownOf(rt.pool), q.venue, q.symbol);
			},
		},
		/** Stored exchange klines (Binance), oldest first; fill them with POST /api/history/klines. */
		klines: {
			visibility: "published",
			async handler(this: Service, ctx: Context<Params>) {
				const rt = runtimeOf(this.broker);
				const q = await asClientErrors(() => parseKlinesQuery(ctx.params, { maxRows: rt.config.apiMaxRows }));
				const rows = await queryKlines(rt.pool, q, q.from, q.to, q.limit);
				return emptyMeansUnknown(rows, rows.length === 0, knownOf(rt.pool), q.venue, q.symbol);
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
				if (!rt.config.ingestAllowUnknown) {
					const unknown = await knownOf(rt.pool).unknownForIngest(parsed.messages);
					if (unknown.length) {
						throw new Errors.MoleculerClientError(`refused: ${unknown.map((u) => u.message).join("; ")} (add it with POST /api/symbols, or set INGEST_ALLOW_UNKNOWN=true)`, 404, "UNKNOWN_SYMBOL", {
							unknown: unknown.map((u) => ({ venue: u.venue, symbol: u.symbol, matches: u.matches })),
						});
					}
				}
				const log = await rt.log();
				for (const m of parsed.messages) await log.publish(m.topic, m.key, [m.payload]);
				return { lines: parsed.lines, published: parsed.records, messages: parsed.messages.length, errors: parsed.errors.slice(0, 100) };
			},
		},
	},
};

export default ApiService;
