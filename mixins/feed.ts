import type { Service, ServiceSchema } from "moleculer";
import { registerFeedMetrics, reportFeedMetrics } from "../lib/feed/metrics";
import type { FeedMonitor, FeedStatus } from "../lib/feed/status";

/**
 * What every live-feed service shares: the `feeds` action (FeedStatus[], gathered by api.feeds from every
 * node) and the per-feed Prometheus series, refreshed every second. The service sets `this.feedMonitors`.
 */
export interface FeedServiceLocals {
	feedMonitors: FeedMonitor[];
	feedMetricsTimer: NodeJS.Timeout | null;
}

type Self = Service & FeedServiceLocals;

export const FeedServiceMixin: Partial<ServiceSchema> = {
	/** Marks a feed service for api.feeds (lib/feed/gather) on every node. */
	metadata: { feed: true },

	actions: {
		feeds: {
			params: {},
			handler(this: Service): FeedStatus[] {
				return (this as Self).feedMonitors.map((m) => m.status());
			},
		},
	},

	created(this: Service) {
		const self = this as Self;
		self.feedMonitors = [];
		self.feedMetricsTimer = null;
		registerFeedMetrics(this.broker.metrics);
	},

	started(this: Service) {
		const self = this as Self;
		const m = this.broker.metrics;
		if (!m.isEnabled()) return;
		const report = () => {
			for (const mon of self.feedMonitors) reportFeedMetrics(m, mon);
		};
		report();
		self.feedMetricsTimer = setInterval(report, 1000);
		self.feedMetricsTimer.unref();
	},

	stopped(this: Service) {
		const self = this as Self;
		if (self.feedMetricsTimer) clearInterval(self.feedMetricsTimer);
		self.feedMetricsTimer = null;
	},
};
