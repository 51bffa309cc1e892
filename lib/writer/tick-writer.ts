import type { Pool, PoolClient } from "pg";
import { TICK_TOPIC_PATTERNS } from "../domain/topics";
import type { Consumer, Delivery, MarketLog } from "../log/types";
import { takingTurns } from "../coordination/turns";
import { withTransaction, type Logger } from "../store/pool";
import { copyEncoded, isDataException, QUOTE_COLUMNS, textOnly, TRADE_COLUMNS, type EncodedRows } from "./copy";
import { dirtyKeys, encodeBatch, storedSpans, type EncodedBatch, type StoredSpan } from "./batch";
import { decodeWireForCopy, type CopyReadyBatch } from "./wire-binary";

/** An empty pull faster than this did not wait for data; the loop pauses EMPTY_PULL_PAUSE_MS before the next. */
const EMPTY_PULL_MIN_MS = 5;
const EMPTY_PULL_PAUSE_MS = 50;

/**
 * tick-writer core: consumes trades and quotes from the market-data log, writes them with COPY,
 * marks the 1m buckets it touched, and acks only after the transaction has committed.
 *
 * Dirty marks are upserted (DO UPDATE, not DO NOTHING) so that an existing mark is row-locked until
 * this transaction commits: the cascade skips a locked mark (SKIP LOCKED) and picks it up next cycle,
 * instead of rebuilding the minute before these rows are visible.
 *
 * Dedup: the natural keys make writes idempotent. The fast path COPYs straight into the table inside
 * a savepoint; only when that hits a unique violation (a redelivery) does the batch go through a
 * staging table and INSERT ... ON CONFLICT DO NOTHING, which keeps the new rows of the same batch.
 * After a batch with duplicates the writer stays on the staging path until a batch comes clean, so a
 * long redelivery does not pay for a failed COPY every time.
 */

export interface TickWriterOptions {
	pool: Pool;
	log: MarketLog;
	subscription?: string;
	topics?: string[];
	/** Flush when this many rows are buffered ... */
	maxBatchRows?: number;
	/** ... or this long after the first message of the batch arrived. */
	maxBatchWaitMs?: number;
	/** Messages asked for per pull. */
	pullMax?: number;
	ackTimeoutMs?: number;
	/**
	 * Batches written concurrently (WRITER_CONCURRENCY, default 2), each in its own transaction and connection; their
	 * COPYs take turns (see copyTurns), their other statements overlap. It depends on the host: on one 2-core host 3
	 * measured 0.99-1.23 of raw keyed COPY against 0.82-0.86 with 2; on another (2026-12-07) 2 measured 0.91-1.06, 3
	 * 0.70-0.86, 1 0.78-0.89. In the backfill bench (the writer sharing 2 cores with the rest of the pipeline) 2 measured
	 * medians of 0.73-0.75 against 0.66-0.78 with 1 (2026-12-07, before COPYs took turns).
	 */
	writeConcurrency?: number;
	/** Name recorded with dead letters. */
	consumerName?: string;
	logger?: Logger;
	onCommitted?: (r: BatchResult) => void;
}

export interface BatchResult {
	messages: number;
	trades: number;
	quotes: number;
	insertedTrades: number;
	insertedQuotes: number;
	duplicates: number;
	deadLetters: number;
	markers: number;
	dirtyBuckets: number;
	/**
	 * Tables (0-2) whose binary COPY data of this batch PostgreSQL refused (their rows went by text COPY): an encoder
	 * fault, 0 when healthy. Rows that then take the staging path go there as text, so a table counts once.
	 */
	binaryRefused: number;
	/** Per venue, symbol and kind: the event-time span and row count of the batch's ticks (for live consumers). */
	spans: StoredSpan[];
	/** Earliest and latest event time in the batch (ISO), null when it held no ticks. */
	minTime: string | null;
	maxTime: string | null;
	ms: number;
}

/** The per-batch counts that the writer also totals since start. */
const COUNTED = ["messages", "trades", "quotes", "insertedTrades", "insertedQuotes", "duplicates", "deadLetters", "markers", "binaryRefused"] as const;

export type TickWriterStats = Record<(typeof COUNTED)[number], number> & {
	batches: number;
	failedBatches: number;
	lastCommitAt: number | null;
};

type Mode = "copy" | "stage";

interface Prepared {
	deliveries: Delivery[];
	decoded: CopyReadyBatch[];
	rows: number;
	/** The batch's rows encoded for COPY (encodeBatch), ahead of its transaction. */
	encoded?: EncodedBatch;
}

function sqlState(err: unknown): string | undefined {
	return (err as { code?: string })?.code;
}

/** Data errors (class 22) and integrity errors other than unique_violation are a message's fault, not the database's. */
function isDataError(err: unknown): boolean {
	const c = sqlState(err);
	return isDataException(err) || (!!c && c.startsWith("23") && c !== "23505");
}

export class TickWriter {
	readonly stats: TickWriterStats = { ...(Object.fromEntries(COUNTED.map((k) => [k, 0])) as Record<(typeof COUNTED)[number], number>), batches: 0, failedBatches: 0, lastCommitAt: null };
	private readonly o: Required<Omit<TickWriterOptions, "onCommitted" | "logger">> & Pick<TickWriterOptions, "onCommitted" | "logger">;
	private consumer: Consumer | null = null;
	private running = false;
	private loopDone: Promise<void> | null = null;
	private mode: Record<"trades" | "quotes", Mode> = { trades: "copy", quotes: "copy" };
	private backoffMs = 0;
	/** Rows per message of the messages seen last (see messagesFor). */
	private rowsPerMessage: number;
	/**
	 * A batch's COPYs (both tables) run in its turn: batches are written concurrently (writeConcurrency), but only
	 * their other statements overlap (the dirty marks, the commit, the next batch's BEGIN). Two COPYs into one table at
	 * once cost PostgreSQL more CPU for the same rows than one after the other (contention on the table's last pages
	 * and its key's rightmost leaf; binary COPY of the same backfill batches: PostgreSQL CPU 1.84-2.02 s with two
	 * connections at once, 1.23-1.43 s one after the other). The turn covers both tables, so a batch waiting for its
	 * turn holds no rows that the COPY in turn could have to wait for.
	 */
	private readonly copyTurns = takingTurns();

	constructor(opts: TickWriterOptions) {
		const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as TickWriterOptions;
		this.o = {
			subscription: "tick-writer",
			topics: TICK_TOPIC_PATTERNS,
			maxBatchRows: 20_000,
			maxBatchWaitMs: 50,
			pullMax: 200,
			ackTimeoutMs: 30_000,
			consumerName: "tick-writer",
			writeConcurrency: 2,
			...given,
		};
		this.rowsPerMessage = Math.max(1, this.o.maxBatchRows / 8);
	}

	async start(): Promise<void> {
		if (this.running) return;
		this.consumer = await this.o.log.consumer({
			subscription: this.o.subscription,
			topics: this.o.topics,
			ackTimeoutMs: this.o.ackTimeoutMs,
			maxInFlight: Math.max(this.o.pullMax * 4, 2_000),
		});
		this.running = true;
		this.loopDone = this.loop();
	}

	/** Finish the batch in hand, then close the consumer (un-acked messages go back to the log). */
	async stop(): Promise<void> {
		this.running = false;
		await this.loopDone?.catch(() => undefined);
		await this.consumer?.close();
		this.consumer = null;
	}

	private async loop(): Promise<void> {
		const consumer = this.consumer!;
		// Up to `writeConcurrency` batches are written at once (each in its own transaction and
		// connection) while the next one is pulled and decoded: PostgreSQL works on one batch while
		// this thread prepares another. Writes are idempotent, so commit order does not matter.
		const inflight = new Set<Promise<void>>();
		while (this.running) {
			let batch: Prepared;
			const pulledAt = Date.now();
			try {
				batch = await this.collect(consumer);
			} catch (err) {
				this.o.logger?.error("tick-writer: pull failed", (err as Error).message);
				await this.pause();
				continue;
			}
			if (batch.deliveries.length === 0) {
				// An empty pull that did not wait at all (a closed log answers [] at once) would make this loop a chain
				// of resolved promises that starves timers and signal handlers: wait a little before asking again.
				if (Date.now() - pulledAt < EMPTY_PULL_MIN_MS) await new Promise((r) => setTimeout(r, EMPTY_PULL_PAUSE_MS));
				continue;
			}
			// Encoded now, while PostgreSQL may still be storing the batch before: its transaction then only streams.
			// (Should encoding ever throw, writeBatch encodes again inside commitAndAck, which logs and nacks.)
			try {
				batch.encoded = encodeBatch(batch.decoded);
			} catch {
				batch.encoded = undefined;
			}
			while (inflight.size >= this.o.writeConcurrency) await Promise.race(inflight);
			const p: Promise<void> = this.commitAndAck(consumer, batch).finally(() => inflight.delete(p));
			inflight.add(p);
		}
		await Promise.all(inflight);
	}

	private async collect(consumer: Consumer): Promise<Prepared> {
		const batch: Prepared = { deliveries: [], decoded: [], rows: 0 };
		const first = await consumer.pull(this.messagesFor(this.o.maxBatchRows), 250);
		if (!first.length) return batch;
		this.add(batch, first);
		const deadline = Date.now() + this.o.maxBatchWaitMs;
		while (this.running && batch.rows < this.o.maxBatchRows) {
			const left = deadline - Date.now();
			if (left <= 0) break;
			const more = await consumer.pull(this.messagesFor(this.o.maxBatchRows - batch.rows), left);
			if (!more.length) break;
			this.add(batch, more);
		}
		return batch;
	}

	/**
	 * How many messages to ask for to get about `rows` more rows: at most pullMax, fewer when the messages seen so
	 * far (this batch's, else the last batch's) were big. A backfill hour is one message of thousands of quotes;
	 * asking for pullMax of those made batches of 100,000 rows and more, whose long writes left the last of them
	 * far behind the publisher. Before the first message the guess is big messages (8 per batch).
	 */
	private messagesFor(rows: number): number {
		return Math.max(1, Math.min(this.o.pullMax, Math.ceil(rows / this.rowsPerMessage)));
	}

	private add(batch: Prepared, deliveries: Delivery[]): void {
		for (const d of deliveries) {
			const dec = decodeWireForCopy(d.payload);
			batch.deliveries.push(d);
			batch.decoded.push(dec);
			batch.rows += dec.rows;
		}
		if (batch.deliveries.length) this.rowsPerMessage = Math.max(1, batch.rows / batch.deliveries.length);
	}

	private async commitAndAck(consumer: Consumer, batch: Prepared): Promise<void> {
		try {
			await this.writeWithSplit(batch);
			await consumer.ack(batch.deliveries);
			this.backoffMs = 0;
		} catch (err) {
			this.stats.failedBatches++;
			this.o.logger?.error(`tick-writer: batch of ${batch.deliveries.length} messages failed, will be redelivered`, (err as Error).message);
			await consumer.nack(batch.deliveries, 1_000).catch(() => undefined);
			await this.pause();
		}
	}

	private async pause(): Promise<void> {
		this.backoffMs = Math.min(Math.max(this.backoffMs * 2, 200), 10_000);
		await new Promise((r) => setTimeout(r, this.backoffMs));
	}

	/** A data error in a multi-message batch: write the messages one by one so only the culprit is dead-lettered. */
	private async writeWithSplit(batch: Prepared): Promise<void> {
		try {
			await this.writeBatch(batch.deliveries, batch.decoded, batch.encoded);
		} catch (err) {
			if (!isDataError(err)) throw err;
			if (batch.deliveries.length === 1) {
				const d = batch.deliveries[0];
				await this.writeBatch([d], [{ ...batch.decoded[0], copy: "", lines: undefined, binary: undefined, rows: 0, minutes: [], rejects: [{ index: -1, reason: `rejected by database: ${(err as Error).message}` }] }]);
				return;
			}
			for (let i = 0; i < batch.deliveries.length; i++) {
				await this.writeWithSplit({ deliveries: [batch.deliveries[i]], decoded: [batch.decoded[i]], rows: 0 });
			}
		}
	}

	/** Write one batch in one transaction (`encoded`: its rows already encoded). Public so tests and benchmarks can drive it without a loop. */
	async writeBatch(deliveries: readonly Delivery[], decoded?: readonly CopyReadyBatch[], encoded?: EncodedBatch): Promise<BatchResult> {
		const t0 = Date.now();
		// PostgreSQL refused the binary COPY of rows the writer could vouch for (an encoder fault): they went as text
		let binaryRefused = 0;
		const refused = (table: "trades" | "quotes") => (err: Error) => {
			binaryRefused++;
			this.o.logger?.error(`tick-writer: PostgreSQL refused binary COPY data for ${table}, the rows went by text COPY (please report): ${err.message}`);
		};
		const dec = decoded ?? deliveries.map((d) => decodeWireForCopy(d.payload));
		const enc = encoded ?? encodeBatch(dec);
		const { tradeCount: trades, quoteCount: quotes, minMs, maxMs } = enc;
		const dead: { d: Delivery; reason: string }[] = [];
		let markers = 0;
		for (let i = 0; i < dec.length; i++) {
			const x = dec[i];
			markers += x.markers;
			if (x.rejects.length) {
				const reason =
					x.rejects
						.slice(0, 5)
						.map((r) => (r.index < 0 ? r.reason : `item ${r.index}: ${r.reason}`))
						.join("; ") + (x.rejects.length > 5 ? `; and ${x.rejects.length - 5} more` : "");
				dead.push({ d: deliveries[i], reason });
			}
		}
		const { insertedTrades, insertedQuotes, dirtyCount } = await withTransaction(this.o.pool, async (client) => {
			const { tr, qr } = await this.copyTurns(async () => ({
				tr: enc.trades ? await this.insertTicks(client, "trades", enc.trades, trades, refused("trades")) : null,
				qr: enc.quotes ? await this.insertTicks(client, "quotes", enc.quotes, quotes, refused("quotes")) : null,
			}));
			let dirtyCount = (tr?.dirty ?? 0) + (qr?.dirty ?? 0);
			// Rows that went in by plain COPY were all new: their buckets are computed here.
			const dirty = dirtyKeys(dec.filter((x) => x.rows && ((x.kind === "trade" && tr?.viaCopy) || (x.kind === "quote" && qr?.viaCopy))));
			if (dirty.venue.length) {
				// Minutes as integers (to_timestamp(minute * 60) is exact): no timestamp text to build or parse per mark.
				await client.query(
					`INSERT INTO dirty_buckets (venue, symbol, source, bucket)
					 SELECT v, s, src, to_timestamp(m::bigint * 60) FROM unnest($1::text[], $2::text[], $3::text[], $4::int[]) AS d(v, s, src, m)
					 ON CONFLICT (venue, symbol, source, bucket) DO UPDATE SET marked_at = EXCLUDED.marked_at`,
					[dirty.venue, dirty.symbol, dirty.source, dirty.minute],
				);
				dirtyCount += dirty.venue.length;
			}
			for (const { d, reason } of dead) {
				await client.query(
					`INSERT INTO dead_letters (consumer, topic, message_id, msg_key, reason, payload)
					 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
					[this.o.consumerName, d.topic, d.id, d.key, reason, Buffer.from(d.payload)],
				);
				this.o.logger?.warn(`tick-writer: dead-lettered message ${d.id} on ${d.topic}: ${reason}`);
			}
			return { insertedTrades: tr?.inserted ?? 0, insertedQuotes: qr?.inserted ?? 0, dirtyCount };
		});
		const r: BatchResult = {
			messages: deliveries.length,
			trades,
			quotes,
			insertedTrades,
			insertedQuotes,
			duplicates: trades - insertedTrades + quotes - insertedQuotes,
			deadLetters: dead.length,
			markers,
			dirtyBuckets: dirtyCount,
			binaryRefused,
			spans: storedSpans(dec),
			minTime: Number.isFinite(minMs) ? new Date(minMs).toISOString() : null,
			maxTime: Number.isFinite(maxMs) ? new Date(maxMs).toISOString() : null,
			ms: Date.now() - t0,
		};
		for (const k of COUNTED) this.stats[k] += r[k];
		this.stats.batches++;
		this.stats.lastCommitAt = Date.now();
		this.o.onCommitted?.(r);
		return r;
	}

	/**
	 * Insert one table's rows. Fast path: COPY straight in (every row new). Slow path after a unique
	 * violation: COPY into a staging table, insert what is new, and mark dirty only the buckets of the
	 * rows that actually went in, so a redelivery does not make the cascade redo work.
	 */
	private async insertTicks(
		client: PoolClient,
		table: "trades" | "quotes",
		rows: EncodedRows,
		rowCount: number,
		onBinaryRefused: (err: Error) => void,
	): Promise<{ inserted: number; viaCopy: boolean; dirty: number }> {
		const kind = table === "trades" ? "trade" : "quote";
		let binaryRefused = false;
		const refusedHere = (err: Error) => {
			binaryRefused = true;
			onBinaryRefused(err);
		};
		if (this.mode[table] === "copy") {
			await client.query("SAVEPOINT fast_copy");
			try {
				const n = await copyEncoded(client, table, rows, refusedHere);
				await client.query("RELEASE SAVEPOINT fast_copy");
				return { inserted: n, viaCopy: true, dirty: 0 };
			} catch (err) {
				if (sqlState(err) !== "23505") throw err;
				await client.query("ROLLBACK TO SAVEPOINT fast_copy");
				this.mode[table] = "stage";
			}
		}
		const stage = `stage_${table}`;
		await client.query(`CREATE TEMP TABLE IF NOT EXISTS ${stage} (LIKE ${table}) ON COMMIT DELETE ROWS`);
		// rows whose binary data PostgreSQL refused on the fast path go to the staging table as text, not refused again
		await copyEncoded(client, stage, binaryRefused ? textOnly(rows) : rows, refusedHere);
		const columns = kind === "trade" ? TRADE_COLUMNS : QUOTE_COLUMNS;
		const key = ["venue", "symbol", "time", kind === "trade" ? "trade_id" : "seq"];
		const res = await client.query(
			`WITH ins AS (
			   INSERT INTO ${table} (${columns.join(", ")})
			   SELECT DISTINCT ON (${key.join(", ")}) ${columns.join(", ")} FROM ${stage}
			   ON CONFLICT DO NOTHING
			   RETURNING venue, symbol, time),
			 dirty AS (
			   INSERT INTO dirty_buckets (venue, symbol, source, bucket)
			   SELECT DISTINCT venue, symbol, '${table}', date_bin('1 minute', time, timestamptz '1970-01-01 00:00:00+00') FROM ins
			   ON CONFLICT (venue, symbol, source, bucket) DO UPDATE SET marked_at = EXCLUDED.marked_at
			   RETURNING 1)
			 SELECT (SELECT count(*) FROM ins)::int AS inserted, (SELECT count(*) FROM dirty)::int AS dirty`,
		);
		const { inserted, dirty } = res.rows[0] as { inserted: number; dirty: number };
		// A clean batch on the slow path means the redelivery is over: back to plain COPY.
		if (inserted === rowCount) this.mode[table] = "copy";
		return { inserted, viaCopy: false, dirty };
	}
}
