import os from "node:os";
import { ServiceBroker } from "moleculer";
import { ConfigError, loadConfig } from "../lib/config";
import { readAttachFile } from "../lib/ops/attach";
import { replCommands } from "../lib/ops/repl-commands";
import { brokerOptions, type LocalTransport } from "../moleculer.config";

/** How long to wait for the running system's nodes before opening the prompt anyway. */
const DISCOVERY_MS = 10_000;

/**
 * `npm run repl -- --attach`: a node with no services of its own joins the running system and opens
 * the Moleculer REPL with our operator commands. With TRANSPORTER (and NAMESPACE) it joins that cluster;
 * without, the plain `npm start` of this DATA_DIR over the loopback TCP transporter.
 */
export async function attachRepl(): Promise<void> {
	let config;
	try {
		config = loadConfig(process.env);
	} catch (err) {
		if (err instanceof ConfigError) {
			console.error(`configuration error: ${err.message}`);
			process.exit(2);
		}
		throw err;
	}
	let local: LocalTransport = { loopback: false };
	let namespace = config.namespace;
	if (!config.transporter) {
		try {
			const info = await readAttachFile(config.dataDir);
			local = { loopback: true, urls: [`127.0.0.1:${info.port}/${info.nodeID}`] };
			namespace = info.namespace;
		} catch (err) {
			console.error(`repl --attach: ${(err as Error).message}`);
			process.exit(2);
		}
	}
	// Its own node ID: in a pod NODE_ID is the pod's, which the service node there already uses.
	const nodeId = `${config.nodeId ?? os.hostname()}-repl-${process.pid}`;
	const options = brokerOptions({ ...config, namespace, nodeId, metricsPort: 0, logLevel: "warn" }, local);
	const broker = new ServiceBroker({ ...options, replOptions: { customCommands: replCommands() } });
	await broker.start();
	const deadline = Date.now() + DISCOVERY_MS;
	const others = () => (broker.registry.nodes.list({ onlyAvailable: true, withServices: false }) as { id: string }[]).filter((n) => n.id !== broker.nodeID);
	while (others().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
	const seen = others();
	console.log(seen.length ? `attached to ${seen.length} node(s): ${seen.map((n) => n.id).join(", ")} (namespace ${namespace || "-"}); \`help\` lists the commands` : `no node of namespace ${namespace || "-"} answered within ${DISCOVERY_MS / 1000} s; commands will say what is unavailable`);
	broker.repl();
}
