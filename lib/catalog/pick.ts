import type { CatalogInstrument, InstrumentStatus } from "./types";

const STATUS_RANK: Record<InstrumentStatus, number> = { online: 0, halted: 1, delisted: 2 };

/**
 * When several venue symbols normalise to one standard symbol (Kraken's XBTUSD and a dark-pool or
 * renamed twin, a Binance pair listed twice across a rename), exactly one row is kept, by this rule:
 *   1. the better status: online, then halted, then delisted;
 *   2. then the venue symbol that spells the standard name most directly: its letters and digits equal
 *      BASE+QUOTE (BTCUSDT for BTC-USDT-SPOT) before any other spelling;
 *   3. then the shorter venue symbol;
 *   4. then the venue symbol first in code-point order.
 * The rule depends on the rows only, never on the order the venue listed them.
 */
export function pickPerSymbol(rows: readonly CatalogInstrument[]): { kept: CatalogInstrument[]; dropped: CatalogInstrument[] } {
	const bySymbol = new Map<string, CatalogInstrument[]>();
	for (const r of rows) {
		const l = bySymbol.get(r.symbol);
		if (l) l.push(r);
		else bySymbol.set(r.symbol, [r]);
	}
	const kept: CatalogInstrument[] = [];
	const dropped: CatalogInstrument[] = [];
	for (const group of bySymbol.values()) {
		const sorted = [...group].sort(compareCandidates);
		kept.push(sorted[0]);
		dropped.push(...sorted.slice(1));
	}
	return { kept, dropped };
}

function direct(r: CatalogInstrument): number {
	const plain = (s: string) => s.toUpperCase().replace(/[^A-Z0-9]/g, "");
	return plain(r.venueSymbol) === plain(r.base + r.quote) ? 0 : 1;
}

export function compareCandidates(a: CatalogInstrument, b: CatalogInstrument): number {
	return (
		STATUS_RANK[a.status] - STATUS_RANK[b.status] ||
		direct(a) - direct(b) ||
		a.venueSymbol.length - b.venueSymbol.length ||
		(a.venueSymbol < b.venueSymbol ? -1 : a.venueSymbol > b.venueSymbol ? 1 : 0)
	);
}
