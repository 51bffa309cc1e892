import { runCli } from "../helpers/proc";
import { migrate } from "../../lib/store/migrate";
import { freshDatabase, type TestDb } from "../helpers/db";
import { FakeBinance } from "../helpers/fake-binance";
import { FakeKrakenRest, krakenTrades } from "../helpers/fake-kraken-rest";



const run = (args: string[], env: Record<string, string>) => runCli("bin/history.ts", args, env);

/** `npm run history -- …` as a real process against real PostgreSQL and the fake venues. */
describe("history CLI (bin/history.ts)", () => {
	let db: TestDb;
	let binance: FakeBinance;
	let kraken: FakeKrakenRest;
	let env: Record<string, string>;

	beforeAll(async () => {
		db = await freshDatabase("hist_cli");
		await migrate(db.pool);
		binance = await new FakeBinance().start();
		kraken = await new FakeKrakenRest().start();
		kraken.setTrades("XBTUSD", krakenTrades(1500, Date.parse("2024-01-01T00:00:00Z"), 4_000));
		env = { DATABASE_URL: db.url, BINANCE_REST_URL: binance.url, KRAKEN_REST_URL: kraken.url, BINANCE_REQUESTS_PER_SEC: "100", MARKET_LOG: "memory", CASCADE_INTERVAL_MS: "100", LOG_LEVEL: "warn" };
	});
	afterAll(async () => {
		await binance?.stop();
		await kraken?.stop();
		await db?.drop();
	});

	it("fills Binance klines with a progress line and prints the counts", async () => {
		const r = await run(["binance", "BTCUSDT", "1m", "2024-01-01", "2024-01-02"], env);
		expect(r.stderr).toMatch(/binance BTC-USDT-SPOT 1m \[#{20}\] 100\.0% 1440\/1440 klines, 2 pages, 1440 inserted/);
		expect(r.code).toBe(0);
		expect(JSON.parse(r.stdout.trim().split("\n").pop()!)).toMatchObject({ pages: 2, inserted: 1440 });
		expect((await db.pool.query("SELECT count(*)::int AS n FROM klines")).rows[0].n).toBe(1440);
	}, 30_000);

	it("stores Kraken trades through its own tick-writer before it exits", async () => {
		const r = await run(["kraken", "XBTUSD", "2024-01-01", "2024-01-01T01:00:00Z"], env);
		expect(r.code).toBe(0);
		expect(r.stderr).toMatch(/kraken BTC-USD-SPOT trades .* 900 trades, 1 pages/);
		expect((await db.pool.query("SELECT count(*)::int AS n FROM trades WHERE symbol = 'BTC-USD-SPOT'")).rows[0].n).toBe(900);
		expect((await db.pool.query("SELECT count(*)::int AS n FROM candles_1m WHERE symbol = 'BTC-USD-SPOT'")).rows[0].n).toBe(60);
	}, 30_000);

	it("exits non-zero with a clear message on a bad symbol or date", async () => {
		const sym = await run(["binance", "NOPEUSDT", "1m", "2024-01-01", "2024-01-02"], env);
		expect(sym.code).toBe(2);
		expect(sym.stderr).toMatch(/history: Binance does not know symbol "NOPEUSDT"/);
		const date = await run(["kraken", "XBTUSD", "2024-02-30", "2024-03-01"], env);
		expect(date.code).toBe(2);
		expect(date.stderr).toMatch(/history: from="2024-02-30" is not a date/);
		const pair = await run(["kraken", "NOPE", "2024-01-01", "2024-01-02"], env);
		expect(pair.code).toBe(2);
		expect(pair.stderr).toMatch(/Kraken does not know pair "NOPE"/);
	}, 60_000);
});
