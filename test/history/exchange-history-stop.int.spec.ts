import http from "node:http";
import type { AddressInfo } from "node:net";
import { loadConfig } from "../../lib/config";
import { exchangeHistoryFromConfig } from "../../lib/history/exchange-history";
import { MemoryLog } from "../../lib/log/memory";
import { migrate } from "../../lib/store/migrate";
import { Runtime } from "../../mixins/runtime";
import { freshDatabase, waitFor, type TestDb } from "../helpers/db";

/**
 * exchange-history stopping while a long run pages: the run ends at the venue call in flight (aborted), stop()
 * resolves once it has, and nothing new starts. The venue clients take their limiters from the process's Runtime,
 * so Kraken's is the one kraken-stream uses. Real PostgreSQL; a Kraken REST server whose Trades never answers.
 */
describe("exchange-history stop and shared limiters", () => {
	let db: TestDb;
	let server: http.Server;
	let url: string;
	const trades: http.ServerResponse[] = [];

	beforeAll(async () => {
		db = await freshDatabase("hist_stop");
		await migrate(db.pool);
		await db.pool.query(`INSERT INTO symbols (venue, symbol, venue_symbol, asset_class, base, quote, active) VALUES ('kraken', 'BTC-USD-SPOT', 'BTC/USD', 'crypto', 'BTC', 'USD', true)`);
		server = http.createServer((req, res) => {
			if (req.url!.startsWith("/0/public/Trades")) return void trades.push(res); // held: a slow venue
			res.writeHead(200, { "content-type": "application/json" });
			res.end('{"error":["EGeneral:Permission denied"]}'); // AssetPairs: refused at once (the pair name is guessed)
		});
		await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
		url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
	});
	afterAll(async () => {
		for (const r of trades) r.destroy();
		await new Promise<void>((r) => server.close(() => r()));
		await db?.drop();
	});

	it("stop() aborts the run in flight, waits for it, and refuses new runs", async () => {
		const config = loadConfig({ DATABASE_URL: db.url, KRAKEN_REST_URL: url, KRAKEN_REST_RATE_PER_SEC: "100" });
		const rt = new Runtime(config, db.url, new MemoryLog({}));
		const abort = new AbortController();
		const history = exchangeHistoryFromConfig(config, db.pool, () => rt.log(), undefined, { limiter: (h, r, b) => rt.limiter(h, r, b), signal: abort.signal });
		const run = history.krakenTrades({ pair: "BTC/USD", from: Date.parse("2024-01-01"), to: Date.parse("2024-01-02") });
		const settled = run.then(
			() => "resolved",
			(err: Error) => err.message,
		);
		await waitFor(() => trades.length === 1, { what: "the Trades request in flight" });
		expect(history.status().map((s) => s.key)).toEqual(["kraken BTC-USD-SPOT trades"]);

		abort.abort(new Error("exchange-history stopped"));
		await history.stop();
		expect(await settled).toBe("exchange-history stopped");
		expect(history.status()).toEqual([]);
		await expect(history.krakenTrades({ pair: "BTC/USD", from: 0, to: 1 })).rejects.toThrow(/stopping/);
		expect(trades).toHaveLength(1); // no page after the stop
	});

	it("one limiter per venue host per process: exchange-history's Kraken client uses the Runtime's", () => {
		const config = loadConfig({ DATABASE_URL: db.url, KRAKEN_REST_URL: url, KRAKEN_REST_RATE_PER_SEC: "7" });
		const rt = new Runtime(config, db.url, new MemoryLog({}));
		const host = new URL(url).host;
		const asked: [string, number, number][] = [];
		const history = exchangeHistoryFromConfig(config, db.pool, () => rt.log(), undefined, {
			limiter: (h, r, b) => {
				asked.push([h, r, b]);
				return rt.limiter(h, r, b);
			},
		});
		expect(asked).toContainEqual([host, 7, 3]); // KRAKEN_REST_RATE_PER_SEC, not the client's own default
		const shared = rt.limiter(host, 1, 1); // what kraken-stream gets for the same host
		expect(shared.ratePerSec).toBe(7);
		expect((history as any).d.kraken.limiter).toBe(shared);
		expect(rt.limiter("api.binance.com", 10, 1)).not.toBe(shared);
	});
});
