import type { Service, ServiceSchema } from "moleculer";
import { trimDeadLetters } from "../lib/store/dead-letters";
import { TickWriter, type BatchResult } from "../lib/writer/tick-writer";
import { runtimeOf } from "../mixins/runtime";

interface Locals {
	writer: TickWriter | null;
	retention: NodeJS.Timeout | null;
}

/** How often dead_letters is trimmed to DEAD_LETTER_MAX_ROWS (and the gauge refreshed). */
const RETENTION_EVERY_MS = 60_000;

/** Thin shell around lib/writer/tick-writer: consume the log, COPY into PostgreSQL, ack after commit. */
const TickWriterService: ServiceSchema<{}, {}, Locals> = {
	name: "tick-writer",

	actions: {
		/** Counters since start (REPL: `call tick-writer.stats`). */
		stats: {
			rest: "GET /stats",
			params: {},
			handler(this: Service & Locals) {
				return this.writer ? { ...this.writer.stats } : null;
			},
		},
	},

	created(this: Service & Locals) {
		this.writer = null;
		this.retention = null;
		const m = this.broker.metrics;
		if (m.isEnabled()) {
			m.register({ name: "mdp_writer_rows_total", type: "counter", labelNames: ["kind"], description: "Rows received by the tick-writer" });
			m.register({ name: "mdp_writer_duplicates_total", type: "counter", description: "Redelivered rows skipped by dedup" });
			m.register({ name: "mdp_writer_dead_letters_total", type: "counter", description: "Messages sent to dead_letters" });
			m.register({ name: "mdp_dead_letters", type: "gauge", description: "Rows in dead_letters (kept under DEAD_LETTER_MAX_ROWS)" });
			m.register({ name: "mdp_writer_batch_ms", type: "histogram", description: "Commit latency: one batch's write and commit", buckets: [5, 10, 25, 50, 100, 250, 500, 1000, 2500] });
			m.register({ name: "mdp_writer_batch_messages", type: "histogram", description: "Log messages per committed batch", buckets: [1, 10, 100, 1000, 5000, 20000, 50000] });
			m.register({ name: "mdp_writer_binary_refused_total", type: "counter", description: "Batches and tables whose binary COPY data PostgreSQL refused (their rows went by text COPY): an encoder fault, 0 when healthy" });
			m.register({ name: "mdp_writer_lag_seconds", type: "gauge", description: "Seconds from the newest event in the last committed batch to its commit: how far the writer is behind the log" });
		}
	},

	async started(this: Service & Locals) {
		const rt = runtimeOf(this.broker);
		const c = rt.config;
		this.writer = new TickWriter({
			pool: rt.pool,
			log: await rt.log(),
			maxBatchRows: c.writerBatchRows,
			writeConcurrency: c.writerConcurrency,
			maxBatchWaitMs: c.writerBatchWaitMs,
			ackTimeoutMs: c.writerAckTimeoutMs,
			consumerName: "tick-writer",
			logger: this.logger,
			onCommitted: (r: BatchResult) => {
				const m = this.broker.metrics;
				if (m.isEnabled()) {
					m.increment("mdp_writer_rows_total", { kind: "trade" }, r.trades);
					m.increment("mdp_writer_rows_total", { kind: "quote" }, r.quotes);
					m.increment("mdp_writer_duplicates_total", undefined, r.duplicates);
					m.increment("mdp_writer_dead_letters_total", undefined, r.deadLetters);
					m.observe("mdp_writer_batch_ms", r.ms);
					m.observe("mdp_writer_batch_messages", r.messages);
					if (r.binaryRefused) m.increment("mdp_writer_binary_refused_total", undefined, r.binaryRefused);
					if (r.maxTime) m.set("mdp_writer_lag_seconds", Math.max(0, (Date.now() - Date.parse(r.maxTime)) / 1000));
				}
				if (r.dirtyBuckets > 0) {
					// Wakes the cascade leader early; losing this event only delays candles to the next cycle.
					// Also feeds the api's live streams (/api/stream/*), on whichever node they run.
					this.broker.emit("ticks.stored", { trades: r.insertedTrades, quotes: r.insertedQuotes, minTime: r.minTime, maxTime: r.maxTime, spans: r.spans });
				}
			},
		});
		await this.writer.start();
		const trim = async () => {
			try {
				const r = await trimDeadLetters(rt.pool, c.deadLetterMaxRows);
				if (r.deleted) this.logger.warn(`dead_letters: removed the ${r.deleted} oldest rows (DEAD_LETTER_MAX_ROWS=${c.deadLetterMaxRows})`);
				if (this.broker.metrics.isEnabled()) this.broker.metrics.set("mdp_dead_letters", r.remaining);
			} catch (err) {
				this.logger.warn("dead_letters retention failed, next try in a minute", (err as Error).message);
			}
		};
		void trim();
		this.retention = setInterval(() => void trim(), RETENTION_EVERY_MS);
		this.retention.unref();
	},

	async stopped(this: Service & Locals) {
		if (this.retention) clearInterval(this.retention);
		await this.writer?.stop();
	},
};

export default TickWriterService;
