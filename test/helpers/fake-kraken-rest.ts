import type http from "node:http";
import { readFileSync } from "node:fs";
import path from "node:path";
import { RecordingHttpFake, type RecordedRequest } from "./http-server";

const FIXTURES = path.resolve(__dirname, "../../../shared/fixtures/kraken/rest");

/** The real AssetPairs response captured by cryptofeed (line 1 is "<url> -> <ts>: <json>"). */
function realAssetPairs(): { error: string[]; result: Record<string, { altname: string; wsname?: string }> } {
	const line = readFileSync(path.join(FIXTURES, "cryptofeed_KRAKEN.0"), "utf8").split("\n")[0];
	return JSON.parse(line.slice(line.indexOf(": ") + 2));
}

/** One row of /0/public/Trades as Kraken sends it: [price, volume, time, side, ordertype, misc, trade_id], time in seconds with µs. */
export interface KrakenTradeRow {
	price: string;
	volume: string;
	timeUs: bigint; // µs since the epoch (rendered as seconds with 6 decimals, a JSON number like Kraken's)
	side: "b" | "s";
	ordertype: "m" | "l";
	tradeId: number;
}

export type FakeKrakenRequest = RecordedRequest;

/** The real /0/public/Depth answer (XBTUSDT, 5 levels a side), served for any pair under that pair's key. */
const REAL_DEPTH_BOOK = JSON.parse(readFileSync(path.join(FIXTURES, "nautilus_http_order_book.json"), "utf8")).result.XBTUSDT as { bids: unknown[]; asks: unknown[] };

/**
 * Deterministic trades: `n` of them from `startMs`, `stepMs` apart plus a µs offset, prices at Kraken's XBT/USD
 * precision (1 dp) walking around 42000, sizes with 8 decimals. `seed` shifts the walk.
 */
export function krakenTrades(n: number, startMs: number, stepMs: number, firstId = 1, seed = 7): KrakenTradeRow[] {
	let tenths = 420_000; // 42000.0
	return Array.from({ length: n }, (_, i) => {
		const h = ((i + 1) * 2_654_435_761 + seed * 40_503) >>> 0; // Knuth's multiplicative hash: spread, repeatable
		tenths += (h % 21) - 10;
		const vol = (h % 99_999_999) + 1;
		return {
			price: `${Math.floor(tenths / 10)}.${tenths % 10}`,
			volume: `${Math.floor(vol / 1e8)}.${String(vol % 1e8).padStart(8, "0")}`,
			timeUs: BigInt(startMs + i * stepMs) * 1000n + BigInt(i % 997),
			side: (h >>> 8) % 2 === 0 ? "b" : "s",
			ordertype: (h >>> 9) % 5 === 0 ? "l" : "m",
			tradeId: firstId + i,
		};
	});
}

/** The row's time as REST seconds with `decimals` (1..6) digits, cut like Kraken's ("1688669597.8277" for …827712 µs). */
export function restSeconds(timeUs: bigint, decimals = 6): string {
	const s = timeUs / 1_000_000n;
	return `${s}.${String(timeUs % 1_000_000n).padStart(6, "0").slice(0, decimals)}`;
}

/** The row's time as the WebSocket v2 sends it: ISO with µs ("2023-07-06T18:53:17.827712Z"). */
export function wsTime(timeUs: bigint): string {
	return `${new Date(Number(timeUs / 1000n)).toISOString().slice(0, 19)}.${String(timeUs % 1_000_000n).padStart(6, "0")}Z`;
}

/** Store rows in `trades` as the live stream would have: under the WebSocket's µs time. */
export async function storeAsFromSocket(db: { query(text: string, values?: unknown[]): Promise<unknown> }, symbol: string, rows: readonly KrakenTradeRow[]): Promise<void> {
	await db.query(
		`INSERT INTO trades (venue, symbol, time, trade_id, price, qty, side, recv_time)
		 SELECT 'kraken', $1, t, i, pr, q, s, t FROM unnest($2::timestamptz[], $3::bigint[], $4::numeric[], $5::numeric[], $6::char[]) AS x(t, i, pr, q, s)`,
		[symbol, rows.map((t) => wsTime(t.timeUs)), rows.map((t) => t.tradeId), rows.map((t) => t.price), rows.map((t) => t.volume), rows.map((t) => t.side)],
	);
}

function rowJson(t: KrakenTradeRow, decimals: number): string {
	return `["${t.price}","${t.volume}",${restSeconds(t.timeUs, decimals)},"${t.side}","${t.ordertype}","",${t.tradeId}]`;
}

/**
 * A local Kraken public REST server: /0/public/AssetPairs (the real captured response) and /0/public/Trades with
 * the `since` cursor (ns; trades strictly after it, oldest first, at most `count` (default and max 1000), `last` =
 * the ns time of the last trade returned, or `since` itself when there is none). Errors come the Kraken way:
 * HTTP 200 with {"error": ["EQuery:Unknown asset pair"]}. Times go out with µs unless `timeDecimals` says fewer:
 * the real endpoint sends about 4 (1688669597.8277) where the WebSocket v2 gives µs (…17.827712Z).
 */
export class FakeKrakenRest extends RecordingHttpFake {
	private readonly pairs = realAssetPairs();
	private readonly trades = new Map<string, KrakenTradeRow[]>(); // by result key (XXBTZUSD)
	/** How /0/public/AssetPairs fails, for catalog tests: an HTTP 500, or a 200 that is not JSON. */
	assetPairsFailure: null | "500" | "garbage" = null;

	constructor(private readonly opts: { timeDecimals?: number } = {}) {
		super();
	}

	/** The pair's key in results (AssetPairs key), for an altname such as XBTUSD. */
	keyOf(pair: string): string | null {
		if (this.pairs.result[pair]) return pair;
		return Object.entries(this.pairs.result).find(([, p]) => p.altname === pair)?.[0] ?? null;
	}

	setTrades(pair: string, rows: KrakenTradeRow[]): void {
		const key = this.keyOf(pair);
		if (!key) throw new Error(`no pair ${pair} in the AssetPairs fixture`);
		this.trades.set(key, [...rows].sort((a, b) => (a.timeUs < b.timeUs ? -1 : a.timeUs > b.timeUs ? 1 : a.tradeId - b.tradeId)));
	}

	/** Answer the next `n` Depth calls with Kraken's rate-limit error. */
	depthErrors = 0;

	depthRequests(): FakeKrakenRequest[] {
		return this.requests.filter((r) => r.path === "/0/public/Depth");
	}

	tradeRequests(): FakeKrakenRequest[] {
		return this.requests.filter((r) => r.path === "/0/public/Trades");
	}

	protected handle(entry: RecordedRequest, res: http.ServerResponse): void {
		const { query } = entry;
		const u = { pathname: entry.path };
		const send = (text: string) => {
			res.writeHead(200, { "content-type": "application/json; charset=utf-8" });
			res.end(text);
		};
		const error = (e: string) => send(JSON.stringify({ error: [e] }));
		if (u.pathname === "/0/public/Depth") {
			const key = query.pair ? this.keyOf(query.pair) : null;
			if (!key) return error("EQuery:Unknown asset pair");
			const count = query.count === undefined ? 100 : Number(query.count);
			if (!Number.isInteger(count) || count < 1 || count > 500) return error("EGeneral:Invalid arguments:count");
			if (this.depthErrors > 0) {
				this.depthErrors--;
				return error("EAPI:Rate limit exceeded");
			}
			// Kraken sends each level as [price, volume, timestamp] with the timestamp a JSON number.
			return send(JSON.stringify({ error: [], result: { [key]: { bids: REAL_DEPTH_BOOK.bids.slice(0, count), asks: REAL_DEPTH_BOOK.asks.slice(0, count) } } }));
		}
		if (u.pathname === "/0/public/AssetPairs") {
			if (this.assetPairsFailure === "500") {
				entry.status = 500;
				res.writeHead(500, { "content-type": "text/plain" });
				res.end("Internal Server Error");
				return;
			}
			return send(this.assetPairsFailure === "garbage" ? "<html>maintenance</html>" : JSON.stringify(this.pairs));
		}
		if (u.pathname !== "/0/public/Trades") return error("EGeneral:Unknown method");
		const key = query.pair ? this.keyOf(query.pair) : null;
		if (!key) return error("EQuery:Unknown asset pair");
		const since = query.since ?? "0";
		if (!/^\d{1,20}$/.test(since)) return error("EGeneral:Invalid arguments:since");
		const count = query.count === undefined ? 1000 : Number(query.count);
		if (!Number.isInteger(count) || count < 1 || count > 1000) return error("EGeneral:Invalid arguments:count");
		// Kraken reads a short `since` as seconds, a long one as nanoseconds.
		const sinceNs = since.length <= 10 ? BigInt(since) * 1_000_000_000n : BigInt(since);
		const rows = (this.trades.get(key) ?? []).filter((t) => t.timeUs * 1000n > sinceNs).slice(0, count);
		const last = rows.length ? String(rows[rows.length - 1].timeUs * 1000n) : since;
		send(`{"error":[],"result":{"${key}":[${rows.map((t) => rowJson(t, this.opts.timeDecimals ?? 6)).join(",")}],"last":"${last}"}}`);
	}
}
