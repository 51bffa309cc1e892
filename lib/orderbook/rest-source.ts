import type { BinanceDepthRest } from "../venues/binance/rest";
import type { KrakenRest } from "../venues/kraken/rest";
import { depthLimit, depthWeight, BINANCE_WEIGHT_LIMIT_PER_MIN } from "../venues/binance/rest";
import type { BookSnapshot, BookTarget } from "./types";

/** The venue clients REST snapshots go through; a market without a client is not polled. */
export interface RestBookClients {
	kraken: Pick<KrakenRest, "depth"> | null;
	binanceSpot: Pick<BinanceDepthRest, "depth"> | null;
	binanceUsdm: Pick<BinanceDepthRest, "depth"> | null;
}

/**
 * One REST snapshot of a target's book at `depth` levels: Binance's lastUpdateId, the exchange's time when it
 * sends one (USD-M `T`), else the retrieval time (spot depth and Kraken's Depth carry no book time).
 */
export async function takeRestSnapshot(clients: RestBookClients, target: BookTarget, depth: number, signal?: AbortSignal): Promise<Omit<BookSnapshot, "venue" | "symbol" | "source">> {
	if (target.market === "kraken-spot") {
		if (!clients.kraken) throw new Error("no Kraken REST client");
		const d = await clients.kraken.depth(target.venueSymbol, depth, signal);
		return { time: d.recvTime, recvTime: d.recvTime, lastUpdateId: null, checksum: null, bids: d.bids, asks: d.asks };
	}
	const client = target.market === "binance-spot" ? clients.binanceSpot : clients.binanceUsdm;
	if (!client) throw new Error(`no ${target.market} REST client`);
	const d = await client.depth(target.venueSymbol, depth, signal);
	// Binance serves at least `depth` levels (USD-M only in fixed sizes): keep what was asked for.
	return { time: d.time ?? d.recvTime, recvTime: d.recvTime, lastUpdateId: d.lastUpdateId, checksum: null, bids: d.bids.slice(0, depth), asks: d.asks.slice(0, depth) };
}

/**
 * Weight per minute the Binance targets need at this interval and depth, against the budget (share of the
 * limit): over budget, snapshots queue behind the limiter and some slots end before their turn.
 */
export function binanceWeightNeed(targets: readonly BookTarget[], depth: number, intervalMs: number, share: number): { market: "spot" | "usdm"; needPerMin: number; budgetPerMin: number }[] {
	const out: { market: "spot" | "usdm"; needPerMin: number; budgetPerMin: number }[] = [];
	for (const market of ["spot", "usdm"] as const) {
		const n = targets.filter((t) => t.market === `binance-${market}`).length;
		if (!n) continue;
		const needPerMin = (n * depthWeight(market, depthLimit(market, depth)) * 60_000) / intervalMs;
		out.push({ market, needPerMin, budgetPerMin: BINANCE_WEIGHT_LIMIT_PER_MIN[market] * share });
	}
	return out;
}
