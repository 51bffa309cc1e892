import fc from "fast-check";
import fs from "node:fs";
import path from "node:path";
import { decodeBi5Ticks, decodeBi5TicksAsync } from "../../lib/backfill/dukascopy/bi5";
import { getInstrument } from "../../lib/backfill/dukascopy/instruments";
import { decodeJsonTicks, parseJsonTicks } from "../../lib/backfill/dukascopy/jsonapi";
import { CorruptHourError, quoteItems } from "../../lib/backfill/dukascopy/ticks";
import { decodeWire, encodeEnvelope, itemObjectProblem, tradeEnvelope } from "../../lib/domain/codec";
import type { TradeItem } from "../../lib/domain/types";
import { decodeFrame, quoteItem, QuoteSeq, tradeItem } from "../../lib/venues/kraken/parse";
import { restTrade } from "../../lib/venues/kraken/rest";

/**
 * Hostile input to every decoder that reads bytes from outside: the wire codec (anything a producer can
 * publish), Kraken's WebSocket frames and REST rows, Dukascopy's .bi5 files and JSON API. None may throw
 * anything but its own documented error, and good data next to bad is kept.
 */

const FIX = path.resolve(__dirname, "../../../shared/fixtures");
const RUNS = { numRuns: 400 };

const goodTrade = (i: number): TradeItem => ({ tradeId: String(i + 1), side: "buy", price: "42000.5", qty: "0.01", time: `2024-01-15T13:00:${String(i % 60).padStart(2, "0")}.123Z`, recvTime: "2024-01-15T13:01:00Z" });

/** Values a hostile producer would try in a field: wrong types, zero, negative, huge, control characters, exponent forms. */
const fieldValue = fc.oneof(
	fc.string(),
	fc.constantFrom("0", "0.0", "-1", "1e5", "NaN", "Infinity", "", "\t", "\n", "\\N", "9".repeat(80), "2024-02-30T10:00:00Z", "1705323600", "1970-01-01T00:00:00Z"),
	fc.double(),
	fc.integer(),
	fc.boolean(),
	fc.constant(null),
	fc.array(fc.string(), { maxLength: 2 }),
);

describe("wire codec under hostile input", () => {
	it("never throws on arbitrary bytes, and rejects what it cannot use with a reason", () => {
		fc.assert(
			fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
				const w = decodeWire(bytes);
				if (w.rows === 0 && w.markers === 0 && w.kind === null) expect(w.rejects.length).toBeGreaterThan(0);
			}),
			RUNS,
		);
		fc.assert(
			fc.property(fc.string({ maxLength: 400 }), (text) => {
				decodeWire(Buffer.from(text));
				decodeWire(Buffer.from(`{"v":2,"kind":"trade","venue":"kraken","symbol":"BTC-USD-SPOT"}\n${text}`));
			}),
			RUNS,
		);
	});

	it("keeps every good item around hostile ones in both wire versions", () => {
		const hostile = fc.record({ tradeId: fieldValue, side: fieldValue, price: fieldValue, qty: fieldValue, time: fieldValue, recvTime: fieldValue }, { requiredKeys: [] });
		fc.assert(
			fc.property(fc.array(fc.oneof(fc.nat(1000).map(goodTrade), hostile), { maxLength: 30 }), (items) => {
				const goodCount = items.filter((it) => itemObjectProblem("trade", it) === null).length;
				const v1 = decodeWire(Buffer.from(JSON.stringify({ v: 1, kind: "trade", venue: "kraken", symbol: "BTC-USD-SPOT", items })));
				expect(v1.rows).toBe(goodCount);
				expect(v1.rejects).toHaveLength(items.length - goodCount);
				for (const r of v1.rejects) expect(r.reason).toMatch(/^(tradeId|price|qty|side|time|recvTime|item) /);
			}),
			RUNS,
		);
		fc.assert(
			fc.property(fc.array(fc.oneof(fc.nat(1000).map((i) => ({ good: true, line: encodeEnvelope(tradeEnvelope("k", "S", [goodTrade(i)])).toString().split("\n")[1] })), fc.string({ maxLength: 80 }).map((line) => ({ good: false, line: line.replace(/\n/g, " ") }))), { maxLength: 30 }), (lines) => {
				const body = lines.map((l) => l.line).join("\n");
				if (!body) return;
				const w = decodeWire(Buffer.from(`{"v":2,"kind":"trade","venue":"kraken","symbol":"BTC-USD-SPOT"}\n${body}`));
				expect(w.rows).toBeGreaterThanOrEqual(lines.filter((l) => l.good).length);
				// one trailing newline ends the message; a body that is only that newline holds no line at all
				const trimmed = body.endsWith("\n") ? body.slice(0, -1) : body;
				expect(w.rows + w.rejects.length).toBe(trimmed === "" ? 0 : trimmed.split("\n").length);
			}),
			RUNS,
		);
	});
});

describe("Kraken decoders under hostile input", () => {
	const recv = "2024-01-15T13:00:00.000Z";

	it("decodeFrame never throws on arbitrary text or JSON", () => {
		fc.assert(fc.property(fc.string({ maxLength: 300 }), (t) => void decodeFrame(t)), RUNS);
		fc.assert(fc.property(fc.json(), (t) => void decodeFrame(t)), RUNS);
	});

	it("maps whatever a trade or ticker frame lets through to items the codec accepts or rejects, never a crash", () => {
		const trade = fc.record({ symbol: fc.oneof(fc.constant("BTC/USD"), fieldValue), side: fc.oneof(fc.constantFrom("buy", "sell"), fieldValue), price: fc.oneof(fc.constantFrom("42000.1", "0", "1e-8"), fieldValue), qty: fc.oneof(fc.constantFrom("0.5", "0"), fieldValue), trade_id: fc.oneof(fc.nat().map(String), fieldValue), timestamp: fc.oneof(fc.constant("2024-01-15T13:00:00.123456Z"), fieldValue) }, { requiredKeys: [] });
		const ticker = fc.record({ symbol: fc.oneof(fc.constant("BTC/USD"), fieldValue), bid: fc.oneof(fc.constantFrom("42000.1", "0"), fieldValue), ask: fc.oneof(fc.constant("42000.2"), fieldValue), bid_qty: fc.oneof(fc.constant("1"), fieldValue), ask_qty: fc.oneof(fc.constant("2"), fieldValue), timestamp: fc.oneof(fc.constant("2024-01-15T13:00:00Z"), fieldValue) }, { requiredKeys: [] });
		fc.assert(
			fc.property(fc.array(trade, { maxLength: 10 }), fc.array(ticker, { maxLength: 10 }), fc.constantFrom("snapshot", "update"), (trades, tickers, type) => {
				const f = decodeFrame(JSON.stringify({ channel: "trade", type, data: trades }));
				expect(f.kind).toBe("trade");
				if (f.kind === "trade") {
					expect(f.trades.length + f.problems.length).toBe(trades.length);
					const items = f.trades.map((t) => tradeItem(t, recv, { price: 1, qty: 8 }));
					const env = decodeWire(encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", items)));
					expect(env.rows + env.rejects.length).toBe(items.length);
				}
				const q = decodeFrame(JSON.stringify({ channel: "ticker", type, data: tickers }));
				if (q.kind === "ticker") {
					const seq = new QuoteSeq();
					for (const t of q.tickers) {
						const item = quoteItem(t, recv, seq);
						if (item) itemObjectProblem("quote", item);
					}
				}
			}),
			RUNS,
		);
	});

	it("restTrade answers a reason, never throws, for any REST row", () => {
		fc.assert(
			fc.property(fc.oneof(fc.array(fieldValue, { maxLength: 9 }), fieldValue), (row) => {
				const r = restTrade(row, recv);
				if (typeof r !== "string") expect(itemObjectProblem("trade", r) === null || typeof itemObjectProblem("trade", r) === "string").toBe(true);
			}),
			RUNS,
		);
	});
});

describe("Dukascopy decoders under hostile input", () => {
	const BTC = getInstrument("BTCUSD");
	const HOUR = Date.parse("2023-02-20T12:00:00Z");
	const real = fs.readFileSync(path.join(FIX, "dukascopy/bi5/BTCUSD/2023/01/20/12h_ticks.bi5"));

	/** A .bi5 decoder either decodes or throws CorruptHourError for that hour; nothing else. */
	function onlyCorruptHour(f: () => unknown): void {
		try {
			f();
		} catch (err) {
			expect(err).toBeInstanceOf(CorruptHourError);
			expect((err as CorruptHourError).hourStartMs).toBe(HOUR);
		}
	}

	it(".bi5: arbitrary bytes and mutated real files decode or fail as a corrupt hour", async () => {
		fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => onlyCorruptHour(() => decodeBi5Ticks(b, "BTCUSD", HOUR))), { numRuns: 200 });
		await fc.assert(
			fc.asyncProperty(fc.nat(real.length - 1), fc.integer({ min: 0, max: 255 }), fc.nat(real.length), async (at, byte, cut) => {
				const m = Buffer.from(real.subarray(0, Math.max(1, cut)));
				if (at < m.length) m[at] = byte;
				onlyCorruptHour(() => {
					const h = decodeBi5Ticks(m, "BTCUSD", HOUR);
					for (const q of quoteItems(h, BTC, "2023-02-20T13:00:00Z")) itemObjectProblem("quote", q); // renders without throwing
				});
				try {
					await decodeBi5TicksAsync(m, "BTCUSD", HOUR);
				} catch (err) {
					expect(err).toBeInstanceOf(CorruptHourError);
				}
			}),
			{ numRuns: 60 },
		);
	});

	it("JSON API: arbitrary bodies parse as JSON or fail as SyntaxError, and decode or fail as a corrupt hour", () => {
		const realText = fs.readFileSync(path.join(FIX, "dukascopy/jsonapi/ticks-BTC-USD-2023-2-20-12.json"), "utf8");
		const realBody = JSON.parse(realText);
		const num = fc.oneof(fc.double(), fc.integer(), fc.constantFrom(0, -1, 1e300, Number.MAX_SAFE_INTEGER + 2));
		const mutated = fc.record({
			timestamp: fc.oneof(fc.constant(realBody.timestamp), num, fieldValue),
			multiplier: fc.oneof(fc.constant(realBody.multiplier), num),
			ask: fc.oneof(fc.constant(realBody.ask), num, fieldValue),
			bid: fc.oneof(fc.constant(realBody.bid), num, fieldValue),
			times: fc.oneof(fc.constant(realBody.times), fc.array(num, { maxLength: 5 })),
			asks: fc.oneof(fc.constant(realBody.asks), fc.array(num, { maxLength: 5 })),
			bids: fc.oneof(fc.constant(realBody.bids), fc.array(num, { maxLength: 5 })),
			askVolumes: fc.oneof(fc.constant(realBody.askVolumes), fc.array(num, { maxLength: 5 })),
			bidVolumes: fc.oneof(fc.constant(realBody.bidVolumes), fc.array(num, { maxLength: 5 })),
		}, { requiredKeys: [] });
		fc.assert(
			fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.json(), mutated.map((o) => JSON.stringify(o))), (text) => {
				let body: unknown;
				try {
					body = parseJsonTicks(text);
				} catch (err) {
					expect(err).toBeInstanceOf(SyntaxError);
					return;
				}
				onlyCorruptHour(() => {
					const h = decodeJsonTicks(body, BTC, HOUR);
					for (const q of quoteItems(h, BTC, "2023-02-20T13:00:00Z")) itemObjectProblem("quote", q);
				});
			}),
			{ numRuns: 300 },
		);
	});
});
