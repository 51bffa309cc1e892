import type { CatalogRow } from "./types";

/**
 * What adding a symbol sets in motion besides the stream: the history behind it, on the existing
 * machinery. Dukascopy: a dukascopy-backfill gap-fill job over the hours its calendar has open and the
 * database has no ticks for (GET /api/backfill lists it); Binance spot: klines
 * through exchange-history; Kraken: REST trades through exchange-history. Other rows (derivatives,
 * OANDA) have no history source here and get none.
 */
export interface HistoryRequest {
	action: string;
	params: Record<string, unknown>;
}

export function historyRequestFor(row: Pick<CatalogRow, "venue" | "venueSymbol" | "type" | "meta">, now: Date, spanMs: number): HistoryRequest | null {
	const from = new Date(now.getTime() - spanMs).toISOString();
	const to = now.toISOString();
	if (row.venue === "dukascopy") return { action: "dukascopy-backfill.fillGaps", params: { source: "dukascopy", instrument: row.venueSymbol, from, to } };
	if (row.venue === "binance" && row.type === "SPOT") return { action: "exchange-history.klines", params: { venue: "binance", symbol: row.venueSymbol, interval: "1m", from, to } };
	if (row.venue === "kraken") return { action: "exchange-history.krakenTrades", params: { pair: row.venueSymbol, from, to } };
	return null;
}
