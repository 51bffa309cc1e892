/**
 * `klines`: Binance klines ingest. A year of 1m klines (525,600; `--quick`: 60 days) fetched page by page from the
 * local fake Binance REST, parsed and written into `klines` (lib/history backfillKlines, the path the service and
 * the CLI take), in rows/s, divided by raw COPY of the same rows into the same (empty, primary-keyed) table. An
 * uncounted rehearsal ingest comes first (it fills the fake venue's answer cache). Each of RUNS runs then does the
 * baseline COPY and then the ingest, truncating between them; the ratio is the median of the runs. Then one more
 * run over the stored range, which must ask the venue nothing. Beside the ratio, not the goal: the ratio to raw binary
 * COPY of the same rows (the ingest sends the page scanner's binary COPY rows).
 *   npm run bench:klines [-- --quick] [-- --runs 3] [-- --days 365]
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { backfillKlines, BinanceRest } from "../lib/history/binance-history";
import { parseKlines } from "../lib/history/binance-klines";
import { KLINE_COLUMNS, klineRowFormat, klinesCopyText } from "../lib/history/klines-store";
import { scanKlineBytes } from "../lib/history/kline-page";
import { RateLimiter } from "../lib/net/http";
import { FakeBinance } from "../test/helpers/fake-binance";
import { benchDatabase, cpuDuring, type CpuSplit, fmt, median, report, RUNS, seconds, sizeArg, timedBinaryCopy, timedCopy } from "./common";

const DAYS = sizeArg("--days", 365, 60);
const FROM = Date.parse("2023-01-01T00:00:00Z");
const TO = FROM + DAYS * 86_400_000;
const SYMBOL = { venue: "binance", symbol: "BTC-USDT-SPOT", venueSymbol: "BTCUSDT", meta: {} };
const KEY = { venue: "binance", symbol: "BTC-USDT-SPOT", interval: "1m" };
const progress = (s: string) => console.error(s);



/**
 * The fake venue runs in its own process: generating its JSON is the venue's work, not ours, and must not share
 * this process's one thread with the ingest being measured. It keeps each answer's text (answerCache), filled by an
 * uncounted rehearsal ingest, so that during the measured runs it only sends bytes and leaves the machine's two cores
 * to the ingest and PostgreSQL. It answers "count" on IPC with its klines request count.
 */
async function startVenue(): Promise<{ url: string; pid: number; klineRequests(): Promise<number>; stop(): void }> {
	const code = `
		const { FakeBinance } = require(${JSON.stringify(path.resolve(__dirname, "../test/helpers/fake-binance.ts"))});
		const venue = new FakeBinance();
		venue.answerCache = new Map();
		venue.start().then((f) => {
			process.send({ url: f.url });
			process.on("message", () => process.send({ count: f.klineRequests().length }));
		});`;
	// Its output goes to stderr: stdout carries only the result line.
	const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "-e", code], { stdio: ["ignore", 2, 2, "ipc"] });
	const next = () => new Promise<any>((resolve, reject) => {
		child.once("message", resolve);
		child.once("exit", (c) => reject(new Error(`fake venue exited with ${c}`)));
	});
	const { url } = await next();
	return {
		url,
		pid: child.pid!,
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
		// Held as bytes in blocks of 5,000 rows: 525,600 strings kept alive would make every full collection during the
		// ingest walk them, a cost of this bench's, not of the ingest it measures.
		const rows: Buffer[] = [];
		const binary: Buffer[] = [];
		const head = klineRowFormat(KEY).head;
		let block: string[] = [];
		let answer: unknown[][] = [];
		for (let t = FROM; t < TO; t += 60_000) {
			block.push(klinesCopyText(KEY, parseKlines([FakeBinance.row(t, "1m")], "1m")));
			answer.push(FakeBinance.row(t, "1m"));
			if (block.length === 5_000 || t + 60_000 >= TO) {
				rows.push(Buffer.from(block.join("")));
				binary.push(scanKlineBytes(Buffer.from(JSON.stringify(answer)), "1m", head)!.binary);
				block = [];
				answer = [];
			}
		}
		const empty = async () => {
			await db.pool.query("TRUNCATE klines, kline_empty_ranges");
			await db.pool.query("VACUUM ANALYZE klines");
		};
		const stored = async () => Number((await db.pool.query("SELECT count(*) AS n FROM klines")).rows[0].n);
		const rest = new BinanceRest({ baseUrl: fake.url, limiter: new RateLimiter(1_000_000, 1000) });
		// Rehearsal, not counted: fills the venue's answer cache and warms this process up, then the table is emptied.
		const rehearsal = await backfillKlines(db.pool, rest, { symbol: SYMBOL, interval: "1m", from: FROM, to: TO });
		if (rehearsal.inserted !== n) throw new Error(`rehearsal: expected ${n} klines, inserted ${rehearsal.inserted}`);
		type Cpu = CpuSplit; // other = the fake venue process
		const runs: Array<{ copyMs: number; binaryMs: number; ingestMs: number; pages: number; ratio: number; copyCpu: Cpu; cpu: Cpu }> = [];
		for (let run = 1; run <= RUNS; run++) {
			await empty();
			const { result: copyMs, cpu: copyCpu } = await cpuDuring(db.pool, fake.pid, () => timedCopy(db.pool, "klines", KLINE_COLUMNS, rows));
			if ((await stored()) !== n) throw new Error(`raw COPY stored ${await stored()} of ${n} klines`);
			await empty();
			const binaryMs = await timedBinaryCopy(db.pool, "klines", KLINE_COLUMNS, binary);
			if ((await stored()) !== n) throw new Error(`raw binary COPY stored ${await stored()} of ${n} klines`);
			await empty();

			const measured = await cpuDuring(db.pool, fake.pid, async () => {
				const t1 = performance.now();
				const first = await backfillKlines(db.pool, rest, { symbol: SYMBOL, interval: "1m", from: FROM, to: TO });
				return { first, ingestMs: performance.now() - t1 };
			});
			const { first, ingestMs } = measured.result;
			const have = await stored();
			if (first.inserted !== n || have !== n) throw new Error(`expected ${n} klines, inserted ${first.inserted}, stored ${have}`);
			const ratio = copyMs / ingestMs;
			runs.push({ copyMs, binaryMs, ingestMs, pages: first.pages, ratio, copyCpu, cpu: measured.cpu });
			progress(`run ${run}/${RUNS}: raw COPY ${seconds(copyMs)} (${fmt(n / (copyMs / 1000))} rows/s); ingest ${seconds(ingestMs)} (${fmt(n / (ingestMs / 1000))} rows/s, ${first.pages} pages); ratio ${ratio.toFixed(3)}; ` +
					`CPU ms: COPY postgres ${copyCpu.postgres} (waited for a CPU ${copyCpu.postgresWaited}); ingest: this process ${measured.cpu.self}, venue ${measured.cpu.other}, postgres ${measured.cpu.postgres} (waited for a CPU ${measured.cpu.postgresWaited}); ` +
					`raw binary COPY ${seconds(binaryMs)}, ratio to it ${(binaryMs / ingestMs).toFixed(3)}`,
			);
		}

		// The stored range again: must ask the venue nothing.
		const before = await fake.klineRequests();
		const t2 = performance.now();
		const again = await backfillKlines(db.pool, rest, { symbol: SYMBOL, interval: "1m", from: FROM, to: TO });
		const againMs = performance.now() - t2;
		const venueRequests = (await fake.klineRequests()) - before;
		progress(`second run over the stored range: ${seconds(againMs)}, ${venueRequests} venue requests, ${again.inserted} inserted`);
		if (venueRequests !== 0 || again.inserted !== 0) throw new Error("the second run must ask the venue nothing");

		report({
			bench: "klines",
			ratio: median(runs.map((r) => r.ratio)),
			goal: 0.8,
			better: "higher",
			figure: `${fmt(median(runs.map((r) => n / (r.ingestMs / 1000))))} rows/s`,
			baseline: `raw COPY ${fmt(median(runs.map((r) => n / (r.copyMs / 1000))))} rows/s`,
			klines: n,
			pages: runs[0].pages,
			// not the goal: the same rows by raw binary COPY (the ingest sends binary COPY rows)
			ratio_vs_binary_copy: Number(median(runs.map((r) => r.binaryMs / r.ingestMs)).toFixed(3)),
			runs: runs.map((r) => ({
				copy_ms: Math.round(r.copyMs),
				binary_copy_ms: Math.round(r.binaryMs),
				ingest_ms: Math.round(r.ingestMs),
				ratio: Number(r.ratio.toFixed(3)),
				cpu_ms: { copy_postgres: r.copyCpu.postgres, copy_postgres_waited: r.copyCpu.postgresWaited, ingest_self: r.cpu.self, ingest_venue: r.cpu.other, ingest_postgres: r.cpu.postgres, ingest_postgres_waited: r.cpu.postgresWaited },
			})),
			rerun_ms: Math.round(againMs),
			rerun_venue_requests: venueRequests,
		});
	} finally {
		fake.stop();
		await db.drop();
	}
}

main().catch((err) => {
	console.error(err);
	process.exit(1);
});
