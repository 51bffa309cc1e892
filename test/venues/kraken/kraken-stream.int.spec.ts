import Decimal from "decimal.js";
import { startPipeline, type Pipeline } from "../../../bin/pipeline";
import { loadConfig } from "../../../lib/config";
import type { TradeItem } from "../../../lib/domain/types";
import { freshDatabase, waitFor, type TestDb } from "../../helpers/db";
import { FakeKraken } from "../../helpers/fake-kraken";
import { deleteStream } from "../../helpers/nats";
import { freePort, getJson } from "../../helpers/net";
import { normalizeCandle, referenceCandles } from "../../helpers/trades";

/**
 * kraken-stream inside the whole pipeline (JetStream log, tick-writer, cascade, API, PostgreSQL),
 * against a local Kraken v2 server replaying the real recordings. One session, in order: live
 * trades, a corrupted book, a dropped connection in the middle of the trade stream, a silent socket,
 * and finally the candles the API serves from all of it.
 */
const WATCHDOG_MS = 1500;

describe("kraken-stream against a fake Kraken v2 (pipeline, JetStream, PostgreSQL)", () => {
	let db: TestDb;
	let fake: FakeKraken;
	let p: Pipeline;
	let api: string;
	const stream = `MDP_KRAKEN_${process.pid}_${Date.now().toString(36)}`.toUpperCase();

	const stats = async () => (await p.broker.call("kraken-stream.stats")) as any;
	const storedTrades = async () => (await db.pool.query("SELECT trade_id::text AS id, price::text, qty::text, side, time FROM trades WHERE venue = 'kraken' AND symbol = 'BTC-USD-SPOT' ORDER BY trade_id")).rows;
	/** Requests the client sent on the current (newest) connection. */
	const requestsOnLastConnection = () => fake.requests.filter((r) => r.conn === fake.connections && r.msg.method !== "ping").map((r) => r.msg);

	/** Every emitted trade stored exactly once, with the exact price and size the venue printed. */
	async function expectStoredExactlyEmitted() {
		const want = fake.emittedTrades.map((t) => ({ id: String(t.tradeId), price: t.price, qty: t.volume, side: t.side }));
		await waitFor(async () => (await storedTrades()).length === want.length, { what: `${want.length} trades stored`, timeoutMs: 20_000 });
		const got = await storedTrades();
		expect(got.map((r) => ({ id: r.id, price: r.price, qty: r.qty, side: r.side }))).toEqual(want);
	}

	beforeAll(async () => {
		db = await freshDatabase("kraken_stream");
		fake = await new FakeKraken().start();
		fake.heartbeatMs = 200;
		fake.tradeSnapshotSize = 10; // smaller than the trades missed below, so REST has to fill the hole
		const port = await freePort();
		p = await startPipeline(
			loadConfig({
				DATABASE_URL: db.url,
				MARKET_LOG: "jetstream",
				MARKET_LOG_STREAM: stream,
				MARKET_LOG_SUBJECT_PREFIX: stream.toLowerCase() + ".",
				SERVICES: "kraken-stream,tick-writer,cascade-refresher,api",
				PORT: String(port),
				METRICS_PORT: "0",
				CASCADE_INTERVAL_MS: "200",
				LOG_LEVEL: "error",
				NODE_ID: `kraken-${process.pid}`,
				NAMESPACE: `kraken${process.pid}`,
				KRAKEN_WS_URL: fake.url,
				KRAKEN_REST_URL: fake.rest.url,
				KRAKEN_SYMBOLS: "BTC/USD,XMR/USD",
				KRAKEN_WATCHDOG_MS: String(WATCHDOG_MS),
				KRAKEN_PING_INTERVAL_MS: "300",
				KRAKEN_BACKOFF_BASE_MS: "50",
				KRAKEN_BACKOFF_MAX_MS: "400",
				KRAKEN_FLUSH_MS: "50",
				KRAKEN_CHECKSUM_MISMATCH_LIMIT: "3",
				KRAKEN_REST_RATE_PER_SEC: "20",
			}),
		);
		api = `http://127.0.0.1:${port}/api`;
		await waitFor(() => fake.subscribed("book", "BTC/USD") && fake.subscribed("book", "XMR/USD") && fake.subscribed("trade", "BTC/USD") && fake.subscribed("ticker", "XMR/USD"), { what: "all subscriptions" });
	});

	afterAll(async () => {
		await p?.stop();
		await fake?.stop();
		await deleteStream(stream);
		await db?.drop();
	});

	it("subscribes trade, ticker (bbo), book (depth) and instrument, and verifies every book checksum", async () => {
		const subs = requestsOnLastConnection().filter((m) => m.method === "subscribe").map((m) => m.params);
		expect(subs).toEqual(
			expect.arrayContaining([
				{ channel: "instrument", snapshot: true },
				{ channel: "trade", symbol: ["BTC/USD", "XMR/USD"], snapshot: true },
				{ channel: "ticker", symbol: ["BTC/USD", "XMR/USD"], event_trigger: "bbo", snapshot: true },
				{ channel: "book", symbol: ["BTC/USD", "XMR/USD"], depth: 10, snapshot: true },
			]),
		);
		expect(fake.stepTrades(15)).toBe(15);
		await expectStoredExactlyEmitted();
		await waitFor(async () => (await db.pool.query("SELECT count(*)::int AS n FROM quotes WHERE venue = 'kraken'")).rows[0].n > 20, { what: "bbo quotes stored" });
		const s = await stats();
		for (const sym of ["BTC/USD", "XMR/USD"]) {
			expect(s.symbols[sym].bookMessages).toBeGreaterThan(50);
			expect(s.symbols[sym].checksumMismatch).toBe(0);
			expect(s.symbols[sym].checksumOk).toBe(s.symbols[sym].bookMessages);
		}
		await waitFor(async () => (await stats()).pongs > 0, { what: "a pong to our ping" });
		expect(s.status).toMatchObject({ system: "online", api_version: "v2" });
	});

	it("counts and logs malformed, v1, unknown-channel and error frames without stopping", async () => {
		fake.sendRaw("{not json");
		fake.sendRaw('{"connectionID":13688620010177543517,"event":"systemStatus","status":"online","version":"1.9.1"}'); // real v1 frame
		fake.sendRaw('{"channel":"ohlc","type":"update","data":[]}');
		fake.sendRaw('{"error":"Internal error"}');
		await waitFor(async () => {
			const r = (await stats()).rejected;
			return r.malformed === 1 && r.v1 === 1 && r["unknown-channel"] === 1 && r.error === 1;
		}, { what: "each rejected frame counted once" });
		expect(fake.stepTrades(3)).toBe(3);
		await expectStoredExactlyEmitted();
	});

	it("resubscribes only the corrupted symbol's book, on the same socket, and emits a book-reset marker", async () => {
		const log = await p.runtime.log();
		const bookConsumer = await log.consumer({ subscription: "test-btc-book", topics: ["market-data/crypto/raw/kraken/btcusd/book"] });
		const conn = fake.connections;
		const before = requestsOnLastConnection().length;
		fake.corruptBook("BTC/USD", 3);
		fake.step(30);
		await waitFor(async () => (await stats()).symbols["BTC/USD"].bookResubscribes === 1, { what: "BTC/USD book resubscribed" });
		await waitFor(() => fake.subscribed("book", "BTC/USD"), { what: "BTC/USD book subscribed again" });
		const sent = requestsOnLastConnection().slice(before);
		expect(fake.connections).toBe(conn); // same socket
		expect(sent.map((m) => [m.method, m.params.channel, m.params.symbol])).toEqual([
			["unsubscribe", "book", ["BTC/USD"]],
			["subscribe", "book", ["BTC/USD"]],
		]);
		fake.step(40);
		await waitFor(async () => {
			const s = await stats();
			return s.symbols["BTC/USD"].checksumOk > 0 && s.symbols["BTC/USD"].checksumMismatch === 3 ? s : null;
		}, { what: "the new BTC/USD snapshot to verify" });
		const s = await stats();
		expect(s.symbols["XMR/USD"].checksumMismatch).toBe(0);
		expect(s.symbols["XMR/USD"].bookResubscribes).toBe(0);
		// the marker is in the book topic, after the three mismatching updates
		let reset: any = null;
		await waitFor(async () => {
			for (const d of await bookConsumer.pull(500, 200)) {
				const m = JSON.parse(Buffer.from(d.payload).toString());
				if (m.kind === "marker" && m.items[0].type === "book-reset") reset = m;
			}
			return reset;
		}, { what: "book-reset marker" });
		expect(reset).toMatchObject({ venue: "kraken", symbol: "BTC-USD-SPOT", items: [{ type: "book-reset", detail: { reason: "3 checksum mismatches in a row" } }] });
		await bookConsumer.close();
	});

	it("after a forced disconnect mid trade stream, stores exactly the trades emitted, once, and marks the gap repaired", async () => {
		await expectStoredExactlyEmitted();
		const conn = fake.connections;
		fake.dropAll();
		const missed = fake.stepTrades(25); // the market goes on while we are away
		expect(missed).toBe(25);
		await waitFor(() => fake.connections > conn && fake.subscribed("trade", "BTC/USD"), { what: "reconnect" });
		fake.stepTrades(5);
		await expectStoredExactlyEmitted();
		const gap = await waitFor(async () => (await db.pool.query("SELECT * FROM feed_gaps WHERE symbol = 'BTC-USD-SPOT' AND channel = 'trade' AND cause = 'disconnect' AND repaired_at IS NOT NULL")).rows[0], { what: "trade gap repaired" });
		expect(gap.to_time).not.toBeNull();
		expect(gap.from_time.getTime()).toBeLessThanOrEqual(gap.to_time.getTime());
		expect(gap.repaired_by).toBe("kraken-rest-trades");
		expect(Number(gap.detail.restTrades)).toBeGreaterThanOrEqual(missed - fake.tradeSnapshotSize);
		expect(fake.rest.tradeRequests().length).toBeGreaterThan(0);
		expect(fake.rest.tradeRequests()[0].query.pair).toBe("XBTUSD");
		// the other channels' rows are there too; the book's closes with the verified snapshot
		const rows = (await db.pool.query("SELECT symbol, channel, to_time, repaired_by FROM feed_gaps WHERE cause = 'disconnect' ORDER BY symbol, channel")).rows;
		expect(rows.map((r) => `${r.symbol} ${r.channel}`)).toEqual(["BTC-USD-SPOT book", "BTC-USD-SPOT ticker", "BTC-USD-SPOT trade", "XMR-USD-SPOT book", "XMR-USD-SPOT ticker", "XMR-USD-SPOT trade"]);
		expect(rows.every((r) => r.to_time !== null)).toBe(true);
		await waitFor(async () => (await db.pool.query("SELECT count(*)::int AS n FROM feed_gaps WHERE cause = 'disconnect' AND channel = 'book' AND repaired_by = 'kraken-ws-book-snapshot'")).rows[0].n === 2, { what: "book gaps closed by fresh snapshots" });
		const listed = await getJson(`${api}/gaps?venue=kraken&symbol=BTC-USD-SPOT&open=false`);
		expect(listed.status).toBe(200);
		expect(listed.body.items).toEqual(expect.arrayContaining([expect.objectContaining({ id: gap.id, channel: "trade", cause: "disconnect", repaired_by: "kraken-rest-trades" })]));
		expect((await getJson(`${api}/gaps?open=maybe`)).status).toBe(400);
		// downstream saw the disconnect as a marker
		expect(((await p.broker.call("tick-writer.stats")) as any).markers).toBeGreaterThanOrEqual(2);
	});

	// One full-suite run saw these repairs miss a 20 s wait (not reproduced since): the wait is longer now, and a
	// failure prints the gap ledger and the stream's stats.
	it("replaces a silent socket (no data, no heartbeats) within the watchdog time", async () => {
		// The previous test's disconnect gaps must be over first: a symbol still waiting for its first trade after that
		// reconnect (XMR/USD has no trades: it waits for the snapshot timeout) is inside that outage, so the watchdog
		// would open no new gap for it and only one of the two watchdog gaps below would exist.
		await waitFor(async () => (await db.pool.query("SELECT 1 FROM feed_gaps WHERE cause = 'disconnect' AND channel = 'trade' AND repaired_at IS NOT NULL")).rowCount === 2, { what: "the disconnect's trade gaps repaired", timeoutMs: 45_000 });
		const conn = fake.connections;
		const watchdogBefore = (await stats()).feed.watchdogCloses;
		fake.silence();
		await waitFor(() => fake.connections > conn && fake.subscribed("trade", "BTC/USD"), { what: "a new connection after the watchdog fired", timeoutMs: WATCHDOG_MS + 400 + 1500 });
		expect((await stats()).feed.watchdogCloses).toBe(watchdogBefore + 1);
		await waitFor(async () => (await db.pool.query("SELECT 1 FROM feed_gaps WHERE cause = 'watchdog' AND channel = 'trade' AND repaired_at IS NOT NULL")).rowCount === 2, { what: "watchdog gaps repaired", timeoutMs: 45_000 }).catch(async (err) => {
			const rows = (await db.pool.query("SELECT symbol, channel, cause, from_time, to_time, repaired_at, repaired_by, detail FROM feed_gaps ORDER BY id")).rows;
			throw new Error(`${err.message}\nfeed_gaps: ${JSON.stringify(rows)}\nstats: ${JSON.stringify(await stats())}`);
		});
		fake.step();
		await expectStoredExactlyEmitted();
	});

	it("serves candles built from the fake venue's trades through the API", async () => {
		const trades: TradeItem[] = fake.emittedTrades.map((t) => ({ tradeId: String(t.tradeId), side: t.side === "b" ? "buy" : "sell", price: t.price, qty: t.volume, time: new Date(Number(t.timeUs / 1000n)).toISOString(), recvTime: "" }));
		const ref = [...referenceCandles(trades, "1m").values()].map(normalizeCandle);
		const from = new Date(Date.parse(ref[0].time) - 60_000).toISOString();
		const to = new Date(Date.parse(ref[ref.length - 1].time) + 120_000).toISOString();
		const got = await waitFor(async () => {
			const r = await getJson(`${api}/candles?venue=kraken&symbol=BTC-USD-SPOT&timeframe=1m&from=${from}&to=${to}`);
			const c = (r.body as any[]).map(normalizeCandle);
			return c.reduce((n, x) => n + x.trades, 0) === trades.length ? c : null;
		}, { what: "candles covering every trade" });
		expect(got).toEqual(ref);
		const volume = trades.reduce((v, t) => v.plus(t.qty), new Decimal(0));
		expect(got.reduce((v, c) => v.plus(c.volume), new Decimal(0)).eq(volume)).toBe(true);
	});

	it("subscribes and unsubscribes symbols at run time (action and symbols.changed)", async () => {
		const r = (await p.broker.call("kraken-stream.subscribe", { symbols: ["ETH-USD-SPOT"] })) as any;
		expect(r.subscribed).toEqual(["ETH/USD"]);
		await waitFor(() => fake.subscribed("trade", "ETH/USD") && fake.subscribed("book", "ETH/USD"), { what: "ETH/USD subscribed" });
		await p.broker.emit("symbols.changed", { venue: "kraken", removed: ["ETH/USD"] });
		await waitFor(() => !fake.subscribed("trade", "ETH/USD") && !fake.subscribed("book", "ETH/USD") && !fake.subscribed("ticker", "ETH/USD"), { what: "ETH/USD unsubscribed" });
		expect(fake.subscribed("trade", "BTC/USD")).toBe(true);
		await expect(p.broker.call("kraken-stream.subscribe", { symbols: ["BTCUSD"] })).rejects.toThrow(/neither a Kraken pair/);
		// a pair Kraken does not list comes back as success:false and is counted, not fatal
		await p.broker.call("kraken-stream.subscribe", { symbols: ["NOPE/USD"] });
		await waitFor(async () => (await stats()).subscribeErrors >= 2, { what: "subscribe errors counted" });
		expect((await stats()).lastErrors.join("\n")).toMatch(/Currency pair not supported NOPE\/USD/);
	});
});
