import type { FeedMonitor } from "./status";

/**
 * Per-feed Prometheus series (mdp_feed_*, labelled venue and feed, and symbol where it applies), set from
 * the FeedMonitor every second and registered when the service is created, so a feed that never connects
 * still shows `mdp_feed_connected 0` and a growing connect-failure count.
 */

export interface MetricSink {
	isEnabled(): boolean;
	// eslint-disable-next-line @typescript-eslint/no-explicit-any
	register(def: any): unknown;
	set(name: string, value: number, labels?: Record<string, string>): void;
}

const DEFS: [name: string, type: "gauge" | "counter", labels: string[], description: string][] = [
	["mdp_feed_connected", "gauge", ["venue", "feed"], "1 while the feed is connected, else 0"],
	["mdp_feed_outage", "gauge", ["venue", "feed"], "1 while the feed should be streaming and is not (an open outage gap), else 0"],
	["mdp_feed_connect_failures_total", "counter", ["venue", "feed"], "Connection attempts that failed"],
	["mdp_feed_reconnects_total", "counter", ["venue", "feed"], "Connections opened after the first one"],
	["mdp_feed_checksum_mismatches_total", "counter", ["venue", "feed"], "Order book checksum mismatches"],
	["mdp_feed_messages_per_second", "gauge", ["venue", "feed", "symbol"], "Messages per second over the last 10 s"],
	["mdp_feed_messages_total", "counter", ["venue", "feed", "symbol"], "Messages received"],
	["mdp_feed_latency_ms", "gauge", ["venue", "feed", "symbol"], "Exchange time to receive time of the newest message (ms)"],
	["mdp_feed_last_message_age_ms", "gauge", ["venue", "feed", "symbol"], "Age of the newest message (ms); -1 before the first"],
	["mdp_feed_gaps_total", "counter", ["venue", "feed", "symbol"], "Gaps opened in the gap ledger"],
];

export function registerFeedMetrics(m: MetricSink): void {
	if (!m.isEnabled()) return;
	for (const [name, type, labelNames, description] of DEFS) m.register({ name, type, labelNames, description });
}

export function reportFeedMetrics(m: MetricSink, monitor: FeedMonitor, now = Date.now()): void {
	if (!m.isEnabled()) return;
	const l = { venue: monitor.venue, feed: monitor.feed };
	m.set("mdp_feed_connected", monitor.state === "connected" ? 1 : 0, l);
	m.set("mdp_feed_outage", monitor.openGapSinceMs !== null ? 1 : 0, l);
	m.set("mdp_feed_connect_failures_total", monitor.connectFailures, l);
	m.set("mdp_feed_reconnects_total", monitor.reconnects, l);
	m.set("mdp_feed_checksum_mismatches_total", monitor.checksumMismatches, l);
	for (const s of monitor.symbolStats()) {
		const sl = { ...l, symbol: s.symbol };
		m.set("mdp_feed_messages_per_second", s.messagesPerSec, sl);
		m.set("mdp_feed_messages_total", s.messages, sl);
		if (s.latencyMs !== null) m.set("mdp_feed_latency_ms", s.latencyMs, sl);
		m.set("mdp_feed_last_message_age_ms", s.lastMessageMs === null ? -1 : now - s.lastMessageMs, sl);
		m.set("mdp_feed_gaps_total", s.gaps, sl);
	}
}
