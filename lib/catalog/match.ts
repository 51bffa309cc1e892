import type { CatalogRow } from "./types";

/**
 * Finding a catalog row by the names people type: the standard symbol (BTC-USDT-SPOT), the venue's
 * spelling (BTCUSDT, BTC/USD, EUR_USD), either without separators or case (btcusd, eurusd), the standard
 * symbol without its type (BTC-USDT: SPOT first), or an equity ticker alone (AAPL → AAPL.US-USD-CFD when
 * only one exchange lists it). Pure functions over the venue's rows.
 */
export type Candidate = Pick<CatalogRow, "venue" | "symbol" | "venueSymbol" | "base" | "quote" | "type" | "status" | "description">;

const plain = (s: string) => s.toUpperCase().replace(/[^A-Z0-9]/g, "");

/** SPOT before derivatives, online before the rest, then the shorter and code-point-first symbol. */
function prefer(a: Candidate, b: Candidate): number {
	const st = { online: 0, halted: 1, delisted: 2 } as const;
	return (a.type === "SPOT" ? 0 : 1) - (b.type === "SPOT" ? 0 : 1) || st[a.status] - st[b.status] || a.symbol.length - b.symbol.length || (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0);
}

export function resolveName<T extends Candidate>(rows: readonly T[], name: string): T | null {
	const s = name.trim().toUpperCase();
	const p = plain(s);
	const tiers: ((r: T) => boolean)[] = [
		(r) => r.symbol === s,
		(r) => r.venueSymbol.toUpperCase() === s,
		(r) => r.symbol === `${s}-SPOT` || r.symbol === s.replace(/[/_]/g, "-") + "-SPOT",
		(r) => plain(r.venueSymbol) === p,
		(r) => plain(r.base + r.quote) === p,
		(r) => r.base.includes(".") && plain(r.base.split(".")[0]) === p,
	];
	for (const t of tiers) {
		const hits = rows.filter(t);
		if (hits.length === 1 || (hits.length > 1 && t !== tiers[5])) return [...hits].sort(prefer)[0];
	}
	return null;
}

/** Edit distance (Levenshtein), for "did you mean". */
export function editDistance(a: string, b: string): number {
	const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
	for (let i = 1; i <= a.length; i++) {
		let diag = prev[0];
		prev[0] = i;
		for (let j = 1; j <= b.length; j++) {
			const tmp = prev[j];
			prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
			diag = tmp;
		}
	}
	return prev[b.length];
}

/** Up to `n` standard symbols closest to `name` (by its plain spelling against symbol and venue symbol), closest first. */
export function closestMatches(rows: readonly Candidate[], name: string, n = 5): string[] {
	const p = plain(name);
	if (!p) return [];
	const scored = rows.map((r) => {
		const d = Math.min(editDistance(p, plain(r.symbol)), editDistance(p, plain(r.venueSymbol)), editDistance(p, plain(r.symbol.replace(/-(SPOT|PERP|CFD|FUTURE_\d+)$/, ""))));
		// a candidate that contains the name (BTC in BTC-USDT-SPOT) is close whatever its length
		const contains = plain(r.symbol).includes(p) || plain(r.venueSymbol).includes(p) ? 0 : 1;
		return { r, score: contains * 100 + d };
	});
	scored.sort((a, b) => a.score - b.score || prefer(a.r, b.r));
	return scored.slice(0, n).map((x) => x.r.symbol);
}
