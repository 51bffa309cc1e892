import { decodeEnvelope, encodeEnvelope, tradeEnvelope, quoteEnvelope } from "../../lib/domain/codec";

const trade = { tradeId: "42", side: "buy" as const, price: "42000.10", qty: "0.00100000", time: "2024-01-15T13:00:00.123456Z", recvTime: "2024-01-15T13:00:00.200Z" };

describe("envelope codec", () => {
	it("round-trips trades exactly, keeping trailing zeros and microseconds", () => {
		const d = decodeEnvelope(encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", [trade])));
		expect(d.rejects).toEqual([]);
		expect(d.trades).toEqual([{ venue: "kraken", symbol: "BTC-USD-SPOT", ...trade }]);
	});

	it("round-trips quotes with optional sizes", () => {
		const q = { seq: "3", bid: "1.09123", ask: "1.09125", bidQty: null, askQty: "2.5", time: "2024-01-15T13:00:00Z", recvTime: "2024-01-15T13:00:00Z" };
		const d = decodeEnvelope(encodeEnvelope(quoteEnvelope("dukascopy", "EUR-USD-SPOT", [q])));
		expect(d.quotes).toEqual([{ venue: "dukascopy", symbol: "EUR-USD-SPOT", ...q }]);
	});

	it("rejects a whole message that is not an envelope, with the reason", () => {
		expect(decodeEnvelope(Buffer.from("{nope")).rejects[0].reason).toMatch(/^not JSON/);
		expect(decodeEnvelope(Buffer.from('{"v":2,"kind":"trade"}')).rejects[0].reason).toMatch(/version/);
		expect(decodeEnvelope(Buffer.from('{"v":1,"kind":"candle","venue":"k","symbol":"s","items":[]}')).rejects[0].reason).toMatch(/unknown kind/);
		expect(decodeEnvelope(Buffer.from('{"v":1,"kind":"trade","venue":"a\\tb","symbol":"s","items":[]}')).rejects[0].reason).toMatch(/bad venue/);
	});

	it("keeps the good items of a message and rejects the bad ones by index", () => {
		const items = [
			trade,
			{ ...trade, tradeId: "43", price: 42000.1 }, // a JSON number: would have gone through a float
			{ ...trade, tradeId: "44", time: "1705323600" }, // epoch seconds, not ISO
			{ ...trade, tradeId: "45", price: "1e5" },
			{ ...trade, tradeId: "-1" },
			{ ...trade, tradeId: "46", side: "short" },
			{ ...trade, tradeId: "47", time: "1970-01-01T00:00:01Z" }, // the wrong unit read as a date
			{ ...trade, tradeId: "48", time: "2024-02-30T10:00:00Z" }, // no such day
			{ ...trade, tradeId: "49" },
		];
		const d = decodeEnvelope(Buffer.from(JSON.stringify({ v: 1, kind: "trade", venue: "kraken", symbol: "BTC-USD-SPOT", items })));
		expect(d.trades.map((t) => t.tradeId)).toEqual(["42", "49"]);
		expect(d.rejects.map((r) => r.index)).toEqual([1, 2, 3, 4, 5, 6, 7]);
		expect(d.rejects[0].reason).toMatch(/price 42000.1 is not a positive decimal string/);
	});
});
