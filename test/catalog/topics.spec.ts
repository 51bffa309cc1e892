import { provisionPulsarTopics, symbolTopics } from "../../lib/log/pulsar/provision";
import { listenLocal, type LocalServer } from "../helpers/http-server";

/** The topics an added symbol gets, created through a local stand-in for Pulsar's admin REST API (the calls `npm run pulsar:topics` makes). */
describe("Pulsar topics of an added symbol", () => {
	let admin: LocalServer;
	const calls: string[] = [];
	const existing = new Set<string>();

	beforeAll(async () => {
		admin = await listenLocal((req, res) => {
			calls.push(`${req.method} ${req.url}`);
			const key = req.url ?? "";
			if (req.method === "PUT" && existing.has(key)) {
				res.writeHead(409).end('{"reason":"exists"}');
				return;
			}
			existing.add(key);
			res.writeHead(204).end();
		});
	});
	afterAll(() => admin.close());

	it("names every channel, raw and historical, after the venue symbol", () => {
		const t = symbolTopics("crypto", "kraken", "ETH/USD");
		expect(t).toHaveLength(8);
		expect(t).toContain("market-data/crypto/raw/kraken/ethusd/trades");
		expect(t).toContain("market-data/crypto/historical/kraken/ethusd/trades");
		expect(symbolTopics("equity", "dukascopy", "AAPLUSUSD", ["quotes"], ["historical"])).toEqual(["market-data/equity/historical/dukascopy/aaplususd/quotes"]);
	});

	it("creates namespaces with deduplication and the topics, and leaves existing ones alone", async () => {
		const cfg = { pulsarUrl: admin.url, pulsarAdminUrl: admin.url, pulsarToken: undefined, pulsarTenant: "public", pulsarNamespace: "default", pulsarHistoricalNamespace: "historical" };
		const topics = symbolTopics("crypto", "kraken", "ETH/USD");
		const first = await provisionPulsarTopics(cfg, topics);
		expect(first.created).toHaveLength(8);
		expect(first.created).toContain("persistent://public/default/market-data.crypto.raw.kraken.ethusd.trades");
		expect(first.created).toContain("persistent://public/historical/market-data.crypto.historical.kraken.ethusd.book");
		expect(calls).toContain("POST /admin/v2/namespaces/public/default/deduplication");
		const again = await provisionPulsarTopics(cfg, topics);
		expect(again).toEqual({ created: [], existing: first.created });
	});
});
