// The chart page: candles and volume from /api/candles, live from /api/stream/candles (SSE), gaps from
// /api/gaps, freshness from /api/freshness, feeds from /api/feeds, symbols from /api/symbols.
// No framework and no build step; lightweight-charts is the global LightweightCharts (served from /vendor).
const LC = window.LightweightCharts;
const TIMEFRAMES = ["1m", "5m", "15m", "1h", "4h", "12h", "1d", "1w"];
const TF_MS = { "1m": 6e4, "5m": 3e5, "15m": 9e5, "1h": 36e5, "4h": 144e5, "12h": 432e5, "1d": 864e5, "1w": 6048e5 };
const PRICES = ["trade", "bid", "ask", "mid"];
const PAGE = 500; // candles per history request
const $ = (id) => document.getElementById(id);

const state = {
	venue: null,
	symbol: null,
	timeframe: "1m",
	price: "trade",
	token: localStorage.getItem("mdp.token") || "",
	bars: new Map(), // time (s) -> candle as the API returned it (decimal strings)
	gaps: [],
	loadingOlder: false,
	noOlder: false,
	olderCursor: null, // ms: history before this has not been asked for yet
	generation: 0, // bumps on every market/timeframe/price switch; stale responses are ignored
	live: { connected: false, candles: 0, abort: null },
};

// ---- HTTP -------------------------------------------------------------------------------------------------
function headers(extra = {}) {
	return state.token ? { ...extra, Authorization: `Bearer ${state.token}` } : extra;
}
async function api(path, opts = {}) {
	const res = await fetch(path, { ...opts, headers: headers(opts.headers) });
	const text = await res.text();
	let body = null;
	try { body = text ? JSON.parse(text) : null; } catch { body = text; }
	return { status: res.status, ok: res.ok, body };
}
const qs = (o) => new URLSearchParams(Object.entries(o).filter(([, v]) => v !== undefined && v !== null)).toString();

// ---- chart ------------------------------------------------------------------------------------------------
const chart = LC.createChart($("chart"), {
	autoSize: true,
	layout: { background: { color: "#0f1217" }, textColor: "#d6dae0" },
	grid: { vertLines: { color: "#1a2029" }, horzLines: { color: "#1a2029" } },
	timeScale: { timeVisible: true, secondsVisible: false, rightOffset: 4 },
	rightPriceScale: { scaleMargins: { top: 0.08, bottom: 0.25 } },
});
const gapSeries = chart.addSeries(LC.HistogramSeries, { priceScaleId: "gaps", priceLineVisible: false, lastValueVisible: false, base: 0 });
chart.priceScale("gaps").applyOptions({ scaleMargins: { top: 0, bottom: 0 }, visible: false });
const candleSeries = chart.addSeries(LC.CandlestickSeries, { upColor: "#22c55e", downColor: "#ef4444", wickUpColor: "#22c55e", wickDownColor: "#ef4444", borderVisible: false });
const volumeSeries = chart.addSeries(LC.HistogramSeries, { priceScaleId: "volume", priceFormat: { type: "volume" }, priceLineVisible: false, lastValueVisible: false });
chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });

const toSec = (iso) => Math.floor(Date.parse(iso) / 1000);
function bar(c) {
	return { time: toSec(c.time), open: Number(c.open), high: Number(c.high), low: Number(c.low), close: Number(c.close) };
}
function volumeBar(c) {
	return { time: toSec(c.time), value: Number(c.volume), color: Number(c.close) >= Number(c.open) ? "rgba(34,197,94,0.45)" : "rgba(239,68,68,0.45)" };
}
function redraw() {
	const all = [...state.bars.values()].sort((a, b) => toSec(a.time) - toSec(b.time));
	candleSeries.setData(all.map(bar));
	volumeSeries.setData(all.map(volumeBar));
	drawGaps();
	$("chart-note").textContent = all.length ? "" : "No candles in this range yet.";
}
/** One candle from the live stream: the last bar moves in place, a new bucket appends, an older one redraws. */
function applyCandle(c) {
	const t = toSec(c.time);
	const times = [...state.bars.keys()];
	const last = times.length ? Math.max(...times) : -Infinity;
	state.bars.set(t, c);
	if (t >= last) {
		candleSeries.update(bar(c));
		volumeSeries.update(volumeBar(c));
	} else redraw();
	showLegend(c);
}
function showLegend(c) {
	if (!c) return ($("legend").textContent = "");
	$("legend").textContent = `${state.venue} ${state.symbol} ${state.timeframe} ${state.price} · O ${c.open} H ${c.high} L ${c.low} C ${c.close} V ${c.volume}`;
}
chart.subscribeCrosshairMove((p) => {
	const c = p && p.time !== undefined ? state.bars.get(p.time) : null;
	showLegend(c || [...state.bars.values()].sort((a, b) => toSec(b.time) - toSec(a.time))[0]);
});

// ---- history ----------------------------------------------------------------------------------------------
async function loadCandles(fromMs, toMs) {
	const r = await api(`/api/candles?${qs({ venue: state.venue, symbol: state.symbol, timeframe: state.timeframe, price: state.price, from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString() })}`);
	if (!r.ok) throw new Error(r.body?.message || `candles: HTTP ${r.status}`);
	return r.body;
}
/** The latest page: up to PAGE buckets back from now, or back from the newest stored candle when the market is quiet. */
async function loadLatest() {
	const gen = state.generation;
	const size = TF_MS[state.timeframe];
	const now = Date.now() + size;
	let candles = await loadCandles(now - PAGE * size, now);
	if (!candles.length) {
		// Nothing recent (replayed or backfilled history): start at the newest candle the freshness view knows.
		const f = await freshnessRow("1m");
		if (f) {
			const end = Date.parse(f.latestBucket) + size;
			candles = await loadCandles(end - PAGE * size, end + size);
		}
	}
	if (gen !== state.generation) return;
	state.bars.clear();
	for (const c of candles) state.bars.set(toSec(c.time), c);
	state.noOlder = false;
	state.olderCursor = candles.length ? Date.parse(candles[0].time) : Date.now();
	redraw();
	chart.timeScale().fitContent();
	showLegend(candles[candles.length - 1]);
}
/** Empty pages in a row after which scrolling back stops asking (a market's history has holes, not an end marker). */
const MAX_EMPTY_PAGES = 10;
/** Scrolled near the left edge: the next page of history before what was asked for so far, skipping empty stretches. */
async function loadOlder() {
	if (state.loadingOlder || state.noOlder || state.olderCursor === null) return;
	state.loadingOlder = true;
	const gen = state.generation;
	try {
		const size = TF_MS[state.timeframe];
		for (let empty = 0; empty < MAX_EMPTY_PAGES; empty++) {
			const to = state.olderCursor;
			const older = await loadCandles(to - PAGE * size, to);
			if (gen !== state.generation) return;
			state.olderCursor = to - PAGE * size;
			if (older.length) {
				for (const c of older) state.bars.set(toSec(c.time), c);
				redraw();
				return;
			}
		}
		state.noOlder = true;
	} catch (err) {
		console.warn("older candles:", err.message);
	} finally {
		state.loadingOlder = false;
	}
}
chart.timeScale().subscribeVisibleLogicalRangeChange((range) => {
	if (range && range.from < 10) void loadOlder(); // loadOlder catches its own errors
});

// ---- gaps -------------------------------------------------------------------------------------------------
async function loadGaps() {
	const gen = state.generation;
	const r = await api(`/api/gaps?${qs({ venue: state.venue, symbol: state.symbol, limit: 200 })}`);
	if (gen !== state.generation || !r.ok) return;
	state.gaps = r.body.items || [];
	drawGaps();
	const ul = $("gaps");
	ul.replaceChildren(
		...(state.gaps.length
			? state.gaps.slice(0, 30).map((g) => li(`${g.from_time ? new Date(g.from_time).toISOString().slice(0, 16) : "?"} → ${g.to_time ? new Date(g.to_time).toISOString().slice(0, 16) : "now"} ${g.channel || ""} ${g.cause || ""}`, g.repaired_at ? "repaired" : "open"))
			: [li("No gaps recorded for this market.")]),
	);
}
/** Gaps as shaded columns on an invisible scale: red while open, green once repaired. */
function drawGaps() {
	const size = TF_MS[state.timeframe];
	const points = new Map();
	for (const g of state.gaps) {
		const from = Math.floor(Date.parse(g.from_time) / size) * size;
		const to = g.to_time ? Date.parse(g.to_time) : Date.now();
		const color = g.repaired_at ? "rgba(74,222,128,0.18)" : "rgba(248,113,113,0.25)";
		for (let t = from, n = 0; t < to && n < 2000; t += size, n++) points.set(t / 1000, { time: t / 1000, value: 1, color });
	}
	gapSeries.setData([...points.values()].sort((a, b) => a.time - b.time));
}

// ---- freshness --------------------------------------------------------------------------------------------
let freshnessRows = [];
async function loadFreshness() {
	const r = await api("/api/freshness");
	if (r.ok) freshnessRows = r.body;
	showFreshness();
	return freshnessRows;
}
async function freshnessRow(tf) {
	if (!freshnessRows.length) await loadFreshness();
	return freshnessRows.find((x) => x.venue === state.venue && x.symbol === state.symbol && x.priceType === state.price && x.timeframe === tf) || null;
}
function age(ms) {
	const s = Math.round(ms / 1000);
	return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : s < 172800 ? `${Math.round(s / 3600)}h` : `${Math.round(s / 86400)}d`;
}
function showFreshness() {
	const el = $("freshness");
	const rows = freshnessRows.filter((x) => x.venue === state.venue && x.symbol === state.symbol && x.priceType === state.price);
	const row = rows.find((x) => x.timeframe === state.timeframe) || rows[0];
	const m1 = rows.find((x) => x.timeframe === "1m");
	if (!row) {
		el.textContent = "no data yet";
		el.className = "badge warn";
		return;
	}
	const tickAge = row.latestTick ? Date.now() - Date.parse(row.latestTick) : null;
	el.textContent = `last tick ${tickAge === null ? "—" : age(tickAge) + " ago"} · cascade lag ${m1 ? age(m1.lagSeconds * 1000) : "—"} (${state.timeframe} ${row.timeframe === state.timeframe ? age(row.lagSeconds * 1000) : "—"})`;
	el.className = `badge ${tickAge !== null && tickAge < 60_000 ? "ok" : tickAge !== null && tickAge < 3_600_000 ? "warn" : "bad"}`;
}

// ---- live (SSE over fetch, so the Authorization header goes along; reconnects with backoff) ---------------
function setLive(text, cls) {
	$("live").textContent = text;
	$("live").className = `badge ${cls}`;
}
async function streamLoop(gen) {
	let backoff = 500;
	while (gen === state.generation) {
		const ctl = new AbortController();
		state.live.abort = ctl;
		try {
			const res = await fetch(`/api/stream/candles?${qs({ venue: state.venue, symbol: state.symbol, timeframe: state.timeframe, price: state.price })}`, { headers: headers({ Accept: "text/event-stream" }), signal: ctl.signal });
			if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
			state.live.connected = true;
			setLive("live", "ok");
			backoff = 500;
			await readEvents(res.body, (event, data) => {
				if (gen !== state.generation) return;
				if (event === "candle") {
					state.live.candles++;
					applyCandle(JSON.parse(data));
				}
			});
		} catch (err) {
			if (ctl.signal.aborted) return;
			console.warn("live stream:", err.message);
		}
		state.live.connected = false;
		if (gen !== state.generation) return;
		setLive("reconnecting…", "warn");
		await new Promise((r) => setTimeout(r, backoff));
		backoff = Math.min(backoff * 2, 10_000);
	}
}
/** Minimal text/event-stream parser: `event:` and `data:` lines, frames separated by a blank line. */
async function readEvents(body, onEvent) {
	const reader = body.pipeThrough(new TextDecoderStream()).getReader();
	let buf = "";
	for (;;) {
		const { value, done } = await reader.read();
		if (done) return;
		buf += value;
		let i;
		while ((i = buf.indexOf("\n\n")) >= 0) {
			const frame = buf.slice(0, i);
			buf = buf.slice(i + 2);
			let event = "message";
			const data = [];
			for (const line of frame.split("\n")) {
				if (line.startsWith("event:")) event = line.slice(6).trim();
				else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
			}
			if (data.length) onEvent(event, data.join("\n"));
		}
	}
}

// ---- markets, timeframe and price controls -----------------------------------------------------------------
function li(text, cls) {
	const el = document.createElement("li");
	el.textContent = text;
	if (cls) el.className = cls;
	return el;
}
function button(label, onClick, attrs = {}) {
	const b = document.createElement("button");
	b.type = "button";
	b.textContent = label;
	for (const [k, v] of Object.entries(attrs)) b.setAttribute(k, v);
	b.addEventListener("click", onClick);
	return b;
}
function renderToggles() {
	$("timeframes").replaceChildren(...TIMEFRAMES.map((tf) => button(tf, () => select({ timeframe: tf }), { "aria-pressed": String(tf === state.timeframe), "data-timeframe": tf })));
	$("prices").replaceChildren(...PRICES.map((p) => button(p, () => select({ price: p }), { "aria-pressed": String(p === state.price), "data-price": p })));
}
/** Markets from the catalog's active symbols; without a catalog, the markets that have candles. */
async function loadMarkets() {
	const seen = new Map();
	const cat = await api("/api/symbols?active=true&limit=500");
	if (cat.ok && Array.isArray(cat.body?.items)) for (const s of cat.body.items) seen.set(`${s.venue}/${s.symbol}`, { venue: s.venue, symbol: s.symbol, quotes: s.assetClass === "fx" });
	for (const f of await loadFreshness()) {
		const k = `${f.venue}/${f.symbol}`;
		if (!seen.has(k)) seen.set(k, { venue: f.venue, symbol: f.symbol, quotes: f.priceType !== "trade" });
	}
	const markets = [...seen.values()].sort((a, b) => (a.venue + a.symbol).localeCompare(b.venue + b.symbol));
	const sel = $("market");
	const current = state.venue ? `${state.venue}/${state.symbol}` : null;
	sel.replaceChildren(
		...markets.map((m) => {
			const o = document.createElement("option");
			o.value = `${m.venue}/${m.symbol}`;
			o.textContent = `${m.symbol} · ${m.venue}`;
			o.dataset.quotes = String(m.quotes);
			return o;
		}),
	);
	if (current && seen.has(current)) sel.value = current;
	return markets;
}
$("market").addEventListener("change", () => {
	const opt = $("market").selectedOptions[0];
	const [venue, ...rest] = opt.value.split("/");
	// FX markets have quotes, not trades: default to bid as FX charts do.
	const price = opt.dataset.quotes === "true" && state.price === "trade" ? "bid" : opt.dataset.quotes !== "true" ? "trade" : state.price;
	void select({ venue, symbol: rest.join("/"), price });
});

async function select(change) {
	Object.assign(state, change);
	state.generation++;
	state.live.abort?.abort();
	state.bars.clear();
	state.gaps = [];
	state.olderCursor = null;
	renderToggles();
	if (!state.venue) {
		redraw();
		$("chart-note").textContent = "No markets with data yet: add a symbol or replay some ticks.";
		return;
	}
	const url = new URL(location.href);
	url.search = qs({ venue: state.venue, symbol: state.symbol, timeframe: state.timeframe, price: state.price });
	history.replaceState(null, "", url);
	const gen = state.generation;
	try {
		await loadLatest();
	} catch (err) {
		if (gen === state.generation) $("chart-note").textContent = err.message;
	}
	if (gen !== state.generation) return;
	showFreshness();
	void quietly("gaps", loadGaps)();
	void streamLoop(gen);
}

// ---- feeds and symbols panels -----------------------------------------------------------------------------
let feeds = [];
async function loadFeeds() {
	const r = await api("/api/feeds");
	const ul = $("feeds");
	if (r.status === 404) return ul.replaceChildren(li("This server does not report feed status (GET /api/feeds)."));
	if (!r.ok) return ul.replaceChildren(li(`feeds: HTTP ${r.status}`, "open"));
	feeds = r.body.items || [];
	ul.replaceChildren(
		...(feeds.length
			? feeds.map((f) => li(`${f.venue}/${f.feed}: ${f.state}${f.lastMessageAgeMs !== null && f.lastMessageAgeMs !== undefined ? ` · ${age(f.lastMessageAgeMs)} ago` : ""} · ${f.symbols?.length ?? 0} symbols · ${Number(f.messagesPerSec || 0).toFixed(1)}/s${f.error ? ` · ${f.error}` : ""}`, f.connected ? "repaired" : "open"))
			: [li("No feed is running.")]),
	);
	await showProgress();
}
async function showProgress() {
	const jobs = await api("/api/backfill?limit=20");
	const items = [];
	for (const f of feeds) for (const s of f.symbols || []) items.push(li(`${s}: streaming on ${f.venue}/${f.feed} (${f.state})`));
	if (jobs.ok) for (const j of jobs.body.items || []) if (j.state === "queued" || j.state === "running") items.push(li(`${j.symbol}: backfill ${j.state} ${j.progress.hoursDone}/${j.progress.hoursTotal} h${j.progress.etaSeconds ? `, ~${age(j.progress.etaSeconds * 1000)} left` : ""}`));
	$("symbol-progress").replaceChildren(...items);
}
async function loadActiveSymbols() {
	const r = await api("/api/symbols?active=true&limit=500");
	const ul = $("symbol-active");
	if (r.status === 404 || r.status === 503) {
		$("symbol-note").textContent = "No symbol catalog on this server (GET /api/symbols).";
		return ul.replaceChildren();
	}
	if (!r.ok) return ul.replaceChildren(li(`symbols: HTTP ${r.status}`, "open"));
	ul.replaceChildren(
		...(r.body.items || []).map((s) => {
			const row = li(`${s.symbol} · ${s.venue}`);
			row.append(button("Remove", () => removeSymbol(s.venue, s.symbol), { "aria-label": `Remove ${s.symbol} on ${s.venue}` }));
			return row;
		}),
	);
}
$("symbol-search").addEventListener("submit", async (e) => {
	e.preventDefault();
	const q = $("symbol-q").value.trim();
	const r = await api(`/api/symbols?${qs({ q, limit: 30 })}`);
	const ul = $("symbol-results");
	if (r.status === 404 || r.status === 503) return ($("symbol-note").textContent = "No symbol catalog on this server (GET /api/symbols).");
	if (!r.ok) return ($("symbol-note").textContent = r.body?.message || `HTTP ${r.status}`);
	const items = r.body.items || [];
	ul.replaceChildren(
		...(items.length
			? items.map((s) => {
					const row = li(`${s.symbol} · ${s.venue}${s.type ? ` · ${s.type}` : ""}${s.active ? " · active" : ""}`);
					if (!s.active) row.append(button("Add", () => addSymbol(s.venue, s.symbol), { "aria-label": `Add ${s.symbol} on ${s.venue}` }));
					return row;
				})
			: [li("Nothing matches.")]),
	);
});
async function addSymbol(venue, symbol) {
	const r = await api("/api/symbols", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ venue, symbol }) });
	$("symbol-note").textContent = r.ok ? `Added ${symbol} on ${venue}: streaming and backfill start.` : r.status === 401 || r.status === 403 ? "Not allowed: enter the API token." : r.body?.message || `HTTP ${r.status}`;
	if (r.ok) await Promise.all([loadActiveSymbols(), loadMarkets(), loadFeeds()]);
}
async function removeSymbol(venue, symbol) {
	const r = await api(`/api/symbols/${encodeURIComponent(venue)}/${encodeURIComponent(symbol)}`, { method: "DELETE" });
	$("symbol-note").textContent = r.ok ? `Removed ${symbol} on ${venue}.` : r.status === 401 || r.status === 403 ? "Not allowed: enter the API token." : r.body?.message || `HTTP ${r.status}`;
	if (r.ok) await Promise.all([loadActiveSymbols(), loadFeeds()]);
}
$("token").value = state.token;
$("token-form").addEventListener("submit", (e) => {
	e.preventDefault();
	state.token = $("token").value.trim();
	if (state.token) localStorage.setItem("mdp.token", state.token);
	else localStorage.removeItem("mdp.token");
	void quietly("start", start)();
});

// ---- what a test (or a curious user in the console) can read back ------------------------------------------
window.chartApp = {
	chart,
	candleSeries,
	volumeSeries,
	gapSeries,
	get state() {
		return { venue: state.venue, symbol: state.symbol, timeframe: state.timeframe, price: state.price, liveConnected: state.live.connected, liveCandles: state.live.candles, generation: state.generation };
	},
	/** The candles drawn, as the chart holds them. */
	bars: () => candleSeries.data().map((b) => ({ ...b })),
	/** The candles as the API sent them (exact decimal strings), oldest first. */
	candles: () => [...state.bars.values()].sort((a, b) => toSec(a.time) - toSec(b.time)),
	gaps: () => state.gaps.map((g) => ({ ...g })),
	gapBars: () => gapSeries.data().map((b) => ({ ...b })),
	select: (change) => select(change),
	loadOlder,
	ready: false,
};

async function start() {
	renderToggles();
	const markets = await loadMarkets();
	const p = new URLSearchParams(location.search);
	const wanted = p.get("venue") && p.get("symbol") ? markets.find((m) => m.venue === p.get("venue") && m.symbol === p.get("symbol")) : null;
	const m = wanted || markets[0] || null;
	await select({
		venue: m?.venue ?? null,
		symbol: m?.symbol ?? null,
		timeframe: TIMEFRAMES.includes(p.get("timeframe")) ? p.get("timeframe") : state.timeframe,
		price: PRICES.includes(p.get("price")) ? p.get("price") : m?.quotes ? "bid" : "trade",
	});
	if (m) $("market").value = `${m.venue}/${m.symbol}`;
	window.chartApp.ready = true;
	void quietly("feeds", loadFeeds)();
	void quietly("symbols", loadActiveSymbols)();
}
/** Background refreshes: a server that is briefly away (restart, network) is not an error of the page. */
function quietly(what, fn) {
	return () =>
		fn().catch((err) => {
			console.warn(`${what}: ${err.message}`);
		});
}
setInterval(quietly("freshness", loadFreshness), 5000);
setInterval(quietly("feeds", loadFeeds), 10_000);
setInterval(quietly("gaps", () => (state.venue ? loadGaps() : Promise.resolve())), 15_000);
quietly("start", start)();
