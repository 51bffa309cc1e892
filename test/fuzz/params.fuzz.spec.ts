import fc from "fast-check";
import Validator from "fastest-validator";
import type { ServiceSchema } from "moleculer";
import { ParamError, parseCandleQuery, parseTickQuery, decodeCursor } from "../../lib/api/params";
import { HttpError } from "../../lib/api/guard";
import { parseIngestText } from "../../lib/api/ingest";
import { parseBackfillRequest } from "../../lib/backfill/params";
import { historyRange, klineInterval, klinesVenue, parseKlinesQuery } from "../../lib/history/params";
import { VALIDATOR_MESSAGES } from "../../mixins/action-params";
import ApiService from "../../services/api.service";
import CascadeRefresherService from "../../services/cascade-refresher.service";
import DukascopyBackfillService from "../../services/dukascopy-backfill.service";
import ExchangeHistoryService from "../../services/exchange-history.service";
import KrakenStreamService from "../../services/kraken-stream.service";
import TickWriterService from "../../services/tick-writer.service";
import OandaStreamService from "../../services/oanda-stream.service";
import OrderbookPollerService from "../../services/orderbook-poller.service";
import { symbolCatalogSchema } from "../../services/symbol-catalog.service";
import { FeedServiceMixin } from "../../mixins/feed";

/**
 * Every REST parameter, fuzzed at both layers: the actions' `params` schemas (what the validator answers
 * for REST, REPL and other nodes) and the parsers in lib/ behind them. A bad value is refused with the
 * parameter named; nothing else escapes.
 */

const RUNS = { numRuns: 300 };

const value = fc.oneof(
	fc.string({ maxLength: 40 }),
	fc.constantFrom("", "2024-01-15", "2024-01-15T13:00:00Z", "2024-02-30", "1705323600", "1705323600000", "-1", "0", "99999999999999999999", "1m", "15m", "trade", "previous", "EURUSD", "BTC-USD-SPOT", "true", "false", "null"),
	fc.integer(),
	fc.double(),
	fc.boolean(),
	fc.constant(null),
	fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }),
	fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 2 }),
);

const NAMES = ["venue", "symbol", "timeframe", "from", "to", "price", "fill", "limit", "cursor", "interval", "instrument", "source", "pair", "full", "id", "state", "open", "dryRun", "symbols", "lines"];
const params = fc.dictionary(fc.oneof(fc.constantFrom(...NAMES), fc.string({ maxLength: 8 })), value, { maxKeys: 8 });

/** Run a parser: it returns, or throws a ParamError naming one of `allowed`; anything else fails the property. */
function refusesByName(allowed: string[], f: () => unknown): void {
	try {
		f();
	} catch (err) {
		if (!(err instanceof ParamError)) throw err;
		expect(allowed).toContain(err.param);
		expect(err.message.length).toBeGreaterThan(0);
	}
}

describe("REST parameter parsers under hostile input", () => {
	it("candles, trades, quotes, klines", () => {
		fc.assert(
			fc.property(params, (p) => {
				refusesByName(["venue", "symbol", "timeframe", "from", "to", "price", "fill"], () => parseCandleQuery(p, { maxBuckets: 10_000 }));
				refusesByName(["venue", "symbol", "from", "to", "limit", "cursor"], () => parseTickQuery(p, { maxRows: 10_000 }));
				refusesByName(["venue", "symbol", "interval", "from", "to", "limit"], () => parseKlinesQuery(p, { maxRows: 10_000 }));
			}),
			RUNS,
		);
		fc.assert(fc.property(fc.string({ maxLength: 200 }), (c) => refusesByName(["cursor"], () => decodeCursor(c))), RUNS);
	});

	it("backfill and history requests", () => {
		fc.assert(
			fc.property(params, (p) => {
				refusesByName(["source", "instrument", "from", "to"], () => parseBackfillRequest(p));
				refusesByName(["from", "to"], () => historyRange(p));
				refusesByName(["interval"], () => klineInterval(p));
				refusesByName(["venue"], () => klinesVenue(p));
			}),
			RUNS,
		);
	});

	it("ingest lines: junk refused by line, good trades around it all kept, only 400/413 thrown", () => {
		const good = fc.nat(100_000).map((i) => ({ good: true, line: JSON.stringify({ venue: "kraken", symbol: "BTC-USD-SPOT", tradeId: String(i), price: "42000.5", qty: "0.01", time: "2024-01-15T13:00:00Z" }) }));
		const junk = fc.oneof(fc.string({ maxLength: 60 }), fc.json()).map((l) => ({ good: false, line: l.replace(/[\r\n]/g, " ") }));
		fc.assert(
			fc.property(fc.array(fc.oneof(good, junk), { maxLength: 40 }), (lines) => {
				const text = lines.map((l) => l.line).join("\n");
				try {
					const { result } = parseIngestText(text, { maxBytes: 1 << 20, maxLines: 1000 });
					expect(result.published).toBeGreaterThanOrEqual(lines.filter((l) => l.good).length);
					expect(result.published + result.rejected).toBe(result.lines);
					for (const e of result.errors) expect(e.line).toBeGreaterThanOrEqual(1);
				} catch (err) {
					expect(err).toBeInstanceOf(HttpError);
					expect([400, 413]).toContain((err as HttpError).code);
				}
			}),
			RUNS,
		);
	});
});

describe("every action's params schema under hostile input", () => {
	// every deployable of lib/config ALL_SERVICES, and the mixin that gives each feed service its `feeds` action
	const services: ServiceSchema<any, any, any>[] = [
		ApiService,
		CascadeRefresherService,
		DukascopyBackfillService,
		ExchangeHistoryService,
		KrakenStreamService,
		TickWriterService,
		OandaStreamService,
		OrderbookPollerService,
		symbolCatalogSchema(),
		{ name: "feed-service-mixin", ...FeedServiceMixin },
	] as ServiceSchema<any, any, any>[];
	const v = new Validator({ messages: VALIDATOR_MESSAGES });
	const checks = services.flatMap((s) =>
		Object.entries(s.actions ?? {}).map(([name, a]) => {
			const schema = (a as { params?: Record<string, unknown> }).params;
			return { action: `${s.name}.${name}`, schema, check: schema ? v.compile(schema as never) : null };
		}),
	);

	it("declares params on every action", () => {
		expect(checks.filter((c) => !c.schema).map((c) => c.action)).toEqual([]);
		expect(checks.length).toBeGreaterThanOrEqual(35);
	});

	it("answers true or errors naming the field, for any params", () => {
		fc.assert(
			fc.property(params, (p) => {
				for (const { action, check } of checks) {
					const r = check!({ ...p });
					if (r === true) continue;
					expect(Array.isArray(r)).toBe(true);
					for (const e of r as { field: string; message: string }[]) {
						expect([action, typeof e.field]).toEqual([action, "string"]);
						expect(e.message.startsWith(e.field)).toBe(true);
						const sent = p[e.field];
						if (typeof sent === "string" && sent.length >= 4) expect(e.message).not.toContain(sent); // the value sent is not echoed
					}
				}
			}),
			{ numRuns: 200 },
		);
	});
});
