import { keyOrder } from "../../lib/writer/batch";

describe("keyOrder", () => {
	const m = (venue: string, symbol: string, minMs: number, rows = 1) => ({ venue, symbol, minMs, rows });

	it("orders the messages that carry rows by venue, symbol and earliest time, and leaves out those without rows", () => {
		const hour = 3_600_000;
		const given = [m("dukascopy", "EUR-USD-SPOT", 5 * hour), m("kraken", "BTC-USD-SPOT", 0), m("dukascopy", "EUR-USD-SPOT", 2 * hour), m("dukascopy", "AUD-USD-SPOT", 9 * hour), m("dukascopy", "EUR-USD-SPOT", 0, 0), m("dukascopy", "EUR-USD-SPOT", 3 * hour)];
		expect(keyOrder(given)).toEqual([m("dukascopy", "AUD-USD-SPOT", 9 * hour), m("dukascopy", "EUR-USD-SPOT", 2 * hour), m("dukascopy", "EUR-USD-SPOT", 3 * hour), m("dukascopy", "EUR-USD-SPOT", 5 * hour), m("kraken", "BTC-USD-SPOT", 0)]);
	});

	it("keeps the delivery order of messages with the same key", () => {
		const a = m("kraken", "BTC-USD-SPOT", 10);
		const b = m("kraken", "BTC-USD-SPOT", 10);
		const out = keyOrder([a, m("kraken", "BTC-USD-SPOT", 5), b]);
		expect(out[1]).toBe(a);
		expect(out[2]).toBe(b);
	});
});
