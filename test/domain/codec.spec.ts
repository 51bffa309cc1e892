import { decodeEnvelope, decodeWire, encodeEnvelope, tradeEnvelope, quoteEnvelope } from "../../lib/domain/codec";

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
		expect(decodeEnvelope(Buffer.from('{"v":4,"kind":"trade"}')).rejects[0].reason).toMatch(/unsupported envelope version 4/);
		expect(decodeEnvelope(Buffer.from('{"v":3,"kind":"trade"}')).rejects[0].reason).toMatch(/v3 header without a newline/);
		expect(decodeEnvelope(Buffer.from('not a market-data envelope')).rejects[0].reason).toMatch(/expected a JSON header/);
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
		expect(d.rejects[0].reason).toMatch(/price 42000.1 is not a decimal string > 0/);
	});

	it("refuses a trade at price or qty 0 and a quote at bid or ask 0, naming the field, and keeps the rest", () => {
		const t = decodeEnvelope(encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", [{ ...trade, tradeId: "1", price: "0" }, { ...trade, tradeId: "2", qty: "0.000" }, { ...trade, tradeId: "3", price: "0.00001" }])));
		expect(t.trades.map((x) => x.tradeId)).toEqual(["3"]);
		expect(t.rejects.map((r) => r.reason)).toEqual(['price "0" is not a decimal string > 0', 'qty "0.000" is not a decimal string > 0']);
		const q = { seq: "1", bid: "1.1", ask: "1.2", bidQty: "0", askQty: null, time: "2024-01-15T13:00:00Z", recvTime: "2024-01-15T13:00:00Z" };
		const d = decodeEnvelope(encodeEnvelope(quoteEnvelope("dukascopy", "EUR-USD-SPOT", [{ ...q, bid: "0" }, { ...q, seq: "2", ask: "-1.2" }, { ...q, seq: "3" }])));
		expect(d.quotes.map((x) => x.seq)).toEqual(["3"]); // a side size of 0 is allowed
		expect(d.rejects.map((r) => r.reason)).toEqual(['bid "0" is not a decimal string > 0', 'ask "-1.2" is not a decimal string > 0']);
	});
});

describe("wire format for the tick-writer", () => {
	it("turns a valid message into COPY rows in table column order", () => {
		const w = decodeWire(encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", [trade, { ...trade, tradeId: "43", side: null }])));
		expect(w.copy).toBe(
			"kraken\tBTC-USD-SPOT\t2024-01-15T13:00:00.123456Z\t42\t42000.10\t0.00100000\tb\t2024-01-15T13:00:00.200Z\n" +
				"kraken\tBTC-USD-SPOT\t2024-01-15T13:00:00.123456Z\t43\t42000.10\t0.00100000\t\\N\t2024-01-15T13:00:00.200Z\n",
		);
		expect(w.rows).toBe(2);
		expect(w.minutes).toEqual([Date.parse("2024-01-15T13:00:00Z")]);
	});

	it("reads the same times on the cached fast path as Date.parse does", () => {
		const times = ["2024-01-15T13:00:00Z", "2024-01-15T13:00:00.5Z", "2024-01-15T13:00:00.05Z", "2024-01-15T13:00:00.123456789Z", "2024-01-15T13:00:00.999Z"];
		const w = decodeWire(encodeEnvelope(tradeEnvelope("k", "S", times.map((time, i) => ({ ...trade, tradeId: String(i), time })))));
		expect(w.rejects).toEqual([]);
		expect(w.minMs).toBe(Date.parse(times[0]));
		expect(w.maxMs).toBe(Date.parse(times[4]));
	});

	it("rejects bad lines of a v2 message and keeps the rest", () => {
		const head = JSON.stringify({ v: 2, kind: "trade", venue: "kraken", symbol: "BTC-USD-SPOT" });
		const ok = "2024-01-15T13:00:00Z\t1\t1.5\t2\tb\t2024-01-15T13:00:00Z";
		const payload = [head, ok, "2024-01-15T13:00:00Z\t2\t1e5\t2\tb\t2024-01-15T13:00:00Z", "2024-01-15T13:00:00Z\t3\t1.5", "2024-01-15T13:00:0xZ\t4\t1.5\t2\tb\t2024-01-15T13:00:00Z", ok.replace("\t1\t", "\t5\t")].join("\n");
		const w = decodeWire(Buffer.from(payload));
		expect(w.rows).toBe(2);
		expect(w.rejects.map((r) => r.index)).toEqual([1, 2, 3]);
		expect(w.rejects[0].reason).toMatch(/price "1e5"/);
		expect(w.rejects[1].reason).toMatch(/expected 6 tab-separated fields, got 3/);
		expect(w.copy.split("\n").filter(Boolean).map((r) => r.split("\t")[3])).toEqual(["1", "5"]);
	});
});
