import { clientAuthorization } from "../lib/api/guard";
import { readFileSync } from "node:fs";
import { loadConfig, logConfig } from "../lib/config";
import { createMarketLog } from "../lib/log";
import { SymbolKnowledge } from "../lib/api/known";
import { parseReplay } from "../lib/replay";
import { createPool } from "../lib/store/pool";

/**
 * `npm run replay -- <file.jsonl> [--api http://localhost:3000]`
 * Publishes recorded normalized trades or quotes into the market-data log. With MARKET_LOG=jetstream
 * (or pulsar) it publishes straight into the log; with the default in-memory log, whose only copy
 * lives inside the running `npm start` process, it sends the lines to that process's /api/ingest.
 */
async function main() {
	const args = process.argv.slice(2);
	const file = args.find((a) => !a.startsWith("--"));
	const apiIdx = args.indexOf("--api");
	if (!file) {
		console.error("usage: npm run replay -- <file.jsonl> [--api http://localhost:3000]");
		process.exit(2);
	}
	let text: string;
	try {
		text = readFileSync(file, "utf8");
	} catch (err) {
		console.error(`cannot read ${file}: ${(err as Error).message}`);
		process.exit(2);
	}
	const config = loadConfig();
	if (config.marketLog === "memory") {
		const base = apiIdx >= 0 ? args[apiIdx + 1] : `http://localhost:${config.port}`;
		const total = { lines: 0, published: 0, errors: [] as { line: number; reason: string }[] };
		// The api takes at most API_INGEST_MAX_BYTES per request: send whole lines in chunks below it.
		for (const chunk of lineChunks(text, Math.max(1024, Math.floor(config.apiIngestMaxBytes * 0.9)), Math.floor(config.apiIngestMaxLines * 0.9) || 1)) {
			const headers: Record<string, string> = { "content-type": "application/x-ndjson", ...clientAuthorization(config, "POST") };
			const res = await fetch(`${base.replace(/\/$/, "")}/api/ingest`, { method: "POST", headers, body: chunk.text }).catch((err) => {
				console.error(`cannot reach the pipeline at ${base} (is \`npm start\` running?): ${err.cause?.message ?? err.message}`);
				process.exit(1);
			});
			const body = (await res.json()) as any;
			if (!res.ok) {
				console.error(`ingest failed (${res.status}): ${body.message ?? JSON.stringify(body)}`);
				process.exit(1);
			}
			total.lines += body.lines;
			total.published += body.published;
			total.errors.push(...body.errors.map((e: { line: number; reason: string }) => ({ line: e.line + chunk.firstLine - 1, reason: e.reason })));
		}
		report(total.lines, total.published, total.errors);
		return;
	}
	const parsed = parseReplay(text);
	if (!config.ingestAllowUnknown) {
		// The catalog decides what may enter the log (as POST /api/ingest does): a typo must not create a market.
		if (!config.databaseUrl) {
			console.error("replay into the log checks venue/symbols against the symbol catalog: set DATABASE_URL (or INGEST_ALLOW_UNKNOWN=true)");
			process.exit(2);
		}
		const pool = createPool(config.databaseUrl, { max: 2 });
		try {
			const unknown = await new SymbolKnowledge(pool).unknownForIngest(parsed.messages);
			if (unknown.length) {
				for (const u of unknown) console.error(`refused: ${u.message}`);
				console.error("add them with POST /api/symbols, or set INGEST_ALLOW_UNKNOWN=true");
				process.exit(1);
			}
		} finally {
			await pool.end();
		}
	}
	const log = await createMarketLog(logConfig(config));
	try {
		for (const m of parsed.messages) await log.publish(m.topic, m.key, [m.payload]);
		await log.flush();
	} finally {
		await log.close();
	}
	report(parsed.lines, parsed.records, parsed.errors);
}

/** The text cut at line ends into pieces of at most maxBytes and maxLines (a single longer line goes alone). */
function* lineChunks(text: string, maxBytes: number, maxLines: number): Generator<{ text: string; firstLine: number }> {
	const lines = text.split("\n");
	let start = 0;
	while (start < lines.length) {
		let end = start;
		let bytes = 0;
		while (end < lines.length && end - start < maxLines) {
			const b = Buffer.byteLength(lines[end]) + 1;
			if (end > start && bytes + b > maxBytes) break;
			bytes += b;
			end++;
		}
		yield { text: lines.slice(start, end).join("\n"), firstLine: start + 1 };
		start = end;
	}
}

function report(lines: number, published: number, errors: { line: number; reason: string }[]) {
	console.log(`${lines} lines read, ${published} records published, ${errors.length} rejected`);
	for (const e of errors.slice(0, 20)) console.log(`  line ${e.line}: ${e.reason}`);
	if (errors.length && !published) process.exit(1);
}

main().catch((err) => {
	console.error("fatal:", err?.message ?? err);
	process.exit(1);
});
