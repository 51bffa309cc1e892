import type { BookSymbolSetting } from "../config";
import { canonicalSymbol, wsSymbol, wsSymbolOf } from "../venues/kraken/symbols";
import type { BookTarget } from "./types";

/**
 * Which books the orderbook-poller snapshots. From the symbol catalog when it runs (`symbols.list` with
 * `{active: true}`), else from the configuration: KRAKEN_SYMBOLS and ORDERBOOK_SYMBOLS.
 *
 * Binance standard symbols: BASE-QUOTE-SPOT is spot (BTCUSDT on /api/v3/depth), BASE-QUOTE-PERP a USD-M
 * perpetual (BTCUSDT on /fapi/v1/depth), BASE-QUOTE-FUTURE_YYMMDD a USD-M delivery contract (BTCUSDT_240329).
 * Inverse (COIN-M) contracts are not polled: only spot and USD-M depth are in scope.
 */

/** A row of the catalog's `symbols.list`, as far as books need it. */
export interface CatalogRow {
	venue: string;
	venueSymbol?: string;
	symbol: string;
	type?: string;
	base?: string;
	quote?: string;
	settle?: string | null;
	active?: boolean;
}

const BINANCE_STD_RE = /^([A-Z0-9.]+)-([A-Z0-9.]+)-(SPOT|PERP|FUTURE_(\d{6}))$/;

/** A Binance standard symbol as a target; null when it is not a spot or USD-M book. */
export function binanceTarget(symbol: string, venueSymbol?: string): BookTarget | null {
	const m = BINANCE_STD_RE.exec(symbol.toUpperCase());
	if (!m) return null;
	const [, base, quote, kind, expiry] = m;
	const market = kind === "SPOT" ? "binance-spot" : "binance-usdm";
	return { venue: "binance", symbol: symbol.toUpperCase(), venueSymbol: venueSymbol ?? (expiry ? `${base}${quote}_${expiry}` : `${base}${quote}`), market };
}

export function krakenTarget(wsOrStandard: string): BookTarget {
	const ws = wsSymbolOf(wsOrStandard);
	return { venue: "kraken", symbol: canonicalSymbol(ws), venueSymbol: ws, market: "kraken-spot" };
}

/** KRAKEN_SYMBOLS and ORDERBOOK_SYMBOLS, without duplicates. */
export function targetsFromConfig(krakenSymbols: readonly string[], orderbookSymbols: readonly BookSymbolSetting[]): BookTarget[] {
	const out = new Map<string, BookTarget>();
	const add = (t: BookTarget | null) => t && out.set(`${t.venue}/${t.symbol}`, t);
	for (const s of krakenSymbols) add(krakenTarget(wsSymbol(s)));
	for (const s of orderbookSymbols) add(s.venue === "kraken" ? krakenTarget(s.symbol) : binanceTarget(s.symbol));
	return [...out.values()];
}

/**
 * The catalog's active rows as targets: Kraken rows (spot pairs), Binance spot and USD-M rows. An inverse
 * contract (settled in its base asset: COIN-M) and rows of other venues are left out.
 */
export function targetsFromCatalog(rows: readonly CatalogRow[]): BookTarget[] {
	const out = new Map<string, BookTarget>();
	for (const r of rows) {
		if (r.active === false) continue;
		let t: BookTarget | null = null;
		if (r.venue === "kraken") {
			try {
				t = krakenTarget(r.venueSymbol ?? r.symbol);
				t.symbol = r.symbol;
			} catch {
				t = null; // not a spot pair name the v2 API knows
			}
		} else if (r.venue === "binance") {
			const inverse = r.settle && r.base && r.settle.toUpperCase() === r.base.toUpperCase() && !r.symbol.toUpperCase().endsWith("-SPOT");
			if (!inverse) t = binanceTarget(r.symbol, r.venueSymbol);
		}
		if (t) out.set(`${t.venue}/${t.symbol}`, t);
	}
	return [...out.values()];
}

/** One page of the catalog's `symbols.list`. */
export type CatalogPage = { items: CatalogRow[]; nextCursor?: string | null };

/** Every active catalog row, page by page (at most `maxPages` pages of `pageSize`). */
export async function loadActiveCatalog(list: (params: { active: true; limit: number; cursor?: string }) => Promise<CatalogPage>, pageSize = 500, maxPages = 200): Promise<CatalogRow[]> {
	const rows: CatalogRow[] = [];
	let cursor: string | undefined;
	for (let i = 0; i < maxPages; i++) {
		const page = await list(cursor ? { active: true, limit: pageSize, cursor } : { active: true, limit: pageSize });
		rows.push(...(page.items ?? []));
		if (!page.nextCursor) return rows;
		cursor = page.nextCursor;
	}
	return rows;
}

export interface TargetListOptions {
	/** Whether the symbol catalog runs somewhere now. */
	catalogAvailable(): boolean;
	listCatalog(params: { active: true; limit: number; cursor?: string }): Promise<CatalogPage>;
	/** The fallback list (KRAKEN_SYMBOLS, ORDERBOOK_SYMBOLS). */
	configured: () => BookTarget[];
	onChange(targets: BookTarget[], from: "catalog" | "config"): void;
	onError(err: unknown): void;
}

/**
 * The books to poll, reloaded on demand (a `symbols.changed` event, a service coming or going, a timer). A reload
 * asked for while one runs is folded into one more run; a failed reload keeps the previous list.
 */
export class TargetList {
	targets: BookTarget[] = [];
	from: "catalog" | "config" = "config";
	private running: Promise<void> | null = null;
	private again = false;

	constructor(private readonly opts: TargetListOptions) {}

	refresh(): Promise<void> {
		if (this.running) {
			this.again = true;
			return this.running;
		}
		const run: Promise<void> = this.load()
			.catch((err) => this.opts.onError(err))
			.finally(() => {
				this.running = null;
				if (this.again) {
					this.again = false;
					void this.refresh();
				}
			});
		this.running = run;
		return run;
	}

	/**
	 * Reloads only when the catalog appeared or went away since the last load: `$services.changed` fires for
	 * every node that joins or leaves, and the list only depends on whether the catalog is there.
	 */
	refreshIfSourceChanged(): Promise<void> {
		const from = this.opts.catalogAvailable() ? "catalog" : "config";
		return from === this.from && !this.running ? Promise.resolve() : this.refresh();
	}

	/** Resolves once no reload is running. */
	async settled(): Promise<void> {
		while (this.running) await this.running;
	}

	private async load(): Promise<void> {
		let next: BookTarget[];
		let from: "catalog" | "config";
		if (this.opts.catalogAvailable()) {
			next = targetsFromCatalog(await loadActiveCatalog((p) => this.opts.listCatalog(p)));
			from = "catalog";
		} else {
			next = this.opts.configured();
			from = "config";
		}
		const names = (l: BookTarget[]) => l.map((t) => `${t.venue}:${t.symbol}`).sort().join(",");
		if (from === this.from && names(next) === names(this.targets) && this.targets.length) return;
		this.targets = next;
		this.from = from;
		this.opts.onChange(next, from);
	}
}
