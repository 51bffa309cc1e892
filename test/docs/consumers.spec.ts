// docs/consumers.md is a contract: its parser and its header schema must agree with the codec the pipeline uses.
import { readFileSync } from "node:fs";
import path from "node:path";
import { decodeEnvelope, encodeEnvelope, quoteEnvelope, tradeEnvelope } from "../../lib/domain/codec";

const doc = readFileSync(path.resolve(__dirname, "../../docs/consumers.md"), "utf8");

function codeBlock(lang: string, contains: string): string {
	const re = new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g");
	for (const m of doc.matchAll(re)) if (m[1].includes(contains)) return m[1];
	throw new Error(`no ${lang} block containing ${contains}`);
}

const decode = new Function(`${codeBlock("js", "function decode(text)")}; return decode;`)() as (text: string) => any;

describe("docs/consumers.md", () => {
	it("documents a parser that reads what the pipeline writes", () => {
		const trades = tradeEnvelope("kraken", "BTC-USD-SPOT", [
			{ tradeId: "12345", side: "buy", price: "42000.10", qty: "0.50000000", time: "2024-01-15T10:00:01.123456Z", recvTime: "2024-01-15T10:00:01.200000Z" },
			{ tradeId: "12346", side: null, price: "42000.2", qty: "0.01", time: "2024-01-15T10:00:01.500000Z", recvTime: "2024-01-15T10:00:01.600000Z" },
		]);
		const quotes = quoteEnvelope("dukascopy", "EUR-USD-SPOT", [{ seq: "0", bid: "1.08501", ask: "1.08503", bidQty: "1000000", askQty: null, time: "2024-01-15T10:00:00.001Z", recvTime: "2024-01-15T10:00:00.001Z" }]);
		for (const env of [trades, quotes]) {
			const wire = encodeEnvelope(env);
			const fromDoc = decode(wire.toString("utf8"));
			const ours = decodeEnvelope(wire);
			expect({ v: fromDoc.v, kind: fromDoc.kind, venue: fromDoc.venue, symbol: fromDoc.symbol }).toEqual({ v: 2, kind: env.kind, venue: env.venue, symbol: env.symbol });
			expect(fromDoc.items).toEqual([...ours.trades, ...ours.quotes].map(({ venue, symbol, ...item }) => item));
			expect(fromDoc.items).toEqual(env.items);
		}
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
