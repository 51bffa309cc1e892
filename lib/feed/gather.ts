import type { FeedStatus } from "./status";

/**
 * FeedStatus of every feed service on every node: each service marked `metadata.feed` (mixins/feed) is asked on each node
 * it runs on. A node that does not answer in time is reported as a feed in state "stopped" with the error.
 */
export interface FeedBroker {
	registry: { getServiceList(opts: { onlyAvailable?: boolean; withActions?: boolean }): { name: string; nodeID: string; metadata?: Record<string, unknown>; actions?: Record<string, unknown> }[] };
	call(action: string, params: object, opts: { nodeID: string; timeout: number }): Promise<unknown>;
}

export async function gatherFeeds(broker: FeedBroker, timeoutMs = 2000): Promise<FeedStatus[]> {
	const targets = broker.registry
		.getServiceList({ onlyAvailable: true, withActions: true })
		.filter((s) => s.metadata?.feed === true && s.actions && Object.prototype.hasOwnProperty.call(s.actions, `${s.name}.feeds`));
	const seen = new Set<string>();
	const answers = await Promise.all(
		targets
			.filter((s) => {
				const k = `${s.name}@${s.nodeID}`;
				if (seen.has(k)) return false;
				seen.add(k);
				return true;
			})
			.map(async (s): Promise<FeedStatus[]> => {
				try {
					return (await broker.call(`${s.name}.feeds`, {}, { nodeID: s.nodeID, timeout: timeoutMs })) as FeedStatus[];
				} catch (err) {
					return [{ venue: s.name, feed: `${s.name}@${s.nodeID}`, state: "stopped", connected: false, symbols: [], lastMessageAt: null, lastMessageAgeMs: null, messagesPerSec: 0, reconnects: 0, connectFailures: 0, openGapSince: null, error: `no answer: ${(err as Error).message}` }];
				}
			}),
	);
	return answers.flat().sort((a, b) => (a.venue < b.venue ? -1 : a.venue > b.venue ? 1 : a.feed < b.feed ? -1 : 1));
}
