/**
 * Fan-out of live market data to SSE clients. The tick-writer's `ticks.stored` and the cascade's
 * `candles.updated` events (Moleculer, so from any node) say which instrument changed over which time span;
 * the hub coalesces them per subscription for a moment, reads the changed candles or ticks once per
 * subscription key from the database, and sends them to every client of that key. Pure of Moleculer: the
 * service passes the events in and the loaders read PostgreSQL.
 */
import { TIMEFRAME_MS, type Timeframe } from "../domain/timeframes";
import type { Candle, PriceType } from "../domain/types";
import { floorBucket, nextBucket, sourceOfPriceType } from "../candles/buckets";
import type { SseClient } from "./sse";
import type { WindowSummary } from "../candles/buckets";

export type StreamKind = "candles" | "trades" | "quotes";

export interface StreamKey {
	kind: StreamKind;
	venue: string;
	symbol: string;
	/** Candles only. */
	timeframe?: Timeframe;
	price?: PriceType;
}

/** A tick from /api/stream/trades or /quotes, as /api/trades and /api/quotes return it. */
export type TickItem = Record<string, unknown> & { time: string };

export interface LiveLoaders {
	/** Candles whose bucket starts in [fromMs, toMs). */
	candles(key: Required<StreamKey>, fromMs: number, toMs: number): Promise<Candle[]>;
	/** Ticks with event time in [fromMs, toMs), oldest first, at most `limit`. */
	ticks(kind: "trades" | "quotes", venue: string, symbol: string, fromMs: number, toMs: number, limit: number): Promise<TickItem[]>;
}

export interface LiveHubOptions {
	loaders: LiveLoaders;
	/** Clients over all streams; one more is refused (503). */
	maxClients: number;
	/** How long changes are gathered before one read per subscription. */
	coalesceMs: number;
	/** Most ticks sent per subscription and flush (a backfill burst is not replayed into live streams). */
	maxTicksPerFlush?: number;
	/** Most candles sent per subscription and flush. */
	maxCandlesPerFlush?: number;
	logger?: { warn(...a: unknown[]): void; debug?(...a: unknown[]): void };
}

/** What `ticks.stored` carries per venue, symbol and kind (see lib/writer/batch StoredSpan). */
export interface TickSpan {
	venue: string;
	symbol: string;
	kind: "trade" | "quote";
	minTime: string;
	maxTime: string;
}

/** What `candles.updated` carries per venue, symbol and level. */
export type CandleWindowSummary = WindowSummary;

export class TooManyClientsError extends Error {
	override readonly name = "TooManyClientsError";
}

interface Subscription {
	key: StreamKey;
	clients: Set<SseClient>;
	/** Pending span to read, [from, to) in ms; null when nothing is pending. */
	pending: { from: number; to: number } | null;
}

const SEP = "\u0000";

export function streamKeyId(k: StreamKey): string {
	return [k.kind, k.venue, k.symbol, k.timeframe ?? "", k.price ?? ""].join(SEP);
}

/** SSE event id of a tick: its event time and id, so a reconnecting client can say where it stopped. */
export function tickEventId(t: TickItem): string {
	return `${t.time}/${String(t.tradeId ?? t.seq ?? "")}`;
}

export class LiveHub {
	private readonly subs = new Map<string, Subscription>();
	private clients = 0;
	private timer: NodeJS.Timeout | null = null;
	private flushing: Promise<void> = Promise.resolve();
	private stopped = false;
	readonly stats = { flushes: 0, framesSent: 0, clientsDropped: 0, loadErrors: 0 };

	constructor(private readonly o: LiveHubOptions) {}

	get clientCount(): number {
		return this.clients;
	}

	/** Room for one more client; never once stopped (a shutting-down server must not take new streams, or its close would wait for them). */
	hasRoom(): boolean {
		return !this.stopped && this.clients < this.o.maxClients;
	}

	/** Register a client on a key; throws TooManyClientsError past the limit. Unregisters itself on close. */
	add(key: StreamKey, client: SseClient): void {
		if (this.stopped) throw new TooManyClientsError("live streams are stopping");
		if (this.clients >= this.o.maxClients) throw new TooManyClientsError(`at most ${this.o.maxClients} live clients`);
		const id = streamKeyId(key);
		let sub = this.subs.get(id);
		if (!sub) {
			sub = { key, clients: new Set(), pending: null };
			this.subs.set(id, sub);
		}
		sub.clients.add(client);
		this.clients++;
		client.onClose(() => {
			if (client.dropped) this.stats.clientsDropped++;
			const s = this.subs.get(id);
			if (s?.clients.delete(client)) this.clients--;
			if (s && s.clients.size === 0) this.subs.delete(id);
		});
	}

	/** `ticks.stored`: the open candles and the tick streams of these instruments changed. */
	ticksStored(spans: readonly TickSpan[]): void {
		for (const s of spans) {
			const from = Date.parse(s.minTime);
			const to = Date.parse(s.maxTime) + 1; // times carry µs; the span's end is the ms floor of the latest
			if (!Number.isFinite(from) || !Number.isFinite(to)) continue;
			for (const sub of this.subs.values()) {
				const k = sub.key;
				if (k.venue !== s.venue || k.symbol !== s.symbol) continue;
				if (k.kind === "candles") {
					if (s.kind !== (sourceOfPriceType(k.price!) === "trades" ? "trade" : "quote")) continue;
					this.mark(sub, floorBucket(from, k.timeframe!), nextBucket(to - 1, k.timeframe!));
				} else if ((k.kind === "trades" && s.kind === "trade") || (k.kind === "quotes" && s.kind === "quote")) {
					this.mark(sub, from, to);
				}
			}
		}
	}

	/** `candles.updated`: the cascade rewrote these windows (a late tick, a backfill). */
	candlesUpdated(windows: readonly CandleWindowSummary[]): void {
		for (const w of windows) {
			const from = Date.parse(w.from);
			const to = Date.parse(w.to);
			if (!Number.isFinite(from) || !Number.isFinite(to)) continue;
			for (const sub of this.subs.values()) {
				const k = sub.key;
				if (k.kind !== "candles" || k.venue !== w.venue || k.symbol !== w.symbol || k.timeframe !== w.timeframe || !w.priceTypes.includes(k.price!)) continue;
				this.mark(sub, from, to);
			}
		}
	}

	private mark(sub: Subscription, from: number, to: number): void {
		sub.pending = sub.pending ? { from: Math.min(sub.pending.from, from), to: Math.max(sub.pending.to, to) } : { from, to };
		if (!this.timer && !this.stopped) {
			this.timer = setTimeout(() => {
				this.timer = null;
				this.flushing = this.flushing.then(() => this.flush());
			}, this.o.coalesceMs);
		}
	}

	/** Read and send everything pending now (the timer calls this; tests may too). */
	async flush(): Promise<void> {
		this.stats.flushes++;
		const work = [...this.subs.values()].filter((s) => s.pending);
		await Promise.all(work.map((s) => this.flushOne(s)));
	}

	private async flushOne(sub: Subscription): Promise<void> {
		const span = sub.pending!;
		sub.pending = null;
		const k = sub.key;
		try {
			if (k.kind === "candles") {
				const size = TIMEFRAME_MS[k.timeframe!];
				const max = this.o.maxCandlesPerFlush ?? 500;
				const from = Math.max(span.from, span.to - max * size);
				const candles = await this.o.loaders.candles(k as Required<StreamKey>, from, span.to);
				for (const c of candles) this.broadcast(sub, "candle", c, c.time);
			} else {
				const limit = this.o.maxTicksPerFlush ?? 1000;
				const items = await this.o.loaders.ticks(k.kind, k.venue, k.symbol, span.from, span.to, limit);
				for (const t of items) this.broadcast(sub, k.kind === "trades" ? "trade" : "quote", t, tickEventId(t));
			}
		} catch (err) {
			this.stats.loadErrors++;
			this.o.logger?.warn(`live: reading ${k.kind} of ${k.venue} ${k.symbol} failed: ${(err as Error).message}`);
		}
	}

	private broadcast(sub: Subscription, event: string, data: unknown, id: string): void {
		for (const c of [...sub.clients]) if (c.send(event, data, id)) this.stats.framesSent++;
	}

	/** Close every client and stop the timer. */
	async stop(): Promise<void> {
		this.stopped = true;
		if (this.timer) clearTimeout(this.timer);
		this.timer = null;
		await this.flushing;
		for (const s of [...this.subs.values()]) for (const c of [...s.clients]) c.close();
	}
}
