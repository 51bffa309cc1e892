import { decodeEnvelope } from "../../lib/domain/codec";
import { parseReplay } from "../../lib/replay";

describe("replay source", () => {
	it("groups lines into per-symbol messages on the seeds' topics, in order", () => {
		const lines = [];
		for (let i = 0; i < 250; i++) lines.push(JSON.stringify({ venue: "kraken", symbol: "BTC-USD-SPOT", venueSymbol: "BTC/USD", tradeId: String(i), side: "buy", price: "42000.5", qty: "0.1", time: "2024-01-15T13:00:00Z" }));
		lines.push(JSON.stringify({ venue: "dukascopy", symbol: "EUR-USD-SPOT", seq: "0", bid: "1.09123", ask: "1.09125", time: "2024-01-15T13:00:00Z" }));
		const r = parseReplay(lines.join("\n") + "\n", 100);
		expect(r.records).toBe(251);
		expect(r.errors).toEqual([]);
		const kraken = r.messages.filter((m) => m.topic === "market-data/crypto/raw/kraken/btcusd/trades");
		expect(kraken.map((m) => m.items)).toEqual([100, 100, 50]);
		const ids = kraken.flatMap((m) => decodeEnvelope(m.payload).trades.map((t) => Number(t.tradeId)));
		expect(ids).toEqual([...Array(250).keys()]);
		expect(r.messages.find((m) => m.topic === "market-data/fx/raw/dukascopy/eurusd/quotes")?.items).toBe(1);
	});

	it("rejects bad lines by number and keeps going", () => {
		const r = parseReplay(['{"venue":"k","symbol":"S","tradeId":"1","price":1.5,"qty":"1","time":"2024-01-15T13:00:00Z"}', "not json", '{"venue":"k"}', '{"venue":"k","symbol":"S","tradeId":"2","price":"1.5","qty":"1","time":"2024-01-15T13:00:00Z"}'].join("\n"));
		expect(r.errors.map((e) => e.line)).toEqual([1, 2, 3]);
		expect(r.errors[0].reason).toMatch(/decimal string, not a JSON number/);
		expect(r.records).toBe(1);
	});
});
