import type http from "node:http";
import { listenLocal, type LocalServer } from "./http-server";

/**
 * A fake OANDA v20 speaking the real protocol: `GET /v3/accounts/{id}/pricing/stream?instruments=...` answers a
 * chunked HTTP body of JSON lines (driven by the test: `send`, `heartbeat`), and
 * `GET /v3/instruments/{instrument}/candles?price=BA&granularity=S5&from=&to=` answers bid/ask candles from
 * `s5Candles`. Every request is recorded with the Authorization header it carried.
 */

export interface FakeOandaRequest {
	path: string;
	query: Record<string, string>;
	auth: string | null;
	at: number;
	status: number;
}

export interface S5Candle {
	timeMs: number;
	bid: [o: string, h: string, l: string, c: string];
	ask: [o: string, h: string, l: string, c: string];
	volume: number;
}

export class FakeOanda {
	readonly requests: FakeOandaRequest[] = [];
	/** What the stream endpoint answers: 200 (stream), or an error status. */
	streamStatus = 200;
	/** `errorMessage` of an error answer from the stream endpoint (default: OANDA's usual text). */
	streamErrorMessage: string | null = null;
	apiKey = "";
	/** Instrument → S5 candles served by the candles endpoint. */
	readonly s5Candles = new Map<string, S5Candle[]>();
	private open = new Set<http.ServerResponse>();
	/** Streams that get no heartbeats any more (a server gone quiet). */
	private muted = new WeakSet<http.ServerResponse>();
	private heartbeatTimer: NodeJS.Timeout | null = null;
	private server: LocalServer | null = null;
	url = "";

	/** Heartbeats on every open stream this often (OANDA: about 5 s), 0 for none. */
	async start(apiKey: string, heartbeatMs = 0): Promise<this> {
		this.apiKey = apiKey;
		if (heartbeatMs > 0) this.heartbeatTimer = setInterval(() => this.heartbeat(), heartbeatMs);
		this.server = await listenLocal((req, res) => this.handle(req, res));
		this.url = this.server.url;
		return this;
	}

	async stop(): Promise<void> {
		if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
		for (const r of this.open) r.destroy();
		await this.server?.close();
	}

	get streamRequests(): FakeOandaRequest[] {
		return this.requests.filter((r) => r.path.endsWith("/pricing/stream"));
	}

	/** Open stream responses right now. */
	get connections(): number {
		return this.open.size;
	}

	/** Write text to every open stream, cut into chunks of `chunkBytes` (several lines per chunk, lines split across chunks). */
	send(text: string, chunkBytes = 0): void {
		const buf = Buffer.from(text, "utf8");
		for (const res of this.open) {
			if (this.muted.has(res)) continue;
			if (!chunkBytes) res.write(buf);
			else for (let i = 0; i < buf.length; i += chunkBytes) res.write(buf.subarray(i, i + chunkBytes));
		}
	}

	heartbeat(time = nanoTime(Date.now(), 123)): void {
		this.send(`${JSON.stringify({ type: "HEARTBEAT", time })}\n`);
	}

	/** The open streams go quiet (no data, no heartbeats) but stay open; new ones are served normally. */
	silence(): void {
		for (const r of this.open) this.muted.add(r);
	}

	/** Drop every open stream (the client sees the body end). */
	dropAll(): void {
		for (const r of this.open) r.destroy();
		this.open.clear();
	}

	private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
		const u = new URL(req.url ?? "/", "http://x");
		const entry: FakeOandaRequest = { path: u.pathname, query: Object.fromEntries(u.searchParams), auth: req.headers.authorization ?? null, at: Date.now(), status: 200 };
		this.requests.push(entry);
		const reply = (status: number, body: object) => {
			entry.status = status;
			res.writeHead(status, { "Content-Type": "application/json" }).end(JSON.stringify(body));
		};
		if (entry.auth !== `Bearer ${this.apiKey}`) return reply(401, { errorMessage: "Insufficient authorization to perform request." });
		if (/^\/v3\/accounts\/[^/]+\/pricing\/stream$/.test(u.pathname)) {
			if (this.streamStatus !== 200) return reply(this.streamStatus, { errorMessage: this.streamErrorMessage ?? (this.streamStatus === 401 ? "Insufficient authorization to perform request." : "Service unavailable") });
			res.writeHead(200, { "Content-Type": "application/octet-stream", "Transfer-Encoding": "chunked" });
			res.flushHeaders();
			this.open.add(res);
			res.on("close", () => this.open.delete(res));
			return;
		}
		const m = /^\/v3\/instruments\/([A-Z0-9_]+)\/candles$/.exec(u.pathname);
		if (m) {
			if (u.searchParams.get("price") !== "BA" || u.searchParams.get("granularity") !== "S5") return reply(400, { errorMessage: "expected price=BA granularity=S5" });
			const from = Date.parse(u.searchParams.get("from") ?? "");
			const to = Date.parse(u.searchParams.get("to") ?? "");
			const cs = (this.s5Candles.get(m[1]) ?? []).filter((c) => c.timeMs >= from && c.timeMs < to);
			return reply(200, {
				instrument: m[1],
				granularity: "S5",
				candles: cs.map((c) => ({ complete: true, volume: c.volume, time: new Date(c.timeMs).toISOString().replace("Z", "000000Z"), bid: { o: c.bid[0], h: c.bid[1], l: c.bid[2], c: c.bid[3] }, ask: { o: c.ask[0], h: c.ask[1], l: c.ask[2], c: c.ask[3] } })),
			});
		}
		reply(404, { errorMessage: "no such route" });
	}
}

/** A PRICE line in OANDA's shape (the 2017-09-21 recording's fields), at a nanosecond time string. */
export function priceLine(instrument: string, time: string, bid: string, ask: string, opts: { tradeable?: boolean; liquidity?: number } = {}): string {
	const tradeable = opts.tradeable ?? true;
	return JSON.stringify({
		type: "PRICE",
		time,
		bids: [{ price: bid, liquidity: opts.liquidity ?? 10000000 }],
		asks: [{ price: ask, liquidity: opts.liquidity ?? 10000000 }],
		closeoutBid: bid,
		closeoutAsk: ask,
		status: tradeable ? "tradeable" : "non-tradeable",
		tradeable,
		instrument,
	});
}

/** A nanosecond RFC 3339 string for epoch ms plus extra nanoseconds. */
export function nanoTime(ms: number, ns = 0): string {
	return new Date(ms).toISOString().replace("Z", `${String(ns).padStart(6, "0")}Z`);
}
