/**
 * What a live feed is doing, for people and probes: its state, how fresh its data is, how often it had to
 * reconnect and since when it has been down. Every feed keeps one FeedMonitor; the feed service's `feeds`
 * action returns its `status()`, /api/feeds gathers them from every node, and the Prometheus gauges are set
 * from it (lib/feed/metrics.ts).
 */

export type FeedState = "connected" | "connecting" | "backoff" | "market-closed" | "auth-failed" | "stopped";

export interface FeedStatus {
	venue: string;
	feed: string;
	state: FeedState;
	connected: boolean;
	symbols: string[];
	lastMessageAt: string | null;
	lastMessageAgeMs: number | null;
	messagesPerSec: number;
	reconnects: number;
	connectFailures: number;
	openGapSince: string | null;
	error: string | null;
}

export interface SymbolFeedStats {
	symbol: string;
	messages: number;
	messagesPerSec: number;
	lastMessageMs: number | null;
	/** Exchange time to our receive time of the newest message (ms); null when the venue gave no time. */
	latencyMs: number | null;
	gaps: number;
}

/** Messages per second over the last RATE_WINDOW_S whole seconds. */
const RATE_WINDOW_S = 10;

class RateCounter {
	private buckets = new Map<number, number>();
	total = 0;

	add(ms: number, n = 1): void {
		const s = Math.floor(ms / 1000);
		this.buckets.set(s, (this.buckets.get(s) ?? 0) + n);
		this.total += n;
		if (this.buckets.size > RATE_WINDOW_S + 2) for (const k of this.buckets.keys()) if (k < s - RATE_WINDOW_S - 1) this.buckets.delete(k);
	}

	perSec(nowMs: number): number {
		const now = Math.floor(nowMs / 1000);
		let n = 0;
		for (const [s, c] of this.buckets) if (s < now && s >= now - RATE_WINDOW_S) n += c;
		return n / RATE_WINDOW_S;
	}
}

interface SymbolEntry {
	rate: RateCounter;
	lastMs: number | null;
	latencyMs: number | null;
	gaps: number;
}

export class FeedMonitor {
	state: FeedState = "stopped";
	error: string | null = null;
	reconnects = 0;
	connectFailures = 0;
	checksumMismatches = 0;
	/** Start of the outage in progress (ms): the feed should be streaming and is not. */
	openGapSinceMs: number | null = null;
	lastMessageMs: number | null = null;
	private everConnected = false;
	private rate = new RateCounter();
	private bySymbol = new Map<string, SymbolEntry>();

	constructor(
		readonly venue: string,
		readonly feed: string,
		private readonly symbols: () => string[],
		private readonly now: () => number = Date.now,
	) {}

	/** Trying to connect (the first time, or again after a backoff). */
	connecting(): void {
		if (this.state !== "auth-failed") this.state = "connecting";
	}

	connected(): void {
		if (this.everConnected) this.reconnects++;
		this.everConnected = true;
		this.state = "connected";
		this.error = null;
		this.openGapSinceMs = null;
	}

	/** An open connection ended (drop, watchdog): down since `sinceMs` (its last message). */
	disconnected(reason: string, sinceMs: number): void {
		this.state = "backoff";
		this.error = reason;
		this.openGapSinceMs ??= sinceMs;
	}

	/** A connection attempt failed; the feed has been down since `sinceMs`. */
	connectFailed(reason: string, sinceMs: number): void {
		this.connectFailures++;
		this.state = "backoff";
		this.error = reason;
		this.openGapSinceMs ??= sinceMs;
	}

	/** The market is closed: not connected on purpose, so no outage. */
	marketClosed(): void {
		this.state = "market-closed";
		this.error = null;
		this.openGapSinceMs = null;
	}

	authFailed(reason: string): void {
		this.state = "auth-failed";
		this.error = reason;
	}

	stopped(reason: string | null = null): void {
		this.state = "stopped";
		this.error = reason;
		this.openGapSinceMs = null;
	}

	/** Any message (a frame, a line, a heartbeat) received at `recvMs`. */
	message(recvMs: number): void {
		this.lastMessageMs = recvMs;
		this.rate.add(recvMs);
	}

	/** A data item of `symbol` inside a message, with the venue's time of it when known. */
	symbolMessage(symbol: string, recvMs: number, exchangeMs: number | null = null): void {
		const e = this.entry(symbol);
		e.rate.add(recvMs);
		e.lastMs = recvMs;
		if (exchangeMs !== null && Number.isFinite(exchangeMs)) e.latencyMs = recvMs - exchangeMs;
	}

	gapOpened(symbol: string): void {
		this.entry(symbol).gaps++;
	}

	status(): FeedStatus {
		const now = this.now();
		return {
			venue: this.venue,
			feed: this.feed,
			state: this.state,
			connected: this.state === "connected",
			symbols: this.symbols(),
			lastMessageAt: this.lastMessageMs === null ? null : new Date(this.lastMessageMs).toISOString(),
			lastMessageAgeMs: this.lastMessageMs === null ? null : Math.max(0, now - this.lastMessageMs),
			messagesPerSec: this.rate.perSec(now),
			reconnects: this.reconnects,
			connectFailures: this.connectFailures,
			openGapSince: this.openGapSinceMs === null ? null : new Date(this.openGapSinceMs).toISOString(),
			error: this.error,
		};
	}

	symbolStats(): SymbolFeedStats[] {
		const now = this.now();
		return this.symbols().map((symbol) => {
			const e = this.bySymbol.get(symbol);
			return { symbol, messages: e?.rate.total ?? 0, messagesPerSec: e?.rate.perSec(now) ?? 0, lastMessageMs: e?.lastMs ?? null, latencyMs: e?.latencyMs ?? null, gaps: e?.gaps ?? 0 };
		});
	}

	private entry(symbol: string): SymbolEntry {
		let e = this.bySymbol.get(symbol);
		if (!e) this.bySymbol.set(symbol, (e = { rate: new RateCounter(), lastMs: null, latencyMs: null, gaps: 0 }));
		return e;
	}
}

/** The `feeds` entry of /api/ready's checks: "ok", or what is not streaming (never fails readiness by itself). */
export function feedsCheck(items: FeedStatus[]): string {
	// "stopped" is a feed switched off (no credentials configured) or shutting down: not a degradation.
	const bad = items.filter((f) => f.state !== "connected" && f.state !== "market-closed" && f.state !== "stopped");
	if (!bad.length) return "ok";
	return `degraded: ${bad.map((f) => `${f.venue} ${f.state}`).join(", ")}`;
}
