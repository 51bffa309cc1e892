import type { MarketLog } from "../types";
import { loadPulsarClient, PulsarNativeLog, type PulsarClientModule } from "./native";
import { resolveOptions, type PulsarLogOptions } from "./options";
import { PulsarWsLog } from "./websocket";

export { PulsarWsLog } from "./websocket";
export { PulsarNativeLog, loadPulsarClient } from "./native";
export { PulsarAdmin, PulsarAdminError } from "./admin";
export { pulsarTopic, logTopic, localNameRegex, namespacesOf, deriveUrls, DEFAULT_LAYOUT, type PulsarLayout, type PulsarTopic } from "./topics";
export type { PulsarLogOptions, PulsarClientKind, PulsarSubscriptionType } from "./options";

/**
 * The Pulsar market log, on the native client or the WebSocket API (PULSAR_CLIENT):
 * - "native": pulsar-client must load, else this fails with the reason;
 * - "websocket": always the WebSocket API;
 * - "auto" (default): native when pulsar-client loads, else WebSocket, logging why.
 * `load` is for tests: it stands in for importing pulsar-client.
 */
export async function createPulsarLog(
	opts: PulsarLogOptions,
	load: () => Promise<{ module: PulsarClientModule } | { error: string }> = loadPulsarClient,
): Promise<MarketLog> {
	const o = resolveOptions(opts);
	if (o.client !== "auto" && o.client !== "native" && o.client !== "websocket") throw new TypeError(`PULSAR_CLIENT=${JSON.stringify(o.client)}: expected auto, native or websocket`);
	if (o.client === "websocket") return PulsarWsLog.connect(opts);
	const loaded = await load();
	if ("module" in loaded) return PulsarNativeLog.connect(loaded.module, opts);
	if (o.client === "native") throw new Error(`PULSAR_CLIENT=native but ${loaded.error}; install libpulsar and pulsar-client, or use PULSAR_CLIENT=websocket`);
	o.logger.warn(`market log: ${loaded.error}; using Pulsar's WebSocket API instead (PULSAR_CLIENT=auto)`);
	return PulsarWsLog.connect(opts);
}
