import { ParamError } from "../api/params";
import type { KlinesProgress } from "./binance-history";
import type { KrakenTradesProgress } from "./kraken-trades";
import { historyRange, klineInterval } from "./params";

/** The history CLI's command line, checked: `binance SYMBOL INTERVAL FROM TO`, `kraken PAIR FROM TO [--full]`, `catalog FROM TO [INTERVAL]`. */
export type HistoryCommand =
	| { venue: "binance"; symbol: string; interval: string; from: number; to: number }
	| { venue: "kraken"; pair: string; from: number; to: number; full: boolean }
	| { venue: "catalog"; interval: string; from: number; to: number };

export const HISTORY_USAGE = `usage:
  npm run history -- binance SYMBOL INTERVAL FROM TO     e.g. binance BTCUSDT 1m 2024-01-01 2024-01-02
  npm run history -- kraken PAIR FROM TO [--full]         e.g. kraken XBTUSD 2024-01-01 2024-01-02
  npm run history -- catalog FROM TO [INTERVAL]           every active crypto symbol of the catalog
FROM and TO: ISO-8601 dates or times (UTC) or epoch milliseconds; TO is exclusive.`;

export function parseHistoryArgs(argv: readonly string[]): HistoryCommand {
	const flags = argv.filter((a) => a.startsWith("--"));
	const args = argv.filter((a) => !a.startsWith("--"));
	const [venue, ...rest] = args;
	const unknown = flags.filter((f) => !(venue === "kraken" && f === "--full"));
	if (unknown.length) throw new ParamError("args", `unknown option ${unknown[0]}`);
	const range = (from: string | undefined, to: string | undefined) => historyRange({ from, to });
	switch (venue) {
		case "binance": {
			if (rest.length !== 4) throw new ParamError("args", "binance takes SYMBOL INTERVAL FROM TO");
			const [symbol, interval, from, to] = rest;
			return { venue, symbol, interval: klineInterval({ interval }), ...range(from, to) };
		}
		case "kraken": {
			if (rest.length !== 3) throw new ParamError("args", "kraken takes PAIR FROM TO");
			const [pair, from, to] = rest;
			return { venue, pair, full: flags.includes("--full"), ...range(from, to) };
		}
		case "catalog": {
			if (rest.length < 2 || rest.length > 3) throw new ParamError("args", "catalog takes FROM TO [INTERVAL]");
			const [from, to, interval] = rest;
			return { venue, interval: klineInterval({ interval }, "1m"), ...range(from, to) };
		}
		default:
			throw new ParamError("venue", venue === undefined ? "say which venue: binance, kraken or catalog" : `unknown venue ${JSON.stringify(venue)}: binance, kraken or catalog`);
	}
}

function eta(doneFraction: number, elapsedMs: number): string {
	if (!(doneFraction > 0) || doneFraction >= 1) return doneFraction >= 1 ? "done" : "ETA ?";
	const s = Math.round((elapsedMs * (1 - doneFraction)) / doneFraction / 1000);
	return `ETA ${s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`}`;
}

function bar(fraction: number, width = 20): string {
	const n = Math.max(0, Math.min(width, Math.round(fraction * width)));
	return `[${"#".repeat(n)}${".".repeat(width - n)}]`;
}

/** One progress line for a klines run. */
export function klinesProgressLine(p: KlinesProgress, elapsedMs: number): string {
	const f = p.klinesMissing ? p.klinesDone / p.klinesMissing : 1;
	return `binance ${p.symbol} ${p.interval} ${bar(f)} ${(f * 100).toFixed(1)}% ${p.klinesDone}/${p.klinesMissing} klines, ${p.pages} pages, ${p.inserted} inserted, at ${new Date(p.at).toISOString()}, ${eta(f, elapsedMs)}`;
}

/** One progress line for a Kraken trades run, progress measured in time covered of [from, to). */
export function tradesProgressLine(p: KrakenTradesProgress, from: number, to: number, elapsedMs: number): string {
	const f = Number.isFinite(p.at) ? Math.max(0, Math.min(1, (p.at - from) / (to - from))) : 0;
	const at = Number.isFinite(p.at) ? new Date(p.at).toISOString() : "-";
	return `kraken ${p.symbol} trades ${bar(f)} ${(f * 100).toFixed(1)}% ${p.published} trades, ${p.pages} pages, at ${at}, ${eta(f, elapsedMs)}`;
}
