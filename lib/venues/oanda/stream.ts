import { marketTopic } from "../../domain/topics";
import type { Marker } from "../../domain/types";
import { openGapRow, type GapLedger } from "../../feed/gap-ledger";
import { markerPayload } from "../../feed/markers";
import { BatchPublisher } from "../../feed/publisher";
import { FeedMonitor } from "../../feed/status";
import type { MarketLog } from "../../log/types";
import { OandaStreamClient, type CloseInfo, type ConnectFailure, type OandaClientOptions } from "./client";
import { canonicalSymbol, decodeLine, isInstrument, isTradeable, LineSplitter, quoteOf, VENUE } from "./parse";
import type { StreamLogger } from "../../feed/logger";
import { FloodGuard } from "../../feed/flood-guard";

/**
 * One OANDA pricing session: the instrument list, PRICE lines into quotes, heartbeats into the watchdog (the
 * client), outages into the gap ledger and markers, and repair jobs once the stream is back. Chunks come from
 * OandaStreamClient (or a recording through `handleChunk`); everything produced goes to the market-data log.
 * The moleculer service only builds and starts this.
 */


/** What the stream missed for one instrument: from its last data to the reconnect. */
export interface OandaGap {
	ledgerId: string | null;
	instrument: string;
	symbol: string;
	fromMs: number;
	toMs: number;
}

export interface OandaStreamOptions {
	instruments: string[];
	client: OandaClientOptions;
	log: MarketLog;
	/** Gap ledger (feed_gaps); null records nothing. */
	ledger: GapLedger | null;
	/** Repairs a closed outage (S5 bid/ask candles); null leaves gaps unrepaired. */
	repair?: ((gap: OandaGap) => void) | null;
	flushMs: number;
	maxBatchItems: number;
	maxPending?: number;
	logger: StreamLogger;
	/** A malformed line, for the dead-letter table. */
	deadLetter?(line: string, reason: string): Promise<void>;
	count?(name: string, n: number, labels?: Record<string, string>): void;
	monitor?: FeedMonitor;
	onAuthFailed?(reason: string): void;
}

interface InstrumentState {
	instrument: string;
	symbol: string;
	topic: string;
	/** Newest price time seen (the full nanosecond string): an equal or older price is a repeat. */
	lastTime: string | null;
	/** lastTime as fixed-width text (µs time + the 3 digits below), compared as a string. */
	lastKey: string | null;
	outage: { fromMs: number; ledgerId: Promise<string | null> } | null;
	stats: { quotes: number; repeated: number; nonTradeable: number; gaps: number };
}

export interface OandaStreamStats {
	lines: number;
	prices: number;
	heartbeats: number;
	rejected: number;
	unsolicited: number;
	dropped: number;
	lastErrors: string[];
}

export class OandaStream {
	readonly client: OandaStreamClient;
	readonly publisher: BatchPublisher;
	readonly monitor: FeedMonitor;
	private readonly splitter = new LineSplitter();
	private insts = new Map<string, InstrumentState>();
	private readonly floods = new FloodGuard(() => this.opts.logger);
	private startedMs = Date.now();
	private authError: string | null = null;
	readonly stats: OandaStreamStats = { lines: 0, prices: 0, heartbeats: 0, rejected: 0, unsolicited: 0, dropped: 0, lastErrors: [] };

	constructor(private readonly opts: OandaStreamOptions) {
		for (const i of opts.instruments) this.add(i);
		this.monitor = opts.monitor ?? new FeedMonitor(VENUE, "pricing-stream", () => this.symbols());
		this.publisher = new BatchPublisher(opts.log, {
			flushMs: opts.flushMs,
			maxItems: opts.maxBatchItems,
			maxPending: opts.maxPending,
			onError: (err, topic) => this.warnOnce(`publish:${topic}`, `publishing to ${topic} failed (kept for the next flush): ${err.message}`),
			onLost: (items) => opts.logger.error(`stopping: ${items} OANDA quote(s) could not be published (the log refused them) and are lost`),
		});
		this.client = new OandaStreamClient(
			opts.client,
			{
				onConnecting: () => this.monitor.connecting(),
				onOpen: () => this.onOpen(),
				onData: (chunk, ms) => this.handleChunk(chunk, ms),
				onClose: (i) => this.onClose(i),
				onConnectFailed: (i) => this.onConnectFailed(i),
				onAuthFailed: (i) => this.onAuthFailed(i.reason),
			},
			opts.logger,
		);
	}

	get instruments(): string[] {
		return [...this.insts.keys()];
	}

	symbols(): string[] {
		return [...this.insts.values()].map((s) => s.symbol);
	}

	/** Why the stream stopped for good (401/403), or null. */
	get authFailure(): string | null {
		return this.authError;
	}

	start(): void {
		this.startedMs = Date.now();
		this.publisher.start();
		this.client.start(this.instruments);
	}

	async stop(): Promise<void> {
		await this.client.stop();
		await this.publisher.stop();
		this.monitor.stopped(this.authError);
	}

	/** Stream exactly `instruments` from now on; the connection is re-opened when the list changed. */
	setInstruments(instruments: string[]): { added: string[]; removed: string[] } {
		const want = new Set(instruments.filter(isInstrument));
		const added = [...want].filter((i) => !this.insts.has(i));
		const removed = this.instruments.filter((i) => !want.has(i));
		if (!added.length && !removed.length) return { added, removed };
		for (const i of removed) this.insts.delete(i);
		for (const i of added) this.add(i);
		this.opts.logger.info(`OANDA instruments now ${this.instruments.join(", ") || "(none)"}: re-opening the stream`);
		this.client.reopen(this.instruments);
		return { added, removed };
	}

	snapshot(): Record<string, unknown> {
		return {
			status: this.monitor.status(),
			client: { ...this.client.stats },
			...this.stats,
			publisher: { ...this.publisher.stats, pending: this.publisher.pending },
			instruments: Object.fromEntries([...this.insts.values()].map((s) => [s.instrument, { symbol: s.symbol, lastTime: s.lastTime, ...s.stats }])),
		};
	}

	/** Every byte received goes through here: live chunks and replayed recordings alike. */
	handleChunk(chunk: Buffer, recvMs: number): void {
		const lines = this.splitter.push(chunk, (bytes) => this.reject(`(a line of ${bytes} bytes)`, `line longer than the limit (${bytes} bytes)`));
		for (const line of lines) this.handleLine(line, recvMs);
	}

	handleLine(text: string, recvMs: number): void {
		this.stats.lines++;
		this.monitor.message(recvMs);
		const d = decodeLine(text);
		if (d.kind === "rejected") return this.reject(text, d.reason);
		if (d.kind === "heartbeat") {
			this.stats.heartbeats++;
			return;
		}
		this.stats.prices++;
		const p = d.price;
		const st = this.insts.get(p.instrument);
		if (!st) {
			this.stats.unsolicited++;
			return;
		}
		this.monitor.symbolMessage(st.symbol, recvMs, d.time.ms);
		if (!isTradeable(p)) {
			st.stats.nonTradeable++;
			this.count("non_tradeable", 1);
			this.warnOnce(`nontradeable:${st.instrument}`, `${st.instrument}: non-tradeable price at ${p.time} (status ${p.status ?? "?"}): not stored as a quote`);
			return;
		}
		// The full nanosecond time orders prices; equal or older is a re-sent price (a reconnect's first line).
		const key = `${d.time.micros}${String(d.time.subMicroNs).padStart(3, "0")}`;
		if (st.lastKey !== null && key <= st.lastKey) {
			st.stats.repeated++;
			return;
		}
		const q = quoteOf(p, d.time, new Date(recvMs).toISOString());
		if (!q) return this.reject(text, "PRICE without a bid or an ask");
		if (st.lastTime === null) this.opts.logger.info(`${st.instrument}: first price at ${p.time} (bid ${q.bid}, ask ${q.ask})`);
		st.lastTime = p.time;
		st.lastKey = key;
		if (!this.publisher.quote(st.topic, VENUE, st.symbol, q)) {
			this.stats.dropped++;
			this.count("quotes_dropped", 1);
			this.warnOnce(`dropped:${st.instrument}`, `${st.instrument}: the log refuses quotes and the buffer is full: price at ${p.time} dropped`);
			return;
		}
		st.stats.quotes++;
	}

	// ---- connection lifecycle ----

	private onOpen(): void {
		this.splitter.reset();
		this.monitor.connected();
		this.opts.logger.info(`OANDA pricing stream open for ${this.instruments.join(", ")}`);
		this.endOutages(Date.now(), true);
	}

	/** Close the open outages at `now` (the stream is back, or the market closed) and hand them to repair. */
	private endOutages(now: number, reconnected: boolean): void {
		const to = new Date(now).toISOString();
		for (const st of this.insts.values()) {
			const o = st.outage;
			if (!o) continue;
			st.outage = null;
			if (reconnected) this.marker(st, "reconnect", to, {});
			void o.ledgerId
				.then(async (id) => {
					if (id) await this.opts.ledger?.close(id, to);
					this.opts.repair?.({ ledgerId: id, instrument: st.instrument, symbol: st.symbol, fromMs: o.fromMs, toMs: now });
				})
				.catch((err) => this.opts.logger.warn(`feed_gaps close failed: ${(err as Error).message}`));
		}
	}

	private onClose(info: CloseInfo): void {
		this.splitter.reset();
		this.count("disconnects", 1, { cause: info.watchdog ? "watchdog" : "disconnect" });
		if (info.marketClosed) return this.marketClosed();
		this.monitor.disconnected(info.reason, info.lastDataMs);
		this.openOutage(info.lastDataMs, info.watchdog ? "watchdog" : "disconnect", info.reason);
	}

	private onConnectFailed(info: ConnectFailure): void {
		this.count("connect_failures", 1, { status: info.status === null ? "network" : String(info.status) });
		if (info.marketClosed) return this.marketClosed();
		const fromMs = this.client.lastDataAt ?? this.startedMs;
		this.monitor.connectFailed(info.reason, fromMs);
		this.openOutage(fromMs, "connect-failed", info.reason);
	}

	/** The market closed: quiet is expected from now on, so an outage still open ends here. */
	private marketClosed(): void {
		this.monitor.marketClosed();
		this.endOutages(Date.now(), false);
	}

	private onAuthFailed(reason: string): void {
		this.authError = `OANDA refused the credentials (${reason})`;
		this.monitor.authFailed(this.authError);
		this.opts.logger.error(`${this.authError}: oanda-stream stopped; set a valid OANDA_API_KEY and OANDA_ACCOUNT_ID and restart`);
		this.openOutage(this.client.lastDataAt ?? this.startedMs, "auth-failed", reason);
		this.opts.onAuthFailed?.(this.authError);
	}

	/** One open gap (channel quotes) and a disconnect marker per instrument not already inside an outage. */
	private openOutage(fromMs: number, cause: string, reason: string): void {
		const from = new Date(fromMs).toISOString();
		for (const st of this.insts.values()) {
			if (st.outage) continue;
			st.stats.gaps++;
			this.monitor.gapOpened(st.symbol);
			this.marker(st, "disconnect", from, { reason, cause });
			const ledgerId = openGapRow(this.opts.ledger, { venue: VENUE, symbol: st.symbol, channel: "quotes", fromTime: from, toTime: null, cause, detail: { reason, instrument: st.instrument } }, this.opts.logger);
			st.outage = { fromMs, ledgerId };
		}
	}

	private add(instrument: string): void {
		this.insts.set(instrument, {
			instrument,
			symbol: canonicalSymbol(instrument),
			topic: marketTopic("fx", VENUE, instrument, "quotes"),
			lastTime: null,
			lastKey: null,
			outage: null,
			stats: { quotes: 0, repeated: 0, nonTradeable: 0, gaps: 0 },
		});
	}

	private reject(line: string, reason: string): void {
		this.stats.rejected++;
		this.count("lines_rejected", 1);
		this.stats.lastErrors = [reason, ...this.stats.lastErrors].slice(0, 10);
		this.warnOnce(`rejected`, `OANDA line rejected (${reason}): ${line.slice(0, 200)}`);
		this.opts.deadLetter?.(line, reason).catch((err) => this.warnOnce("deadletter", `dead-lettering an OANDA line failed: ${(err as Error).message}`));
	}

	private marker(st: InstrumentState, type: Marker["type"], time: string, detail: Record<string, unknown>): void {
		this.publisher.payload(st.topic, VENUE, st.symbol, markerPayload(VENUE, st.symbol, type, time, detail));
	}

	private count(name: string, n = 1, labels?: Record<string, string>): void {
		this.opts.count?.(name, n, labels);
	}

	/** The first occurrence of a kind of problem, then every 1000th (lib/feed/flood-guard). */
	private warnOnce(key: string, msg: string): void {
		this.floods.warn(key, msg);
	}
}
