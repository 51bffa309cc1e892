import { ParamError } from "../lib/api/params";
import { loadConfig, ConfigError } from "../lib/config";
import { HISTORY_USAGE, klinesProgressLine, parseHistoryArgs, tradesProgressLine, type HistoryCommand } from "../lib/history/cli";
import { HistoryError } from "../lib/history/errors";
import { exchangeHistoryFromConfig } from "../lib/history/exchange-history";
import { startPipeline } from "./pipeline";

/**
 * `npm run history -- binance BTCUSDT 1m 2024-01-01 2024-01-02` / `kraken XBTUSD 2024-01-01 2024-01-02` /
 * `catalog 2024-01-01 2024-01-02`: exchange history from a terminal, with a progress line. Binance klines go
 * straight into `klines`; Kraken trades go through the market-data log. With the in-memory log this process
 * runs its own tick-writer and cascade and waits for them, so the trades and their candles are stored on exit.
 * Exit status: 0 done, 2 bad arguments or unknown symbol, 1 anything else.
 */
async function main(): Promise<number> {
	let cmd: HistoryCommand;
	let config;
	try {
		cmd = parseHistoryArgs(process.argv.slice(2));
		config = loadConfig({ LOG_LEVEL: "warn", ...process.env, METRICS_PORT: "0" });
	} catch (err) {
		if (err instanceof ParamError || err instanceof ConfigError) {
			console.error(`history: ${err.message}\n${HISTORY_USAGE}`);
			return 2;
		}
		throw err;
	}
	const storesTrades = cmd.venue !== "binance" && config.marketLog === "memory";
	const p = await startPipeline({ ...config, services: storesTrades ? ["tick-writer", "cascade-refresher"] : [] });
	const history = exchangeHistoryFromConfig(config, p.runtime.pool, () => p.runtime.log(), p.broker.logger);
	const tty = process.stderr.isTTY;
	const started = Date.now();
	let lastPrint = 0;
	const show = (line: string, final = false) => {
		if (tty) process.stderr.write(`\r${line}\x1b[K${final ? "\n" : ""}`);
		else if (final || Date.now() - lastPrint >= 1000) {
			process.stderr.write(line + "\n");
			lastPrint = Date.now();
		}
	};
	try {
		let result: unknown;
		let published = 0;
		if (cmd.venue === "binance") {
			let line = "";
			result = await history.klines({ ...cmd, onProgress: (x) => show((line = klinesProgressLine(x, Date.now() - started))) });
			if (line) show(line, true);
		} else if (cmd.venue === "kraken") {
			const { from, to } = cmd;
			let line = "";
			const r = await history.krakenTrades({ ...cmd, onProgress: (x) => show((line = tradesProgressLine(x, from, to, Date.now() - started))) });
			if (line) show(line, true);
			published = r.published;
			result = r;
		} else {
			const r = await history.catalog(cmd);
			published = r.krakenTrades.reduce((n, k) => n + k.published, 0);
			result = r;
		}
		if (storesTrades && published > 0) {
			process.stderr.write(`waiting for the tick-writer to store ${published} trades and the cascade to refresh their candles\n`);
			const log = await p.runtime.log();
			await log.flush();
			let seen = -1;
			let stalledSince = Date.now();
			for (;;) {
				const s = (await p.broker.call("tick-writer.stats")) as { trades: number } | null;
				const dirty = (await p.runtime.pool.query("SELECT count(*)::int AS n FROM dirty_buckets")).rows[0].n;
				if (s && s.trades >= published && dirty === 0) break;
				const now = (s?.trades ?? 0) * 1e9 + dirty;
				if (now !== seen) [seen, stalledSince] = [now, Date.now()];
				else if (Date.now() - stalledSince > 60_000) throw new Error(`the tick-writer stored ${s?.trades ?? 0} of ${published} trades and made no progress for 60 s`);
				await new Promise((r) => setTimeout(r, 100));
			}
		}
		console.log(JSON.stringify(result));
		return 0;
	} catch (err) {
		if (tty) process.stderr.write("\n");
		if (err instanceof ParamError || (err instanceof HistoryError && (err.code === "UNKNOWN_SYMBOL" || err.code === "BAD_PARAMETER"))) {
			console.error(`history: ${err.message}`);
			return 2;
		}
		if (err instanceof HistoryError) {
			console.error(`history: ${err.message}`);
			return 1;
		}
		throw err;
	} finally {
		await p.stop();
	}
}

main().then(
	(code) => process.exit(code),
	(err) => {
		console.error("history: fatal:", err?.stack ?? err);
		process.exit(1);
	},
);
