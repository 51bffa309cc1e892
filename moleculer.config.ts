import type { BrokerOptions } from "moleculer";
import os from "node:os";
import { loadConfig, type Config } from "./lib/config";
import { VALIDATOR_MESSAGES } from "./mixins/action-params";
import { natsConnectError, natsConnectOptions } from "./lib/net/nats-options";
import { jsonLogFormatter } from "./lib/ops/json-log";
import { LoopbackTcpTransporter } from "./lib/ops/loopback-tcp";

/**
 * The transporter: NATS for a nats:// (or tls://) URL, authenticating like the JetStream log (NATS_USER/…, or
 * credentials in TRANSPORTER's URL); any other TRANSPORTER value is Moleculer's own syntax (e.g. "TCP",
 * "redis://..."). Without TRANSPORTER, a node that runs every service (plain `npm start`) or attaches a REPL to
 * one (`--attach`) talks over Moleculer's TCP transporter on 127.0.0.1 only.
 */
function transporter(config: Config, local: LocalTransport): BrokerOptions["transporter"] {
	if (config.transporter) {
		return /^(nats|tls):\/\//i.test(config.transporter)
			? { type: "NATS", options: { ...natsConnectOptions(config.transporter, config.natsAuth), maxReconnectAttempts: -1 } }
			: (config.transporter as BrokerOptions["transporter"]);
	}
	return local.loopback ? (new LoopbackTcpTransporter({ urls: local.urls }) as unknown as BrokerOptions["transporter"]) : undefined;
}

/** Without TRANSPORTER: whether this node joins the loopback TCP transporter, and the nodes it knows ("127.0.0.1:port/nodeID"). */
export interface LocalTransport {
	loopback: boolean;
	urls?: string[];
}

/** Broker options from the environment (see README "Configuration"). */
export function brokerOptions(config: Config = loadConfig(), local: LocalTransport = { loopback: false }): BrokerOptions {
	return {
		namespace: config.namespace,
		nodeID: config.nodeId ?? `${os.hostname()}-${process.pid}`,
		transporter: transporter(config, local),
		logger: {
			type: "Console",
			options: { level: config.logLevel, formatter: config.logFormat === "json" ? jsonLogFormatter : "short", colors: config.logFormat !== "json" && process.stdout.isTTY },
		},
		logLevel: config.logLevel as BrokerOptions["logLevel"],
		requestTimeout: 30_000,
		// Every action declares `params`; problems answer 400 through the gateway with the field named.
		validator: { type: "Fastest", options: { messages: VALIDATOR_MESSAGES } } as BrokerOptions["validator"],
		retryPolicy: { enabled: false },
		registry: { strategy: "RoundRobin", preferLocal: true },
		metrics:
			config.metricsPort > 0
				? { enabled: true, reporter: [{ type: "Prometheus", options: { port: config.metricsPort, path: "/metrics" } }] }
				: { enabled: false },
		tracing: { enabled: false },
		// Moleculer retries a refused transporter connection every few seconds, logging only the server's words:
		// say once per attempt which servers and that it is the credentials, so a wrong password is never silent.
		created(broker) {
			if (!config.transporter) return;
			broker.localBus.on("$transporter.error", (e: { error?: unknown }) => {
				broker.getLogger("transporter").error(natsConnectError(e?.error, config.transporter!, "Moleculer transporter").message);
			});
		},
	};
}

/** Lazy, so importing this file never throws: a configuration error is reported by bin/start.ts (exit 2). */
export default function options(): BrokerOptions {
	return brokerOptions();
}
