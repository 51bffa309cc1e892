import type { ServiceBroker } from "moleculer";

/** Node ids where `action` (e.g. "symbols.list") is available now: empty when no node runs it. */
export function nodesOfAction(broker: ServiceBroker, action: string): string[] {
	const list = broker.registry.getActionEndpoints(action);
	if (!list) return [];
	return list.endpoints.filter((e) => e.isAvailable).map((e) => e.id);
}
