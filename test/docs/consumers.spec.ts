// docs/consumers.md is a contract: its parser and its header schema must agree with the codec the pipeline uses.
import { readFileSync } from "node:fs";
import path from "node:path";
import { decodeBi5Ticks } from "../../lib/backfill/dukascopy/bi5";
import { getInstrument } from "../../lib/backfill/dukascopy/instruments";
import { quoteColumnPayloads, quoteWirePayloads } from "../../lib/backfill/dukascopy/wire";
import { decodeEnvelope, encodeEnvelope, quoteEnvelope, tradeEnvelope } from "../../lib/domain/codec";
import { DUKASCOPY_FIXTURES, EURUSD_HOUR_FILES } from "../helpers/fake-dukascopy";

const doc = readFileSync(path.resolve(__dirname, "../../docs/consumers.md"), "utf8");

function codeBlock(lang: string, contains: string): string {
	const re = new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g");
	for (const m of doc.matchAll(re)) if (m[1].includes(contains)) return m[1];
	throw new Error(`no ${lang} block containing ${contains}`);
}

const decode = new Function(`${codeBlock("js", "function decode(buf)")}; return decode;`)() as (buf: Buffer) => any;

describe("docs/consumers.md", () => {
	it("documents a parser that reads what the pipeline writes", () => {
		const trades = tradeEnvelope("kraken", "BTC-USD-SPOT", [
			{ tradeId: "12345", side: "buy", price: "42000.10", qty: "0.50000000", time: "2024-01-15T10:00:01.123456Z", recvTime: "2024-01-15T10:00:01.200000Z" },
			{ tradeId: "12346", side: null, price: "42000.2", qty: "0.01", time: "2024-01-15T10:00:01.500000Z", recvTime: "2024-01-15T10:00:01.600000Z" },
		]);
		const quotes = quoteEnvelope("dukascopy", "EUR-USD-SPOT", [{ seq: "0", bid: "1.08501", ask: "1.08503", bidQty: "1000000", askQty: null, time: "2024-01-15T10:00:00.001Z", recvTime: "2024-01-15T10:00:00.001Z" }]);
		for (const env of [trades, quotes]) {
			const wire = encodeEnvelope(env);
			const fromDoc = decode(wire);
			const ours = decodeEnvelope(wire);
			expect({ v: fromDoc.v, kind: fromDoc.kind, venue: fromDoc.venue, symbol: fromDoc.symbol }).toEqual({ v: 2, kind: env.kind, venue: env.venue, symbol: env.symbol });
			expect(fromDoc.items).toEqual([...ours.trades, ...ours.quotes].map(({ venue, symbol, ...item }) => item));
			expect(fromDoc.items).toEqual(env.items);
		}
	});

	it("documents a parser that reads wire v3 (quotes in columns) as the pipeline does", () => {
		const inst = getInstrument("EURUSD");
		const hour = decodeBi5Ticks(readFileSync(path.join(DUKASCOPY_FIXTURES, EURUSD_HOUR_FILES[1])), "EURUSD", Date.parse("2019-02-04T01:00:00Z"));
		const recv = "2026-12-08T01:00:00.000Z";
		const [v3] = quoteColumnPayloads(hour, inst, "dukascopy", recv, 5000);
		const [v2] = quoteWirePayloads(hour, inst, "dukascopy", recv, 5000);
		const fromDoc = decode(v3);
		expect({ v: fromDoc.v, kind: fromDoc.kind, venue: fromDoc.venue, symbol: fromDoc.symbol }).toEqual({ v: 3, kind: "quote", venue: "dukascopy", symbol: "EUR-USD-SPOT" });
		expect(fromDoc.items).toHaveLength(hour.count);
		const ours = decodeEnvelope(v3).quotes.map(({ venue, symbol, ...item }) => item);
		expect(fromDoc.items).toEqual(ours);
		expect(fromDoc.items).toEqual(decode(v2).items);
	});

	it("gives the header schema the codec enforces", () => {
		const schema = JSON.parse(codeBlock("json", '"$schema"'));
		expect(schema.required).toEqual(["v", "kind", "venue", "symbol"]);
		expect(schema.properties.kind.enum).toEqual(["trade", "quote"]);
		const name = new RegExp(schema.properties.venue.pattern);
		const header = (venue: string) => Buffer.from(`{"v":2,"kind":"trade","venue":${JSON.stringify(venue)},"symbol":"BTC-USD-SPOT"}\n2024-01-15T10:00:01Z\t1\t1\t1\tb\t2024-01-15T10:00:01Z`);
		for (const venue of ["kraken", "a.b-c/d_e", "x".repeat(64), "-bad", "x".repeat(65), "sp ace", ""]) {
			expect({ venue, schema: name.test(venue) }).toEqual({ venue, schema: decodeEnvelope(header(venue)).rejects.length === 0 });
		}
	});
});
