/**
 * The market-data log: the one durable path market data takes between services.
 * Delivery is at-least-once; consumers ack only after their side effects have committed, and
 * whatever was not acked (consumer crashed, closed, nacked, ack timeout passed) is delivered again,
 * possibly to another consumer of the same shared subscription.
 *
 * Topics are slash-separated (market-data/crypto/raw/kraken/btcusd/trades); consumers subscribe with
 * patterns where '*' matches one segment and a final '>' matches the rest (see lib/domain/topics).
 */
export interface Delivery {
	/** Driver-specific id, unique within the subscription (JetStream stream sequence, Pulsar message id, ...). */
	readonly id: string;
	readonly topic: string;
	readonly key: string;
	readonly payload: Uint8Array;
	/** 1 on the first delivery, 2+ on redeliveries. */
	readonly deliveryCount: number;
	/** When the log accepted the message, ms since the epoch. */
	readonly publishTime: number;
}

export interface ConsumerOptions {
	/** Name of the shared (durable) subscription; consumers with the same name split the messages. */
	subscription: string;
	/** Topic patterns this subscription covers. Fixed at the subscription's first creation. */
	topics: string[];
	/** A delivery not acked within this time is delivered again. Default 30 s. */
	ackTimeoutMs?: number;
	/** Deliveries handed out but not yet acked, per consumer. Default 10,000. */
	maxInFlight?: number;
}

export interface Consumer {
	/** Wait up to `waitMs` for at least one delivery, then return up to `max` of them ([] on timeout). */
	pull(max: number, waitMs: number): Promise<Delivery[]>;
	/** Acknowledge: these deliveries are never delivered again. */
	ack(deliveries: readonly Delivery[]): Promise<void>;
	/** Negative ack: deliver these again (to any consumer of the subscription) after `delayMs`. */
	nack(deliveries: readonly Delivery[], delayMs?: number): Promise<void>;
	/** Stop consuming; whatever is un-acked goes back to the subscription. */
	close(): Promise<void>;
}

export interface MarketLog {
	/** "memory", "jetstream", "pulsar" */
	readonly driver: string;
	/**
	 * Publish a batch of messages to one topic under one key (per-key order is kept).
	 * Resolves once the log has durably accepted every message of the batch.
	 */
	publish(topic: string, key: string, payloads: readonly Uint8Array[]): Promise<void>;
	consumer(opts: ConsumerOptions): Promise<Consumer>;
	/**
	 * Forget a shared subscription and its position, for subscriptions that end (benchmarks, replays, one-off
	 * readers): on JetStream its durable consumers would otherwise stay on the server for good. Close its
	 * consumers first. Deleting a subscription that does not exist is no error. JetStream and memory only: a
	 * Pulsar subscription spans the topics its pattern matched, removed with the admin API by the operator.
	 */
	deleteSubscription?(subscription: string, topics: string[]): Promise<void>;
	/** Throws when the log cannot be reached (readiness). */
	ping(): Promise<void>;
	/** Wait until everything published so far is accepted. */
	flush(): Promise<void>;
	close(): Promise<void>;
}
