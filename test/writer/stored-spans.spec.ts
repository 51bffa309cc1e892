import { decodeWire, encodeEnvelope, quoteEnvelope, tradeEnvelope } from "../../lib/domain/codec";
import { storedSpans } from "../../lib/writer/batch";

const trade = (id: string, time: string) => ({ tradeId: id, side: "buy" as const, price: "1.5", qty: "2", time, recvTime: time });

describe("storedSpans (the ticks.stored payload for live consumers)", () => {
	it("gives one span per venue, symbol and kind over the batch's valid ticks", () => {
		const dec = [
			encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", [trade("1", "2024-01-15T10:00:05.123456Z"), trade("2", "2024-01-15T10:00:01Z")])),
			encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", [trade("3", "2024-01-15T10:02:00Z"), { ...trade("4", "2024-01-15T11:00:00Z"), price: "bad" }])),
			encodeEnvelope(quoteEnvelope("kraken", "BTC-USD-SPOT", [{ seq: "0", bid: "1", ask: "2", bidQty: null, askQty: null, time: "2024-01-15T09:00:00Z", recvTime: "2024-01-15T09:00:00Z" }])),
			encodeEnvelope(tradeEnvelope("kraken", "ETH-USD-SPOT", [])),
			Buffer.from("not a message"),
		].map(decodeWire);
		expect(storedSpans(dec)).toEqual([
			{ venue: "kraken", symbol: "BTC-USD-SPOT", kind: "trade", minTime: "2024-01-15T10:00:01.000Z", maxTime: "2024-01-15T10:02:00.000Z", rows: 3 },
			{ venue: "kraken", symbol: "BTC-USD-SPOT", kind: "quote", minTime: "2024-01-15T09:00:00.000Z", maxTime: "2024-01-15T09:00:00.000Z", rows: 1 },
		]);
	});
});
