/**
 * Binance klines ingest: a year of 1m klines (525,600) fetched page by page from the local fake Binance REST,
 * parsed and written into `klines` (lib/history backfillKlines, the path the service and the CLI take), divided by raw COPY of the same rows into the same (empty, primary-keyed)
 * table in the same run. Then a second run over the same range, which must ask the venue nothing.
 *   node --import tsx bench/klines.bench.ts [--days 365]
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { backfillKlines, BinanceRest } from "../lib/history/binance-history";
import { parseKlines } from "../lib/history/binance-klines";
import { KLINE_COLUMNS, klineCopyRow } from "../lib/history/klines-store";
import { RateLimiter } from "../lib/net/http";
import { copyInto } from "../lib/writer/copy";
import { FakeBinance } from "../test/helpers/fake-binance";
import { benchDatabase, seconds } from "./common";

const DAYS = Number(process.argv[process.argv.indexOf("--days") + 1] || 0) || 365;
const FROM = Date.parse("2023-01-01T00:00:00Z");
const TO = FROM + DAYS * 86_400_000;
const SYMBOL = { venue: "binance", symbol: "BTC-USDT-SPOT", venueSymbol: "BTCUSDT", meta: {} };
const KEY = { venue: "binance", symbol: "BTC-USDT-SPOT", interval: "1m" };

/**
 * The fake venue runs in its own process: generating its JSON is the venue's work, not ours, and must not share
 * this process's one thread with the ingest being measured. It answers "count" on IPC with its klines request count.
 */
async function startVenue(): Promise<{ url: string; klineRequests(): Promise<number>; stop(): void }> {
	const code = `
		const { FakeBinance } = require(${JSON.stringify(path.resolve(__dirname, "../test/helpers/fake-binance.ts"))});
		new FakeBinance().start().then((f) => {
			process.send({ url: f.url });
			process.on("message", () => process.send({ count: f.klineRequests().length }));
		});`;
	const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "-e", code], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
	const next = () => new Promise<any>((resolve, reject) => {
		child.once("message", resolve);
		child.once("exit", (c) => reject(new Error(`fake venue exited with ${c}`)));
	});
	const { url } = await next();
	return {
		url,
		async klineRequests() {
			const reply = next();
			child.send("count");
			return (await reply).count;
		},
		stop: () => child.kill(),
	};
}

async function main() {
	const db = await benchDatabase("klines");
	const fake = await startVenue();
	try {
		const n = (TO - FROM) / 60_000;
		// Baseline: the same rows, as the venue serves them, COPYed in one transaction (text prepared before the clock).
		const rows: string[] = [];
		for (let t = FROM; t < TO; t += 60_000) rows.push(klineCopyRow(KEY, parseKlines([FakeBinance.row(t, "1m")], "1m")[0]));
		const c = await db.pool.connect();
		const t0 = performance.now();
		await c.query("BEGIN");
		await copyInto(c, "klines", KLINE_COLUMNS, rows);
		await c.query("COMMIT");
		const copyMs = performance.now() - t0;
		c.release();
		await db.pool.query("TRUNCATE klines, kline_empty_ranges");
		await db.pool.query("VACUUM ANALYZE klines");
		console.log(`raw COPY of ${n} klines: ${seconds(copyMs)} (${Math.round(n / (copyMs / 1000))} rows/s)`);

		const rest = new BinanceRest({ baseUrl: fake.url, limiter: new RateLimiter(1_000_000, 1000) });
		const t1 = performance.now();
		const first = await backfillKlines(db.pool, rest, { symbol: SYMBOL, interval: "1m", from: FROM, to: TO });
		const ingestMs = performance.now() - t1;
		const stored = Number((await db.pool.query("SELECT count(*) AS n FROM klines")).rows[0].n);
		console.log(`ingest (HTTP page -> parse -> COPY in 10-page batches, ${first.pages} pages): ${seconds(ingestMs)} (${Math.round(n / (ingestMs / 1000))} rows/s); table has ${stored} rows`);
		if (first.inserted !== n || stored !== n) throw new Error(`expected ${n} klines, inserted ${first.inserted}, stored ${stored}`);

		const before = await fake.klineRequests();
		const t2 = performance.now();
		const again = await backfillKlines(db.pool, rest, { symbol: SYMBOL, interval: "1m", from: FROM, to: TO });
		const againMs = performance.now() - t2;
		const venueRequests = (await fake.klineRequests()) - before;
		console.log(`second run over the stored range: ${seconds(againMs)}, ${venueRequests} venue requests, ${again.inserted} inserted`);
		if (venueRequests !== 0 || again.inserted !== 0) throw new Error("the second run must ask the venue nothing");

		console.log(
			JSON.stringify({
				bench: "klines",
				klines: n,
				pages: first.pages,
				copy_ms: Math.round(copyMs),
				ingest_ms: Math.round(ingestMs),
				ingest_rows_per_s: Math.round(n / (ingestMs / 1000)),
				copy_rows_per_s: Math.round(n / (copyMs / 1000)),
				ratio_vs_copy: Number((copyMs / ingestMs).toFixed(3)),
				rerun_ms: Math.round(againMs),
				rerun_venue_requests: venueRequests,
			}),
		);
	} finally {
		fake.stop();
		await db.drop();
	}
}

main().catch((err) => {
	console.error(err);
	process.exit(1);
});
