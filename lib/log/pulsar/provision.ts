import type { Config } from "../../config";
import { marketTopic, type Channel, type Stream } from "../../domain/topics";
import type { AssetClass } from "../../domain/types";
import { PulsarAdmin } from "./admin";
import { deriveUrls, pulsarTopic, type PulsarLayout } from "./topics";

export const TOPIC_CHANNELS: Channel[] = ["trades", "ticker", "quotes", "book"];

/** The log topics of one symbol (every channel, raw and historical), as `npm run pulsar:topics` names them. */
export function symbolTopics(asset: AssetClass, venue: string, venueSymbol: string, channels: readonly Channel[] = TOPIC_CHANNELS, streams: readonly Stream[] = ["raw", "historical"]): string[] {
	const out: string[] = [];
	for (const st of streams) for (const c of channels) out.push(marketTopic(asset, venue, venueSymbol, c, st));
	return out;
}

/**
 * Create the namespaces (deduplication on unless told otherwise) and the topics through Pulsar's admin
 * API; what exists already is left alone. `report` gets one line per namespace and topic.
 */
export async function provisionPulsarTopics(
	cfg: Pick<Config, "pulsarUrl" | "pulsarAdminUrl" | "pulsarToken" | "pulsarTenant" | "pulsarNamespace" | "pulsarHistoricalNamespace">,
	logTopics: readonly string[],
	opts: { dedup?: boolean; report?: (line: string) => void } = {},
): Promise<{ created: string[]; existing: string[] }> {
	const layout: PulsarLayout = { tenant: cfg.pulsarTenant, namespace: cfg.pulsarNamespace, historicalNamespace: cfg.pulsarHistoricalNamespace };
	const { admin: adminUrl } = deriveUrls(cfg.pulsarUrl, cfg.pulsarAdminUrl);
	const admin = new PulsarAdmin({ url: adminUrl, token: cfg.pulsarToken });
	const report = opts.report ?? (() => undefined);
	const topics = logTopics.map((t) => pulsarTopic(t, layout));
	const namespaces = [...new Set([`${layout.tenant}/${layout.namespace}`, `${layout.tenant}/${layout.historicalNamespace}`])];
	for (const ns of namespaces) {
		report(`namespace ${ns} ${(await admin.createNamespace(ns)) ? "created" : "exists"}`);
		if (opts.dedup !== false) {
			await admin.setDeduplication(ns, true);
			report(`namespace ${ns} deduplication on`);
		}
	}
	const out = { created: [] as string[], existing: [] as string[] };
	for (const t of topics) {
		const created = await admin.createTopic(t.restPath);
		(created ? out.created : out.existing).push(t.full);
		report(`${t.full} ${created ? "created" : "exists"}`);
	}
	return out;
}
