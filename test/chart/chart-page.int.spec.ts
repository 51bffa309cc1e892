// The chart page in a real browser (chromium through playwright-core) against `npm start` fed by
// `npm run replay`: what the chart draws is read back through window.chartApp (the page's own API over
// lightweight-charts), never compared as pixels.
import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Page } from "playwright-core";
import { waitFor } from "../helpers/db";
import { getJson } from "../helpers/net";
import { makeTrades, normalizeCandle, referenceCandles } from "../helpers/trades";
import type { Candle, TradeItem } from "../../lib/domain/types";
import type { Timeframe } from "../../lib/domain/timeframes";
import { startHarness, watchProblems, type Harness, type PageProblems } from "./harness";

const RESULTS = path.resolve(__dirname, "../../test-results");
/** Routes other branches add (symbol catalog, feed status): until they exist the page meets a 404 and says so. */
// Routes whose service this test does not run (symbol-catalog, dukascopy-backfill): the gateway answers 503
// (service not available), or 404 where a server has no such route; the page copes with both.
const ROUTES_OF_SERVICES_NOT_RUN = ["/api/feeds", "/api/symbols", "/api/backfill"];
const NOT_RUNNING = [404, 503];

const line = (symbol: string) => (t: TradeItem) => ({ venue: "kraken", symbol, venueSymbol: symbol.replace("-USD-SPOT", "/USD"), ...t });

describe("chart page (chromium, npm start, npm run replay)", () => {
	let h: Harness;
	let page: Page;
	let problems: PageProblems;
	const minute = Math.floor(Date.now() / 60_000) * 60_000;
	const start = minute - 90 * 60_000;
	const btc = makeTrades(400, start, 85 * 60_000, 3, 1);
	const eth = makeTrades(150, start, 85 * 60_000, 11, 100_000);
	// half a day earlier: beyond the first page of 500 1m candles and the empty page after it
	const btcOld = makeTrades(40, start - 12 * 3_600_000, 30 * 60_000, 5, 50_000);
	const live: TradeItem[] = [];

	const pageCandles = () => page.evaluate(() => (globalThis as any).chartApp.candles() as Candle[]);
	const pageState = () => page.evaluate(() => (globalThis as any).chartApp.state as { venue: string; symbol: string; timeframe: Timeframe; price: string; liveConnected: boolean; liveCandles: number; generation: number });
	const reference = (trades: TradeItem[], tf: Timeframe) => [...referenceCandles(trades, tf).values()].map(normalizeCandle);
	/** Until the page shows exactly the reference candles of a timeframe. */
	async function expectCandles(trades: TradeItem[], tf: Timeframe, what: string) {
		const want = reference(trades, tf);
		await waitFor(async () => JSON.stringify((await pageCandles()).map(normalizeCandle)) === JSON.stringify(want), { timeoutMs: 30_000, what });
		// and what lightweight-charts holds: one bar per candle, at the bucket start, with the same close
		const bars = await page.evaluate(() => (globalThis as any).chartApp.bars() as { time: number; close: number }[]);
		expect(bars.map((b) => [b.time * 1000, b.close])).toEqual(want.map((c) => [Date.parse(c.time), Number(c.close)]));
	}

	beforeAll(async () => {
		h = await startHarness("chart");
		await h.replay([...btcOld.map(line("BTC-USD-SPOT")), ...btc.map(line("BTC-USD-SPOT")), ...eth.map(line("ETH-USD-SPOT"))]);
		// replayed ticks are stored and cascaded before the page opens
		await waitFor(async () => {
			const f = await getJson(`${h.base}/api/freshness`);
			return f.status === 200 && f.body.filter((r: any) => r.timeframe === "1w").length === 2;
		}, { timeoutMs: 60_000, what: "both markets' candles up to 1w" });
		page = await h.browser.newPage({ viewport: { width: 1280, height: 800 } });
		problems = watchProblems(page);
	}, 180_000);

	afterAll(async () => {
		await h?.close();
	});

	it("loads with the replayed candles, moves the last candle live, switches timeframe and market, and shades gaps", async () => {
		await page.goto(`${h.base}/?venue=kraken&symbol=BTC-USD-SPOT&timeframe=1m`);
		await page.waitForFunction(() => (globalThis as any).chartApp?.ready && (globalThis as any).chartApp.state.liveConnected, undefined, { timeout: 30_000 });
		expect(await pageState()).toMatchObject({ venue: "kraken", symbol: "BTC-USD-SPOT", timeframe: "1m", price: "trade" });
		// the latest page: every replayed candle of the last hours (the chart may already be fetching older ones)
		const recent = reference(btc, "1m");
		await waitFor(async () => JSON.stringify((await pageCandles()).map(normalizeCandle).filter((c) => Date.parse(c.time) >= start)) === JSON.stringify(recent), { timeoutMs: 30_000, what: "the replayed 1m candles" });
		// scrolling back to the left edge loads older history, across an empty page
		await page.evaluate(() => (globalThis as any).chartApp.chart.timeScale().scrollToPosition(-2000, false));
		await expectCandles([...btcOld, ...btc], "1m", "older 1m candles after scrolling back");
		// the freshness badge: last tick age and cascade lag of this market
		await page.waitForFunction(() => /^last tick \d+[smhd] ago · cascade lag \d+[smhd]/.test((globalThis as any).document.getElementById("freshness").textContent));

		// a new trade now: the open candle moves through the SSE stream, without a reload
		const before = await pageState();
		const t: TradeItem = { tradeId: "900000", side: "buy", price: "77777.7", qty: "0.25", time: new Date().toISOString(), recvTime: new Date().toISOString() };
		live.push(t);
		await h.replay([line("BTC-USD-SPOT")(t)]);
		await page.waitForFunction(() => {
			const c = (globalThis as any).chartApp.candles();
			return c.length && c[c.length - 1].close === "77777.7";
		}, undefined, { timeout: 15_000 });
		const after = await pageState();
		expect(after.generation).toBe(before.generation); // same page state: it came live, not from a reload
		expect(after.liveCandles).toBeGreaterThan(before.liveCandles);
		await expectCandles([...btcOld, ...btc, ...live], "1m", "1m candles with the live trade");

		// timeframe buttons, by mouse and by keyboard
		await page.click('button[data-timeframe="1h"]');
		await page.waitForFunction(() => (globalThis as any).chartApp.state.timeframe === "1h");
		await expectCandles([...btcOld, ...btc, ...live], "1h", "the 1h candles");
		await page.focus('button[data-timeframe="1d"]');
		await page.keyboard.press("Enter");
		await page.waitForFunction(() => (globalThis as any).chartApp.state.timeframe === "1d");
		await expectCandles([...btcOld, ...btc, ...live], "1d", "the 1d candles");
		expect(await page.getAttribute('button[data-timeframe="1d"]', "aria-pressed")).toBe("true");

		// another market, with one open and one repaired gap in its ledger
		const gapFrom = new Date(start + 20 * 60_000).toISOString();
		const gapTo = new Date(start + 30 * 60_000).toISOString();
		const repairedFrom = new Date(start + 50 * 60_000).toISOString();
		const repairedTo = new Date(start + 55 * 60_000).toISOString();
		await h.db.pool.query(
			`INSERT INTO feed_gaps (venue, symbol, channel, from_time, to_time, cause, repaired_at, repaired_by) VALUES
			 ('kraken', 'ETH-USD-SPOT', 'trade', $1, $2, 'disconnect', NULL, NULL),
			 ('kraken', 'ETH-USD-SPOT', 'trade', $3, $4, 'disconnect', now(), 'kraken-rest')`,
			[gapFrom, gapTo, repairedFrom, repairedTo],
		);
		await page.click('button[data-timeframe="5m"]');
		await page.selectOption("#market", "kraken/ETH-USD-SPOT");
		await page.waitForFunction(() => (globalThis as any).chartApp.state.symbol === "ETH-USD-SPOT" && (globalThis as any).chartApp.state.timeframe === "5m");
		await expectCandles(eth, "5m", "the ETH 5m candles");
		await page.waitForFunction(() => (globalThis as any).chartApp.gaps().length === 2, undefined, { timeout: 10_000 });
		const gapBars = await page.evaluate(() => (globalThis as any).chartApp.gapBars() as { time: number; color: string }[]);
		const openBars = gapBars.filter((b) => b.color.startsWith("rgba(248,113,113"));
		const repairedBars = gapBars.filter((b) => b.color.startsWith("rgba(74,222,128"));
		// every 5m bucket a gap touches, from the one holding its start to the last one starting before its end
		const columns = (from: string, to: string) => {
			const out: number[] = [];
			for (let b = Math.floor(Date.parse(from) / 300_000) * 300_000; b < Date.parse(to); b += 300_000) out.push(b);
			return out;
		};
		expect(openBars.map((b) => b.time * 1000)).toEqual(columns(gapFrom, gapTo));
		expect(repairedBars.map((b) => b.time * 1000)).toEqual(columns(repairedFrom, repairedTo));
		expect(await page.locator("#gaps li.open").count()).toBe(1);
		expect(await page.locator("#gaps li.repaired").count()).toBe(1);

		mkdirSync(RESULTS, { recursive: true });
		await page.screenshot({ path: path.join(RESULTS, "chart.png") });
	}, 180_000);

	it("resumes the live stream after the server restarts, without a page reload", async () => {
		await page.selectOption("#market", "kraken/BTC-USD-SPOT");
		await page.waitForFunction(() => (globalThis as any).chartApp.state.symbol === "BTC-USD-SPOT" && (globalThis as any).chartApp.state.liveConnected, undefined, { timeout: 15_000 });
		const before = await pageState();
		const quietFrom = problems.consoleErrors.length;
		const quietFromResponses = problems.failedResponses.length;
		await h.restart();
		const t: TradeItem = { tradeId: "900001", side: "sell", price: "66666.6", qty: "1", time: new Date().toISOString(), recvTime: new Date().toISOString() };
		await h.replay([line("BTC-USD-SPOT")(t)]);
		await page.waitForFunction(() => {
			const c = (globalThis as any).chartApp.candles();
			return c.length && c[c.length - 1].close === "66666.6";
		}, undefined, { timeout: 30_000 });
		expect((await pageState()).generation).toBe(before.generation);
		// While the server was down the page's requests were refused (the browser logs each), and while it stopped
		// and started its routes answered 503 (new live streams refused once stopping, services not yet up):
		// expected here only.
		const during = problems.consoleErrors.splice(quietFrom);
		const duringResponses = problems.failedResponses.splice(quietFromResponses);
		expect(during.filter((e) => !/net::ERR_(CONNECTION_REFUSED|EMPTY_RESPONSE|CONNECTION_RESET)|status of 503/.test(e.text))).toEqual([]);
		expect(duringResponses.filter((r) => r.status !== 503)).toEqual([]);
	}, 240_000); // a restart on a loaded machine

	it("fits a phone-sized screen", async () => {
		await page.setViewportSize({ width: 390, height: 844 });
		await page.waitForFunction(() => (globalThis as any).document.documentElement.scrollWidth <= 390);
		const box = await page.locator("#chart").boundingBox();
		expect(box!.width).toBeGreaterThan(300);
		expect(box!.height).toBeGreaterThan(300);
		for (const tf of ["1m", "1w"]) expect(await page.locator(`button[data-timeframe="${tf}"]`).isVisible()).toBe(true);
		await page.screenshot({ path: path.join(RESULTS, "chart-phone.png") });
	});

	it("logged no console error and no failed request except routes this server does not have yet", async () => {
		expect(problems.pageErrors).toEqual([]);
		const tolerated: string[] = [];
		for (const route of ROUTES_OF_SERVICES_NOT_RUN) if (NOT_RUNNING.includes((await getJson(`${h.base}${route}`)).status)) tolerated.push(route);
		const isTolerated = (url: string, status: number) => NOT_RUNNING.includes(status) && tolerated.includes(new URL(url).pathname);
		expect(problems.failedResponses.filter((r) => !isTolerated(r.url, r.status))).toEqual([]);
		// the browser reports each of those 404s as a console error "Failed to load resource"; nothing else
		expect(problems.consoleErrors.filter((e) => !(/status of (404|503)/.test(e.text) && isTolerated(e.url, Number(/status of (\d+)/.exec(e.text)![1]))))).toEqual([]);
	});
});
