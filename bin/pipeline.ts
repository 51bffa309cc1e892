import { ServiceBroker, type ServiceSchema } from "moleculer";
import type { Config } from "../lib/config";
import type { MarketLog } from "../lib/log/types";
import { migrate } from "../lib/store/migrate";
import { startEmbeddedPostgres } from "../lib/store/embedded";
import { brokerOptions } from "../moleculer.config";
import { attachRuntime, Runtime } from "../mixins/runtime";
import ApiService from "../services/api.service";
import CascadeRefresherService from "../services/cascade-refresher.service";
import DukascopyBackfillService from "../services/dukascopy-backfill.service";
import ExchangeHistoryService from "../services/exchange-history.service";
import KrakenStreamService from "../services/kraken-stream.service";
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
	api: (c) => ({ name: "api", mixins: [ApiService], settings: { port: c.port } }) as ServiceSchema,
	"exchange-history": () => ExchangeHistoryService as ServiceSchema,
	"dukascopy-backfill": () => DukascopyBackfillService as ServiceSchema,
	"kraken-stream": () => KrakenStreamService as ServiceSchema,
	"symbol-catalog": () => symbolCatalogSchema(),
};

/**
 * Build and start a broker running `config.services`. Without DATABASE_URL it starts the embedded
 * PostgreSQL first. Migrations run before any service starts (MIGRATE_ON_START=false skips them).
 */
export async function startPipeline(config: Config, opts: { log?: MarketLog } = {}): Promise<Pipeline> {
	let databaseUrl = config.databaseUrl;
	let embedded: { stop(): Promise<void> } | null = null;
	if (!databaseUrl) {
		const pg = await startEmbeddedPostgres({ dataDir: `${config.dataDir}/pg`, port: config.embeddedPgPort });
		databaseUrl = pg.url;
		embedded = pg;
	}
	const runtime = new Runtime(config, databaseUrl, opts.log);
	if (config.migrateOnStart) await migrate(runtime.pool);
	const broker = new ServiceBroker(brokerOptions(config));
	attachRuntime(broker, runtime);
	for (const name of config.services) broker.createService(SCHEMAS[name](config));
	try {
		await broker.start();
	} catch (err) {
		await broker.stop().catch(() => undefined);
		await runtime.close().catch(() => undefined);
		await embedded?.stop().catch(() => undefined);
		throw err;
	}
	return {
		broker,
		runtime,
		async stop() {
			await broker.stop();
			await runtime.close();
			await embedded?.stop();
		},
	};
}
