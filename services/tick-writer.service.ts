import type { Service, ServiceSchema } from "moleculer";
import { TickWriter, type BatchResult } from "../lib/writer/tick-writer";
import { runtimeOf } from "../mixins/runtime";

interface Locals {
	writer: TickWriter | null;
}

/** Thin shell around lib/writer/tick-writer: consume the log, COPY into PostgreSQL, ack after commit. */
const TickWriterService: ServiceSchema<{}, {}, Locals> = {
	name: "tick-writer",

	actions: {
		/** Counters since start (REPL: `call tick-writer.stats`). */
		stats: {
			rest: "GET /stats",
			handler(this: Service & Locals) {
				return this.writer ? { ...this.writer.stats } : null;
			},
		},
	},

	created(this: Service & Locals) {
		this.writer = null;
		const m = this.broker.metrics;
		if (m.isEnabled()) {
			m.register({ name: "mdp_writer_rows_total", type: "counter", labelNames: ["kind"], description: "Rows received by the tick-writer" });
			m.register({ name: "mdp_writer_duplicates_total", type: "counter", description: "Redelivered rows skipped by dedup" });
			m.register({ name: "mdp_writer_dead_letters_total", type: "counter", description: "Messages sent to dead_letters" });
			m.register({ name: "mdp_writer_batch_ms", type: "histogram", description: "Batch write time", buckets: [5, 10, 25, 50, 100, 250, 500, 1000, 2500] });
		}
	},

	async started(this: Service & Locals) {
		const rt = runtimeOf(this.broker);
		const c = rt.config;
		this.writer = new TickWriter({
			pool: rt.pool,
			log: await rt.log(),
			maxBatchRows: c.writerBatchRows,
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
				}
				if (r.dirtyBuckets > 0) {
					// Wakes the cascade leader early; losing this event only delays candles to the next cycle.
					// Also feeds the api's live streams (/api/stream/*), on whichever node they run.
					this.broker.emit("ticks.stored", { trades: r.insertedTrades, quotes: r.insertedQuotes, minTime: r.minTime, maxTime: r.maxTime, spans: r.spans });
				}
			},
		});
		await this.writer.start();
	},

	async stopped(this: Service & Locals) {
		await this.writer?.stop();
	},
};

export default TickWriterService;
