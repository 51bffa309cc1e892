import { ServiceBroker, type Service, type ServiceSchema } from "moleculer";
import type { Config } from "../lib/config";
import type { MarketLog } from "../lib/log/types";
import { migrate } from "../lib/store/migrate";
import { startEmbeddedPostgres } from "../lib/store/embedded";
import { waitForDatabase } from "../lib/store/db-wait";
import { maskUrl } from "../lib/security/secrets";
import { brokerOptions } from "../moleculer.config";
import { startHealthServer, type HealthServer } from "../lib/ops/health";
import { replCommands } from "../lib/ops/repl-commands";
import { writeAttachFile, removeAttachFile } from "../lib/ops/attach";
import { attachRuntime, Runtime } from "../mixins/runtime";
import ApiService from "../services/api.service";
import CascadeRefresherService from "../services/cascade-refresher.service";
import DukascopyBackfillService from "../services/dukascopy-backfill.service";
import ExchangeHistoryService from "../services/exchange-history.service";
import KrakenStreamService from "../services/kraken-stream.service";
import OrderbookPollerService from "../services/orderbook-poller.service";
import OandaStreamService from "../services/oanda-stream.service";
import { symbolCatalogSchema } from "../services/symbol-catalog.service";
import TickWriterService from "../services/tick-writer.service";

export interface Pipeline {
	broker: ServiceBroker;
	runtime: Runtime;
	stop(): Promise<void>;
}

const SCHEMAS: Record<string, (c: Config) => ServiceSchema> = {
	"tick-writer": () => TickWriterService as ServiceSchema,
	"cascade-refresher": () => CascadeRefresherService as ServiceSchema,
	api: (c) => ({ name: "api", mixins: [ApiService], settings: { port: c.port, ip: c.apiHost, requestTimeout: c.apiRequestTimeoutMs } }) as ServiceSchema,
	"exchange-history": () => ExchangeHistoryService as ServiceSchema,
	"dukascopy-backfill": () => DukascopyBackfillService as ServiceSchema,
	"kraken-stream": () => KrakenStreamService as ServiceSchema,
	"orderbook-poller": () => OrderbookPollerService as ServiceSchema,
	"oanda-stream": () => OandaStreamService as ServiceSchema,
	"symbol-catalog": () => symbolCatalogSchema(),
};

/**
 * Start services created after broker.start(): Moleculer starts them itself and only reports a failure
 * as a `$broker.error` event, so wait for either.
 */
function startLate(broker: ServiceBroker, services: Service[]): Promise<void> {
	if (!services.length) return Promise.resolve();
	return new Promise<void>((resolve, reject) => {
		const onError = (p: { error?: Error; type?: string }) => {
			if (p?.type !== "failedServiceRestart") return;
			broker.localBus.off("$broker.error", onError);
			reject(p.error ?? new Error("a service failed to start"));
		};
		broker.localBus.on("$broker.error", onError);
		broker.waitForServices(services.map((s) => s.name)).then(
			() => (broker.localBus.off("$broker.error", onError), resolve()),
			(err) => (broker.localBus.off("$broker.error", onError), reject(err)),
		);
	});
}

/**
 * Build and start a broker running `config.services`. Without DATABASE_URL it starts the embedded
 * PostgreSQL first. The api starts at once, so /api/health answers and /api/ready names the database
 * while start-up waits for it with backoff; then migrations run (MIGRATE_ON_START=false skips them)
 * and the other services start.
 */
export async function startPipeline(config: Config, opts: { log?: MarketLog; attachable?: boolean } = {}): Promise<Pipeline> {
	let databaseUrl = config.databaseUrl;
	let embedded: { stop(): Promise<void> } | null = null;
	if (!databaseUrl) {
		const pg = await startEmbeddedPostgres({ dataDir: `${config.dataDir}/pg`, port: config.embeddedPgPort });
		databaseUrl = pg.url;
		embedded = pg;
	}
	const runtime = new Runtime(config, databaseUrl, opts.log);
	// `attachable` (plain `npm start`, no TRANSPORTER): the loopback TCP transporter and DATA_DIR/attach.json let `npm run repl -- --attach` join.
	const attachable = !!opts.attachable && !config.transporter;
	const broker = new ServiceBroker({ ...brokerOptions(config, { loopback: attachable }), replOptions: { customCommands: replCommands() } });
	attachRuntime(broker, runtime);
	const early: string[] = config.services.filter((s) => s === "api");
	for (const name of early) broker.createService(SCHEMAS[name](config));
	const stopping = new AbortController();
	let health: HealthServer | null = null;
	try {
		await broker.start();
		if (config.healthPort > 0) health = await startHealthServer(config.healthPort, () => runtime.readiness());
		await waitForDatabase(runtime.pool, {
			logger: broker.getLogger("database"),
			where: maskUrl(databaseUrl),
			maxBackoffMs: config.dbWaitMaxBackoffMs,
			onState: (s) => (runtime.databaseState = s),
			signal: stopping.signal,
		});
		if (config.migrateOnStart) await migrate(runtime.pool);
		await startLate(
			broker,
			config.services.filter((s) => !early.includes(s)).map((name) => broker.createService(SCHEMAS[name](config))),
		);
		runtime.started = true;
		if (attachable) {
			// Where DATA_DIR is not writable (a container's read-only root), only the REPL attach is missing.
			await writeAttachFile(config.dataDir, broker).catch((err: Error) => broker.logger.warn(`repl --attach will not find this process: ${err.message}`));
		}
	} catch (err) {
		stopping.abort();
		await health?.close().catch(() => undefined);
		await broker.stop().catch(() => undefined);
		await runtime.close().catch(() => undefined);
		await embedded?.stop().catch(() => undefined);
		throw err;
	}
	return {
		broker,
		runtime,
		async stop() {
			stopping.abort();
			if (attachable) await removeAttachFile(config.dataDir);
			await health?.close();
			await broker.stop();
			await runtime.close();
			await embedded?.stop();
		},
	};
}
