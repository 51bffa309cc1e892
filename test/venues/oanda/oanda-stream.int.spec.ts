import Decimal from "decimal.js";
import { startPipeline, type Pipeline } from "../../../bin/pipeline";
import { loadConfig } from "../../../lib/config";
import { freshDatabase, waitFor, type TestDb } from "../../helpers/db";
import { FakeOanda, nanoTime, priceLine, type S5Candle } from "../../helpers/fake-oanda";
import { freePort, getJson } from "../../helpers/net";

/**
 * oanda-stream inside the pipeline (memory log, tick-writer, cascade, API, PostgreSQL) against a fake OANDA
 * speaking the chunked pricing stream and the candles endpoint; kraken-stream next to it pointed at a port where
 * nothing listens. One session, in order: quotes and candles, a silent stream and its repaired gap, feed
 * visibility, and finally refused credentials. The API key must never show in a log line, an answer or a metric.
 */
const STALE_MS = 1500;
const BACKOFF_MAX_MS = 300;
const KEY = `oanda-test-key-${process.pid}-${Math.random().toString(36).slice(2)}`;

interface Ohlc {
	open: string;
	high: string;
	low: string;
	close: string;
}

/** OHLC of decimal strings in order (compared as decimals). */
function ohlcOf(values: string[]): Ohlc {
	let hi = new Decimal(values[0]);
	let lo = hi;
	for (const v of values) {
		const d = new Decimal(v);
		if (d.gt(hi)) hi = d;
		if (d.lt(lo)) lo = d;
	}
	return { open: values[0], high: hi.toString(), low: lo.toString(), close: values[values.length - 1] };
}

const asDecimals = (c: Ohlc) => [c.open, c.high, c.low, c.close].map((v) => new Decimal(v).toString());

describe("oanda-stream against a fake OANDA (pipeline, PostgreSQL)", () => {
	let db: TestDb;
	let fake: FakeOanda;
	let p: Pipeline;
	let api: string;
	let metricsUrl: string;
	const logged: string[] = [];
	const spies: jest.SpyInstance[] = [];

	beforeAll(async () => {
		for (const m of ["log", "info", "warn", "error", "debug", "trace"] as const) spies.push(jest.spyOn(console, m).mockImplementation((...a: unknown[]) => void logged.push(a.map(String).join(" "))));
		db = await freshDatabase("oanda_stream");
		fake = await new FakeOanda().start(KEY, 300);
		const [port, metricsPort, nobody] = [await freePort(), await freePort(), await freePort()];
		p = await startPipeline(
			loadConfig({
				DATABASE_URL: db.url,
				MARKET_LOG: "memory",
				SERVICES: "oanda-stream,kraken-stream,tick-writer,cascade-refresher,api",
				PORT: String(port),
				METRICS_PORT: String(metricsPort),
				CASCADE_INTERVAL_MS: "200",
				LOG_LEVEL: "debug",
				NODE_ID: `oanda-${process.pid}`,
				NAMESPACE: `oanda${process.pid}`,
				OANDA_API_KEY: KEY,
				OANDA_ACCOUNT_ID: "101-004-1234567-001",
				OANDA_STREAM_URL: fake.url,
				OANDA_REST_URL: fake.url,
				OANDA_INSTRUMENTS: "EUR_USD,USD_JPY",
				OANDA_STALE_MS: String(STALE_MS),
				OANDA_BACKOFF_BASE_MS: "50",
				OANDA_BACKOFF_MAX_MS: String(BACKOFF_MAX_MS),
				OANDA_MARKET_HOURS: "always",
				OANDA_FLUSH_MS: "50",
				OANDA_REST_RATE_PER_SEC: "50",
				KRAKEN_WS_URL: `ws://127.0.0.1:${nobody}/v2`,
				KRAKEN_REST_URL: `http://127.0.0.1:${nobody}`,
				KRAKEN_BACKOFF_BASE_MS: "50",
				KRAKEN_BACKOFF_MAX_MS: "300",
			}),
		);
		api = `http://127.0.0.1:${port}/api`;
		metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
		await waitFor(() => fake.connections === 1, { what: "the pricing stream open" });
	});

	afterAll(async () => {
		await p?.stop();
		await fake?.stop();
		await db?.drop();
		for (const s of spies) s.mockRestore();
	});

	// Before its first quote is stored, EUR-USD-SPOT is unknown to reads here (no catalog runs): 404, nothing yet.
	const quotes = async () => {
		const r = await getJson(`${api}/quotes?venue=oanda&symbol=EUR-USD-SPOT&from=${new Date(base - 60_000).toISOString()}&to=${new Date(base + 600_000).toISOString()}&limit=1000`);
		if (r.status === 404) return [];
		expect(r.status).toBe(200);
		return r.body.items as { time: string; seq: string; bid: string; ask: string; bidQty: string }[];
	};

	it("streams the configured instruments with the key in the Authorization header only", () => {
		const r = fake.streamRequests[0];
		expect(r.path).toBe("/v3/accounts/101-004-1234567-001/pricing/stream");
		expect(r.query.instruments).toBe("EUR_USD,USD_JPY");
		expect(r.auth).toBe(`Bearer ${KEY}`);
	});

	const base = Math.floor((Date.now() - 30 * 60_000) / 60_000) * 60_000;
	const sent: { time: string; bid: string; ask: string }[] = [];

	it("chunked PRICE lines become exact quotes; 1m bid candles equal candles computed from the same prices", async () => {
		let text = "";
		for (let i = 0; i < 90; i++) {
			const bid = (1.08 + ((i * 37) % 101) / 100000).toFixed(5);
			const ask = new Decimal(bid).plus("0.00012").toFixed(5);
			const time = nanoTime(base + i * 2000 + 13, i * 1000 + 7);
			sent.push({ time, bid, ask });
			text += priceLine("EUR_USD", time, bid, ask) + "\n";
			if (i % 10 === 0) text += JSON.stringify({ type: "HEARTBEAT", time }) + "\n";
		}
		text += '{"type":"PRICE","instrument":"EUR_USD","time":"garbage"}\n';
		text += priceLine("EUR_USD", nanoTime(base + 200_000), "1.1", "1.2", { tradeable: false }) + "\n";
		fake.send(text, 37); // lines cut across chunks, several lines per chunk
		await waitFor(async () => (await quotes()).length === 90, { what: "90 quotes stored", timeoutMs: 20_000 });
		const got = await quotes();
		expect(got.map((q) => ({ bid: q.bid, ask: q.ask, qty: q.bidQty }))).toEqual(sent.map((s) => ({ bid: s.bid, ask: s.ask, qty: "10000000" })));
		// µs in the time column, the nanoseconds below them in seq: the full venue time
		expect(got.map((q) => `${q.time.slice(0, 26)}${q.seq.padStart(3, "0")}Z`)).toEqual(sent.map((s) => s.time));

		const want = [0, 1, 2].map((m) => ({ time: new Date(base + m * 60_000).toISOString(), ...ohlcOf(sent.slice(m * 30, m * 30 + 30).map((s) => s.bid)) }));
		const url = `${api}/candles?venue=oanda&symbol=EUR-USD-SPOT&timeframe=1m&price=bid&from=${new Date(base).toISOString()}&to=${new Date(base + 180_000).toISOString()}`;
		await waitFor(async () => ((await getJson(url)).body as Ohlc[]).length === 3, { what: "three 1m bid candles" });
		const candles = (await getJson(url)).body as (Ohlc & { time: string })[];
		expect(candles.map((c) => [c.time, ...asDecimals(c)])).toEqual(want.map((c) => [c.time, ...asDecimals(c)]));

		const stats = (await p.broker.call("oanda-stream.stats")) as { rejected: number; instruments: Record<string, { nonTradeable: number }> };
		expect(stats.rejected).toBe(1);
		expect(stats.instruments.EUR_USD.nonTradeable).toBe(1);
		const dl = await db.pool.query("SELECT reason, convert_from(payload, 'UTF8') AS line FROM dead_letters WHERE consumer = 'oanda-stream'");
		expect(dl.rows).toEqual([{ reason: expect.stringContaining("bad time"), line: '{"type":"PRICE","instrument":"EUR_USD","time":"garbage"}' }]);
	});

	it("a silent stream is replaced within OANDA_STALE_MS plus backoff; the outage is in /api/gaps, repaired from S5 candles, its 1m+ candles filled and flagged", async () => {
		const now = Date.now();
		const s5: S5Candle[] = [];
		for (let t = Math.floor(now / 5000) * 5000 - 120_000, i = 0; t < now + 60_000; t += 5000, i++) {
			const b = (1.09 + (i % 7) / 10000).toFixed(5);
			s5.push({ timeMs: t, bid: [b, new Decimal(b).plus("0.00003").toFixed(5), new Decimal(b).minus("0.00002").toFixed(5), new Decimal(b).plus("0.00001").toFixed(5)], ask: [new Decimal(b).plus("0.0001").toFixed(5), new Decimal(b).plus("0.00013").toFixed(5), new Decimal(b).plus("0.00008").toFixed(5), new Decimal(b).plus("0.00011").toFixed(5)], volume: 3 + (i % 4) });
		}
		fake.s5Candles.set("EUR_USD", s5);
		const before = fake.streamRequests.length;
		fake.silence();
		await waitFor(() => fake.streamRequests.length > before && fake.connections === 1, { what: "a new stream after the silence", timeoutMs: STALE_MS + BACKOFF_MAX_MS + 2000 });

		const gap = await waitFor(
			async () => ((await getJson(`${api}/gaps?venue=oanda&symbol=EUR-USD-SPOT`)).body.items as any[]).find((g) => g.cause === "watchdog" && g.repaired_by === "oanda-s5-candles"),
			{ what: "the watchdog gap repaired" },
		);
		expect(gap).toMatchObject({ venue: "oanda", channel: "quotes", detail: expect.objectContaining({ minutes: expect.any(Number), kind: "candles, not ticks" }) });
		const fromMs = Date.parse(gap.from_time);
		const toMs = Date.parse(gap.to_time);
		const stored = s5.filter((c) => c.timeMs >= Math.floor(fromMs / 5000) * 5000 && c.timeMs < toMs);
		const minutes = [...new Set(stored.map((c) => Math.floor(c.timeMs / 60_000) * 60_000))];
		const url = `${api}/candles?venue=oanda&symbol=EUR-USD-SPOT&timeframe=1m&price=bid&from=${new Date(minutes[0]).toISOString()}&to=${new Date(minutes[minutes.length - 1] + 60_000).toISOString()}`;
		const candles = await waitFor(async () => {
			const c = (await getJson(url)).body as (Ohlc & { time: string; repaired?: boolean })[];
			return c.length === minutes.length && c.every((x) => x.repaired) ? c : null;
		}, { what: "repaired 1m candles" });
		const want = minutes.map((m) => {
			const cs = stored.filter((c) => Math.floor(c.timeMs / 60_000) * 60_000 === m);
			const o = ohlcOf(cs.flatMap((c) => [c.bid[0], c.bid[1], c.bid[2], c.bid[3]]));
			return [new Date(m).toISOString(), ...asDecimals({ open: cs[0].bid[0], high: o.high, low: o.low, close: cs[cs.length - 1].bid[3] })];
		});
		expect(candles.map((c) => [c.time, ...asDecimals(c)])).toEqual(want);
		const five = `${api}/candles?venue=oanda&symbol=EUR-USD-SPOT&timeframe=5m&price=mid&from=${new Date(Math.floor(minutes[0] / 300_000) * 300_000).toISOString()}&to=${new Date(minutes[minutes.length - 1] + 60_000).toISOString()}`;
		await waitFor(async () => ((await getJson(five)).body as { repaired?: boolean }[]).some((c) => c.repaired), { what: "a flagged 5m mid candle" });
	});

	it("/api/feeds shows kraken unreachable as not connected with an open gap; /api/ready reports it without failing; mdp_feed_* series exist", async () => {
		const kraken = await waitFor(async () => ((await getJson(`${api}/feeds`)).body.items as any[]).find((f) => f.venue === "kraken" && f.connectFailures > 0 && f.openGapSince), { what: "kraken in /api/feeds" });
		expect(kraken).toMatchObject({ feed: "ws", connected: false, state: expect.stringMatching(/^(backoff|connecting)$/), lastMessageAt: null, symbols: ["BTC-USD-SPOT"] });
		const oanda = ((await getJson(`${api}/feeds`)).body.items as any[]).find((f) => f.venue === "oanda");
		expect(oanda).toMatchObject({ feed: "pricing-stream", state: "connected", connected: true, symbols: ["EUR-USD-SPOT", "USD-JPY-SPOT"], openGapSince: null, error: null });
		expect(oanda.reconnects).toBeGreaterThanOrEqual(1);
		const gaps = (await getJson(`${api}/gaps?venue=kraken&open=true`)).body.items as any[];
		expect(gaps.map((g) => g.cause)).toContain("connect-failed");
		const ready = await getJson(`${api}/ready`);
		expect(ready.status).toBe(200);
		expect(ready.body.checks.feeds).toMatch(/^degraded: kraken (backoff|connecting)$/);
		const metrics = await waitFor(async () => {
			const t = await (await fetch(metricsUrl)).text();
			return /mdp_feed_connected\{[^}]*venue="kraken",feed="ws"\} 0/.test(t) && /mdp_feed_connected\{[^}]*venue="oanda",feed="pricing-stream"\} 1/.test(t) ? t : null;
		}, { what: "mdp_feed_connected series" });
		expect(metrics).toMatch(/mdp_feed_connect_failures_total\{[^}]*venue="kraken",feed="ws"\} [1-9]/);
		expect(metrics).toMatch(/mdp_feed_messages_total\{[^}]*venue="oanda",feed="pricing-stream",symbol="EUR-USD-SPOT"\} [1-9]/);
		expect(metrics).not.toContain(KEY);
	});

	it("re-streamed prices after a reconnect are not stored twice", async () => {
		const before = fake.streamRequests.length;
		fake.dropAll();
		await waitFor(() => fake.streamRequests.length > before && fake.connections === 1, { what: "reconnected after the drop" });
		fake.send(sent.map((q) => priceLine("EUR_USD", q.time, q.bid, q.ask)).join("\n") + "\n", 101);
		fake.send(priceLine("EUR_USD", nanoTime(base + 300_000, 5), "1.08001", "1.08013") + "\n");
		await waitFor(async () => (await quotes()).length === 91, { what: "only the one new price stored" });
		const gaps = (await getJson(`${api}/gaps?venue=oanda&symbol=EUR-USD-SPOT`)).body.items as { cause: string; to_time: string | null }[];
		expect(gaps.filter((g) => g.cause === "disconnect").map((g) => g.to_time !== null)).toEqual([true]);
	});

	it("streams the catalog's active OANDA symbols and re-opens the stream on symbols.changed", async () => {
		const gapsBefore = (await db.pool.query("SELECT count(*)::int AS n FROM feed_gaps WHERE venue = 'oanda'")).rows[0].n;
		await p.broker.createService({
			name: "symbols",
			actions: {
				list: (ctx: any) => ({ items: ctx.params.venue === "oanda" && ctx.params.active === true ? [{ venueSymbol: "EUR_USD", symbol: "EUR-USD-SPOT" }, { venueSymbol: "GBP_USD", symbol: "GBP-USD-SPOT" }] : [], nextCursor: null }),
			},
		});
		const last = () => fake.streamRequests[fake.streamRequests.length - 1];
		await waitFor(() => last().query.instruments === "EUR_USD,GBP_USD" && fake.connections === 1, { what: "the stream re-opened with the catalog's list" });
		await p.broker.emit("symbols.changed", { venue: "oanda", symbols: ["EUR_USD", "AUD_USD"], added: ["AUD_USD"], removed: ["GBP_USD"] });
		await waitFor(() => last().query.instruments === "EUR_USD,AUD_USD" && fake.connections === 1, { what: "the stream re-opened on symbols.changed" });
		const oanda = ((await getJson(`${api}/feeds`)).body.items as any[]).find((f) => f.venue === "oanda");
		expect(oanda.symbols).toEqual(["EUR-USD-SPOT", "AUD-USD-SPOT"]);
		// re-opening for a new list is not an outage
		expect((await db.pool.query("SELECT count(*)::int AS n FROM feed_gaps WHERE venue = 'oanda'")).rows[0].n).toBe(gapsBefore);
	});

	it("refused credentials (401) stop the stream without a retry storm, and /api/ready fails naming oanda", async () => {
		fake.streamStatus = 401;
		const before = fake.streamRequests.length;
		fake.dropAll();
		const ready = await waitFor(async () => {
			const r = await getJson(`${api}/ready`);
			return r.status === 503 ? r : null;
		}, { what: "/api/ready 503" });
		expect(JSON.stringify(ready.body)).toMatch(/auth-failed: oanda \(.*HTTP 401/);
		expect(fake.streamRequests.length).toBe(before + 1);
		// Ten times the longest backoff: a retrying client would have asked again by now.
		await new Promise((r) => setTimeout(r, BACKOFF_MAX_MS * 10));
		expect(fake.streamRequests.length).toBe(before + 1);
		const feeds = (await getJson(`${api}/feeds`)).body.items as any[];
		expect(feeds.find((f) => f.venue === "oanda")).toMatchObject({ state: "auth-failed", connected: false, error: expect.stringContaining("HTTP 401") });
		// The key is in no log line, answer, ledger row or metric.
		const gaps = await db.pool.query("SELECT detail::text, cause FROM feed_gaps");
		const texts = [...logged, JSON.stringify(ready.body), JSON.stringify(feeds), JSON.stringify(gaps.rows), await (await fetch(metricsUrl)).text()];
		expect(logged.some((l) => l.includes("HTTP 401"))).toBe(true);
		for (const t of texts) expect(t).not.toContain(KEY);
	});
});
