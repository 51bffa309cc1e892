// npm run pulsar:topics: create the Pulsar namespaces and topics up front through the admin REST API
// (PULSAR_ADMIN_URL, or derived from PULSAR_URL; PULSAR_TOKEN as Bearer). Idempotent: what exists is kept.
//
//   npm run pulsar:topics                                   the seeds' topics: kraken BTC/USD trades + ticker
//   npm run pulsar:topics -- --venue kraken --asset crypto --symbols BTC/USD,ETH/USD --channels trades,ticker --stream both
//   npm run pulsar:topics -- market-data/fx/raw/oanda/eurusd/quotes ...   exact log topics
//   --no-dedup   leave broker deduplication as it is (default: turn it on for both namespaces)
import { loadConfig } from "../lib/config";
import { marketTopic, type Channel, type Stream } from "../lib/domain/topics";
import type { AssetClass } from "../lib/domain/types";
import { provisionPulsarTopics, TOPIC_CHANNELS as CHANNELS } from "../lib/log/pulsar/provision";

const ASSETS: AssetClass[] = ["crypto", "fx", "metal", "index", "equity", "commodity"];

function usage(msg: string): never {
	throw Object.assign(new Error(msg), { usage: true });
}

function topicsFromArgs(argv: string[]): { topics: string[]; dedup: boolean } {
	const opt = (name: string, dflt: string) => {
		const i = argv.indexOf(`--${name}`);
		if (i < 0) return dflt;
		const v = argv[i + 1];
		if (!v || v.startsWith("--")) usage(`--${name} needs a value`);
		return v;
	};
	const dedup = !argv.includes("--no-dedup");
	const positional = argv.filter((a, i) => !a.startsWith("--") && !(i > 0 && argv[i - 1].startsWith("--") && argv[i - 1] !== "--no-dedup"));
	if (positional.length) return { topics: positional, dedup };
	const asset = opt("asset", "crypto") as AssetClass;
	if (!ASSETS.includes(asset)) usage(`--asset ${asset}: expected one of ${ASSETS.join(", ")}`);
	const venue = opt("venue", "kraken");
	const symbols = opt("symbols", "BTC/USD").split(",").map((s) => s.trim()).filter(Boolean);
	const channels = opt("channels", "trades,ticker").split(",").map((s) => s.trim()) as Channel[];
	for (const c of channels) if (!CHANNELS.includes(c)) usage(`--channels: ${c} is not one of ${CHANNELS.join(", ")}`);
	const streamArg = opt("stream", "raw");
	if (!["raw", "historical", "both"].includes(streamArg)) usage(`--stream ${streamArg}: expected raw, historical or both`);
	const streams: Stream[] = streamArg === "both" ? ["raw", "historical"] : [streamArg as Stream];
	const topics: string[] = [];
	for (const st of streams) for (const s of symbols) for (const c of channels) topics.push(marketTopic(asset, venue, s, c, st));
	return { topics, dedup };
}

async function main(): Promise<number> {
	const cfg = loadConfig(process.env);
	let plan: { topics: string[]; dedup: boolean };
	try {
		plan = topicsFromArgs(process.argv.slice(2));
	} catch (e) {
		console.error(`pulsar-topics: ${(e as Error).message}`);
		return 2;
	}
	try {
		await provisionPulsarTopics(cfg, plan.topics, { dedup: plan.dedup, report: (line) => console.log(`pulsar-topics: ${line}`) });
		return 0;
	} catch (e) {
		console.error(`pulsar-topics: ${(e as Error).message}`);
		return 1;
	}
}

main().then((code) => {
	process.exitCode = code;
});
