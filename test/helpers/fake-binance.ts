import type http from "node:http";
import { readFileSync } from "node:fs";
import path from "node:path";
import { RecordingHttpFake, type RecordedRequest } from "./http-server";
import { intervalGrid, isKlineInterval, type BinanceKlineRow } from "../../lib/history/binance-klines";

const FIXTURES = path.resolve(__dirname, "../../../shared/fixtures/binance/spot");
/** The real /api/v3/klines rows (BTCUSDT 1m, 2021-10-22): every generated kline copies one of them, strings untouched. */
export const REAL_KLINES: BinanceKlineRow[] = JSON.parse(readFileSync(path.join(FIXTURES, "nautilus_http_spot_market_klines.json"), "utf8"));
/** The real /api/v3/depth answer (BTCUSDT, limit 10): every depth answer serves its levels, with lastUpdateId counting up from it. */
export const REAL_DEPTH: { lastUpdateId: number; bids: [string, string][]; asks: [string, string][] } = JSON.parse(readFileSync(path.join(FIXTURES, "nautilus_http_spot_market_depth.json"), "utf8"));
const EXCHANGE_INFO = JSON.parse(readFileSync(path.join(FIXTURES, "nautilus_http_spot_market_exchange_info.json"), "utf8"));

export type FakeRequest = RecordedRequest;

/**
 * A local Binance spot REST server: /api/v3/klines with Binance's startTime/endTime/limit semantics (open time
 * >= startTime and <= endTime, ascending, at most `limit` (default 500, max 1000); only endTime: the latest
 * `limit` up to it; the current kline is included while still open, as Binance does) and /api/v3/exchangeInfo,
 * for the symbols of the real exchangeInfo fixture. Errors use Binance's bodies ({"code": -1121, ...}).
 * Kline values come from the real fixture rows: the row for open time t is REAL_KLINES[(t / interval) mod 10]
 * with its times replaced, so tests can compute what must be stored.
 */
export class FakeBinance extends RecordingHttpFake {
	/** Open times (ms) the venue has no kline for (downtime). */
	readonly holes = new Set<number>();
	/** The venue's clock; klines open after it do not exist yet. */
	now: () => number = Date.now;
	/** No klines before this (listing time). */
	listedFrom = 0;
	private forced: Array<{ status: number; retryAfter?: string }> = [];

	/**
	 * After `after` more klines requests answered normally, the next `count` are answered with `status` (429 or
	 * 418) and Retry-After seconds.
	 */
	failNext(status: 429 | 418, retryAfterSeconds: number | null, count = 1, after = 0): void {
		this.okBeforeFailing = after;
		for (let i = 0; i < count; i++) this.forced.push({ status, retryAfter: retryAfterSeconds === null ? undefined : String(retryAfterSeconds) });
	}
	private okBeforeFailing = 0;

	/**
	 * When set, the JSON text of each klines answer is kept by what decides it (symbol, interval, limit, the
	 * time bounds, the venue clock's open kline) and sent again as is: for benches, where generating the venue's
	 * JSON would compete with the ingest being measured for the machine's cores. Off for tests (holes and the
	 * listing time may change between requests).
	 */
	answerCache: Map<string, string> | null = null;

	/** X-MBX-USED-WEIGHT-1M sent with every answer (a venue's count for the whole IP); null: the fake counts its own. */
	usedWeight: number | null = null;
	private weightMinute = 0;
	private weightUsed = 0;
	/** Transaction time (ms) of USD-M depth answers; Date.now() when unset. */
	usdmTime: (() => number) | null = null;

	klineRequests(): FakeRequest[] {
		return this.requests.filter((r) => r.path === "/api/v3/klines");
	}

	depthRequests(path: "/api/v3/depth" | "/fapi/v1/depth" = "/api/v3/depth"): FakeRequest[] {
		return this.requests.filter((r) => r.path === path);
	}

	/** The kline this venue serves for `openTime`, as Binance's wire row. */
	static row(openTime: number, interval: string): BinanceKlineRow {
		const g = intervalGrid(interval);
		const src = REAL_KLINES[Math.floor(openTime / g.ms) % REAL_KLINES.length];
		const r = [...src] as BinanceKlineRow;
		r[0] = openTime;
		r[6] = openTime + g.ms - 1;
		return r;
	}

	/**
	 * /api/v3/depth and /fapi/v1/depth: the recorded levels (10 a side: a venue's thin book, fewer than `limit`),
	 * lastUpdateId counting up per answer from the recorded one, USD-M with `E` and `T`, and the weight used this
	 * minute in X-MBX-USED-WEIGHT-1M; `limit` checked as Binance does (USD-M: 5, 10, 20, 50, 100, 500, 1000 only).
	 */
	private depth(entry: RecordedRequest, send: (status: number, body: unknown, headers?: Record<string, string>) => void): void {
		const usdm = entry.path === "/fapi/v1/depth";
		const limit = entry.query.limit === undefined ? (usdm ? 500 : 100) : Number(entry.query.limit);
		if (!/^[A-Z0-9_]{1,30}$/.test(entry.query.symbol ?? "")) return send(400, { code: -1121, msg: "Invalid symbol." });
		if (usdm ? ![5, 10, 20, 50, 100, 500, 1000].includes(limit) : !(Number.isInteger(limit) && limit >= 1 && limit <= 5000)) return send(400, { code: -1130, msg: "Invalid data sent for a parameter." });
		const weight = usdm ? (limit <= 50 ? 2 : limit <= 100 ? 5 : limit <= 500 ? 10 : 20) : limit <= 100 ? 5 : limit <= 500 ? 25 : limit <= 1000 ? 50 : 250;
		const minute = Math.floor(Date.now() / 60_000);
		if (minute !== this.weightMinute) (this.weightMinute = minute), (this.weightUsed = 0);
		this.weightUsed += weight;
		const levels = (side: [string, string][]) => side.slice(0, limit);
		const body: Record<string, unknown> = { lastUpdateId: REAL_DEPTH.lastUpdateId + this.depthAnswers++, bids: levels(REAL_DEPTH.bids), asks: levels(REAL_DEPTH.asks) };
		if (usdm) {
			const t = this.usdmTime?.() ?? Date.now();
			Object.assign(body, { E: t + 3, T: t });
		}
		send(200, body, { "x-mbx-used-weight-1m": String(this.usedWeight ?? this.weightUsed) });
	}
	private depthAnswers = 0;

	protected handle(entry: RecordedRequest, res: http.ServerResponse): void {
		const { query } = entry;
		const u = { pathname: entry.path };
		const sendText = (status: number, text: string, headers: Record<string, string> = {}) => {
			entry.status = status;
			res.writeHead(status, { "content-type": "application/json", ...headers });
			res.end(text);
		};
		const send = (status: number, body: unknown, headers: Record<string, string> = {}) => sendText(status, JSON.stringify(body), headers);
		if (u.pathname === "/api/v3/exchangeInfo") {
			const s = EXCHANGE_INFO.symbols.filter((x: { symbol: string }) => !query.symbol || x.symbol === query.symbol);
			if (!s.length) return send(400, { code: -1121, msg: "Invalid symbol." });
			return send(200, { ...EXCHANGE_INFO, symbols: s });
		}
		const isDepth = u.pathname === "/api/v3/depth" || u.pathname === "/fapi/v1/depth";
		if (u.pathname !== "/api/v3/klines" && !isDepth) return send(404, { code: -1, msg: "not found" });
		const forced = this.okBeforeFailing > 0 ? (this.okBeforeFailing--, undefined) : this.forced.shift();
		if (forced) {
			const msg = forced.status === 418 ? "Way too many requests; IP banned until later." : "Too many requests; please use the websocket for live updates.";
			return send(forced.status, { code: -1003, msg }, forced.retryAfter ? { "retry-after": forced.retryAfter } : {});
		}
		if (isDepth) return this.depth(entry, send);
		if (!EXCHANGE_INFO.symbols.some((x: { symbol: string }) => x.symbol === query.symbol)) return send(400, { code: -1121, msg: "Invalid symbol." });
		if (!isKlineInterval(query.interval)) return send(400, { code: -1120, msg: "Invalid interval." });
		const int = (name: string) => (query[name] === undefined ? undefined : /^\d+$/.test(query[name]) ? Number(query[name]) : NaN);
		const limit = int("limit") ?? 500;
		const startTime = int("startTime");
		const endTime = int("endTime");
		if (!Number.isFinite(limit) || limit < 1 || limit > 1000) return send(400, { code: -1130, msg: "Invalid data sent for a parameter." });
		if (Number.isNaN(startTime) || Number.isNaN(endTime)) return send(400, { code: -1100, msg: "Illegal characters found in a parameter." });
		const g = intervalGrid(query.interval);
		const lastOpen = g.ceil(this.now() + 1) - g.ms; // the kline open right now
		const hi = Math.min(lastOpen, endTime ?? Infinity);
		const cache = this.holes.size === 0 ? this.answerCache : null;
		const cacheKey = cache ? `${query.symbol}|${query.interval}|${limit}|${startTime}|${hi}|${this.listedFrom}` : "";
		const cached = cache?.get(cacheKey);
		if (cached !== undefined) return sendText(200, cached);
		const rows: BinanceKlineRow[] = [];
		if (startTime !== undefined) {
			for (let t = Math.max(g.ceil(startTime), g.ceil(this.listedFrom)); t <= hi && rows.length < limit; t += g.ms) if (!this.holes.has(t)) rows.push(FakeBinance.row(t, query.interval));
		} else {
			for (let t = g.ceil(hi - g.ms + 1); t >= this.listedFrom && rows.length < limit; t -= g.ms) if (!this.holes.has(t)) rows.unshift(FakeBinance.row(t, query.interval));
		}
		const text = JSON.stringify(rows);
		cache?.set(cacheKey, text);
		sendText(200, text);
	}
}
