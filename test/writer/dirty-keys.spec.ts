import { decodeWire, encodeEnvelope, quoteEnvelope, tradeEnvelope } from "../../lib/domain/codec";
import { dirtyKeys } from "../../lib/writer/batch";

const t = (time: string) => ({ tradeId: "1", side: null, price: "1", qty: "1", time, recvTime: time });
const iso = (minute: number) => new Date(minute * 60_000).toISOString();
const batch = (symbol: string, times: string[]) => decodeWire(encodeEnvelope(tradeEnvelope("kraken", symbol, times.map(t))));

describe("dirty buckets of a batch", () => {
	it("lists each touched 1m bucket once, sorted", () => {
		const d = dirtyKeys([
			batch("BTC-USD-SPOT", ["2024-01-15T13:00:59.9999999Z", "2024-01-15T13:00:59.999Z", "2024-01-15T13:00:00Z", "2024-01-15T12:59:00.5Z"]),
			batch("ETH-USD-SPOT", ["2024-01-15T13:00:30Z"]),
		]);
		// 59.9999999 rounds to 13:01:00.000000 in PostgreSQL (µs), so both minutes are marked
		expect(d.minute.map(iso)).toEqual(["2024-01-15T12:59:00.000Z", "2024-01-15T13:00:00.000Z", "2024-01-15T13:01:00.000Z", "2024-01-15T13:00:00.000Z"]);
		expect(d.symbol).toEqual(["BTC-USD-SPOT", "BTC-USD-SPOT", "BTC-USD-SPOT", "ETH-USD-SPOT"]);
		expect(d.source).toEqual(["trades", "trades", "trades", "trades"]);
	});
	it("separates trade and quote sources", () => {
		const q = { seq: "0", bid: "1", ask: "1", bidQty: null, askQty: null, time: "2024-01-15T13:00:01Z", recvTime: "2024-01-15T13:00:01Z" };
		expect(dirtyKeys([decodeWire(encodeEnvelope(quoteEnvelope("dukascopy", "EUR-USD-SPOT", [q, q])))]).source).toEqual(["quotes"]);
	});
	it("orders buckets by time across the epoch-digit boundary", () => {
		const d = dirtyKeys([batch("X", ["2001-09-09T01:46:00Z", "1999-01-01T00:00:00Z"])]);
		expect(d.minute.map(iso)).toEqual(["1999-01-01T00:00:00.000Z", "2001-09-09T01:46:00.000Z"]);
	});
	it("keeps one mark per minute across messages of the same market, and sorts markets before minutes", () => {
		const d = dirtyKeys([
			batch("B", ["2024-01-15T13:05:00Z", "2024-01-15T13:05:30Z"]),
			batch("A", ["2024-01-15T13:07:00Z"]),
			batch("B", ["2024-01-15T13:05:59Z", "2024-01-15T13:01:00Z"]),
		]);
		expect(d.symbol).toEqual(["A", "B", "B"]);
		expect(d.minute.map(iso)).toEqual(["2024-01-15T13:07:00.000Z", "2024-01-15T13:01:00.000Z", "2024-01-15T13:05:00.000Z"]);
	});
});
