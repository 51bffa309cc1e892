import { dirtyKeys } from "../../lib/writer/tick-writer";

const t = (time: string, symbol = "BTC-USD-SPOT") => ({ venue: "kraken", symbol, tradeId: "1", side: null, price: "1", qty: "1", time, recvTime: time });

describe("dirty buckets of a batch", () => {
	it("lists each touched 1m bucket once, sorted", () => {
		const d = dirtyKeys([t("2024-01-15T13:00:59.9999999Z"), t("2024-01-15T13:00:59.999Z"), t("2024-01-15T13:00:00Z"), t("2024-01-15T12:59:00.5Z"), t("2024-01-15T13:00:30Z", "ETH-USD-SPOT")], []);
		// 59.9999999 rounds to 13:01:00.000000 in PostgreSQL (µs), so both minutes are marked
		expect(d.bucket).toEqual(["2024-01-15T12:59:00.000Z", "2024-01-15T13:00:00.000Z", "2024-01-15T13:01:00.000Z", "2024-01-15T13:00:00.000Z"]);
		expect(d.symbol).toEqual(["BTC-USD-SPOT", "BTC-USD-SPOT", "BTC-USD-SPOT", "ETH-USD-SPOT"]);
		expect(d.source).toEqual(["trades", "trades", "trades", "trades"]);
	});
	it("separates trade and quote sources", () => {
		const q = { venue: "dukascopy", symbol: "EUR-USD-SPOT", seq: "0", bid: "1", ask: "1", bidQty: null, askQty: null, time: "2024-01-15T13:00:01Z", recvTime: "2024-01-15T13:00:01Z" };
		expect(dirtyKeys([], [q, q]).source).toEqual(["quotes"]);
	});
});
