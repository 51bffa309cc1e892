import { deleteStream, streamMessages } from "../helpers/nats";
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ALL_SERVICES } from "../../lib/config";
import { JetStreamLog } from "../../lib/log/jetstream";
import { migrate } from "../../lib/store/migrate";
import { TickWriter } from "../../lib/writer/tick-writer";
import { freshDatabase, waitFor } from "../helpers/db";
import { freePort, getJson } from "../helpers/net";
import { runCli, startService, type Child } from "../helpers/proc";
import { makeTrades, normalizeCandle, referenceCandles } from "../helpers/trades";



/** Run `npm run replay`'s entry point and collect its output and exit code. */
const replay = (file: string, env: Record<string, string>, args: string[] = []) => runCli("bin/replay.ts", [file, ...args], env);

function writeJsonl(dir: string, name: string, lines: object[]): string {
	const f = path.join(dir, name);
	writeFileSync(f, lines.map((l) => JSON.stringify(l)).join("\n") + "\n");
	return f;
}

describe("npm start with no configuration, fed by npm run replay", () => {
	let dir: string;
	let child: Child | null = null;

	beforeAll(() => {
		dir = mkdtempSync(path.join(tmpdir(), "mdp-embedded-"));
		chmodSync(dir, 0o755); // the embedded server runs as the postgres user when we are root
	});
	afterAll(async () => {
		await child?.kill("SIGKILL");
		rmSync(dir, { recursive: true, force: true });
	});

	it("runs every service on embedded PostgreSQL and the in-memory log, and serves replayed trades as candles", async () => {
		const port = await freePort();
		const pgPort = await freePort();
		// Live Kraken runs by default; pointed at a closed port here so live BTC/USD trades cannot mix with the replayed ones.
		const deadUrl = `ws://127.0.0.1:${await freePort()}`;
		// Only what a fresh machine has: no DATABASE_URL, no transporter, no Redis, memory log.
		child = startService({ DATA_DIR: path.join(dir, "data"), PORT: String(port), EMBEDDED_PG_PORT: String(pgPort), METRICS_PORT: "0", DATABASE_URL: "", TRANSPORTER: "", REDIS_URL: "", MARKET_LOG: "", SERVICES: "", KRAKEN_WS_URL: deadUrl, KRAKEN_REST_URL: deadUrl.replace("ws:", "http:"), OANDA_API_KEY: "" });
		await child.waitForOutput(new RegExp(`pipeline up: services=${ALL_SERVICES.join(",")} db=embedded log=memory leadership=in-process`), 60_000);
		// kraken points at a dead URL: reported in checks.feeds, without failing readiness; oanda-stream is off without a key
		expect((await getJson(`http://127.0.0.1:${port}/api/ready`)).body.checks).toEqual({ database: "ok", log: "ok", feeds: expect.stringMatching(/^degraded: kraken (backoff|connecting)$/) });
		await child.waitForOutput(/oanda-stream is off: OANDA_API_KEY is not set/);

		const trades = makeTrades(500, Date.parse("2024-01-15T10:00:00Z"), 2 * 3_600_000, 5);
		const lines = trades.map((t) => ({ venue: "kraken", symbol: "BTC-USD-SPOT", venueSymbol: "BTC/USD", ...t }));
		lines.splice(100, 0, { venue: "kraken", symbol: "BTC-USD-SPOT", tradeId: "x", price: 1 } as any); // one bad line
		const file = writeJsonl(dir, "trades.jsonl", lines);
		const r = await replay(file, { MARKET_LOG: "", PORT: String(port) });
		expect(r.out).toMatch(/501 lines read, 500 records published, 1 rejected/);
		expect(r.out).toMatch(/line 101: price must be a decimal string/);
		expect(r.code).toBe(0);

		const ref = [...referenceCandles(trades, "15m").values()].map(normalizeCandle);
		await waitFor(async () => {
			const c = await getJson(`http://127.0.0.1:${port}/api/candles?venue=kraken&symbol=BTC-USD-SPOT&timeframe=15m&from=2024-01-15T10:00:00Z&to=2024-01-15T12:00:00Z`);
			return c.status === 200 && JSON.stringify(c.body.map(normalizeCandle)) === JSON.stringify(ref);
		}, { what: "replayed trades as 15m candles", timeoutMs: 30_000 });

		child.proc.kill("SIGTERM");
		const code = await new Promise((res) => child!.proc.once("exit", (c) => res(c)));
		expect(code).toBe(0);
		child = null;
	});

	it("explains what is wrong when the file or the pipeline is missing", async () => {
		const missing = await replay(path.join(dir, "nope.jsonl"), {});
		expect(missing.code).toBe(2);
		expect(missing.out).toMatch(/cannot read .*nope.jsonl/);
		const file = writeJsonl(dir, "one.jsonl", [{ venue: "kraken", symbol: "BTC-USD-SPOT", tradeId: "1", price: "1", qty: "1", time: "2024-01-15T10:00:00Z" }]);
		const down = await replay(file, { MARKET_LOG: "" }, ["--api", `http://127.0.0.1:${await freePort()}`]);
		expect(down.code).toBe(1);
		expect(down.out).toMatch(/cannot reach the pipeline/);
	});
});

describe("npm run replay into JetStream", () => {
	it("publishes straight into the log, where a tick-writer stores each trade once", async () => {
		const db = await freshDatabase("replayjs");
		const stream = `MDP_REPLAY_${process.pid}_${Date.now().toString(36)}`.toUpperCase();
		const prefix = stream.toLowerCase() + ".";
		const dir = mkdtempSync(path.join(tmpdir(), "mdp-replay-"));
		const log = await JetStreamLog.connect({ stream, subjectPrefix: prefix });
		try {
			await migrate(db.pool);
			const trades = makeTrades(1_000, Date.parse("2024-01-15T10:00:00Z"), 3_600_000, 9);
			const file = writeJsonl(dir, "t.jsonl", trades.map((t) => ({ venue: "kraken", symbol: "BTC-USD-SPOT", ...t })));
			const env = { MARKET_LOG: "jetstream", MARKET_LOG_STREAM: stream, MARKET_LOG_SUBJECT_PREFIX: prefix, DATABASE_URL: db.url };
			// the catalog must know the market first: a replay of an unknown one is refused
			const refused = await replay(file, env);
			expect(refused.code).toBe(1);
			expect(refused.stderr).toMatch(/unknown symbol "BTC-USD-SPOT" on venue "kraken"/);
			await db.pool.query(`INSERT INTO symbols (venue, symbol, venue_symbol, asset_class, base, quote) VALUES ('kraken', 'BTC-USD-SPOT', 'BTC/USD', 'crypto', 'BTC', 'USD')`);
			expect((await replay(file, env)).out).toMatch(/1000 records published/);
			// twice: every message carries a Nats-Msg-Id, so JetStream's duplicate window drops the second copy
			expect((await replay(file, env)).code).toBe(0);
			const stored = await streamMessages(stream);
			const w = new TickWriter({ pool: db.pool, log });
			await w.start();
			try {
				await waitFor(() => w.stats.trades === 1_000, { what: "the replay consumed" });
			} finally {
				await w.stop();
			}
			const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM trades");
			expect(rows[0].n).toBe(1_000);
			expect(w.stats.duplicates).toBe(0);
			expect(stored).toBe(10); // 1,000 trades in messages of 100, stored once
		} finally {
			await log.close();
			await deleteStream(stream);
			rmSync(dir, { recursive: true, force: true });
			await db.drop();
		}
	});
});
