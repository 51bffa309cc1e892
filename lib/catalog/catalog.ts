import type { PgDbAdapter } from "./pg-adapter";
import { closestMatches, resolveName } from "./match";
import { planSync } from "./sync";
import type { CatalogRow, VenueCatalogAdapter } from "./types";

/** A name the catalog does not know, with the closest ones it does (the REST layer makes it a 404). */
export class UnknownSymbolError extends Error {
	constructor(
		readonly venue: string,
		readonly requested: string,
		readonly matches: string[],
		readonly venueKnown = true,
	) {
		super(
			venueKnown
				? `unknown symbol ${JSON.stringify(requested)} on ${venue}${matches.length ? `; closest: ${matches.join(", ")}` : ""}`
				: `unknown venue ${JSON.stringify(venue)}${matches.length ? `; known venues: ${matches.join(", ")}` : ""}`,
		);
		this.name = "UnknownSymbolError";
	}
}

export interface ListQuery {
	venue?: string;
	symbol?: string;
	type?: string;
	active?: boolean;
	q?: string;
	limit: number;
	cursor?: string | null;
}

export interface SymbolsChanged {
	venue: string;
	symbols: string[]; // all active venue symbols of the venue, as the venue spells them
	added: string[];
	removed: string[];
}

export interface SyncOutcome {
	venue: string;
	sources: { source: string; ok: boolean; error?: string; listed?: number; inserted?: number; updated?: number; delisted?: number; dropped?: number }[];
}

/** The list cursor: the last id returned (keyset over venue:symbol). */
export function encodeListCursor(id: string): string {
	return Buffer.from(id, "utf8").toString("base64url");
}
export function decodeListCursor(c: string): string | null {
	const id = Buffer.from(c, "base64url").toString("utf8");
	return /^[a-z0-9-]{1,32}:[A-Z0-9._\-]{1,64}$/.test(id) ? id : null;
}

/**
 * The symbol catalog over its moleculer-db adapter: list, resolve, activate, deactivate, sync from venues.
 * The service (services/symbol-catalog.service.ts) wraps it; events go out through `onChanged`.
 */
export class Catalog {
	constructor(
		private readonly store: PgDbAdapter,
		private readonly adapters: readonly VenueCatalogAdapter[],
		private readonly now: () => Date = () => new Date(),
	) {}

	venues(): string[] {
		return [...new Set(this.adapters.map((a) => a.venue))];
	}

	async list(q: ListQuery): Promise<{ items: CatalogRow[]; nextCursor: string | null }> {
		const query: Record<string, unknown> = {};
		if (q.venue) query.venue = q.venue;
		if (q.symbol) query.symbol = q.symbol.toUpperCase();
		if (q.type) query.type = q.type.toUpperCase();
		if (q.active !== undefined) query.active = q.active;
		if (q.cursor) query.id = { $gt: q.cursor };
		const rows = (await this.store.find({ query, search: q.q, searchFields: ["venueSymbol", "symbol", "description"], sort: ["id"], limit: q.limit + 1 })) as unknown as CatalogRow[];
		const items = rows.slice(0, q.limit);
		return { items, nextCursor: rows.length > q.limit ? encodeListCursor(items[items.length - 1].id) : null };
	}

	private async venueRows(venue: string): Promise<CatalogRow[]> {
		return (await this.store.find({ query: { venue } })) as unknown as CatalogRow[];
	}

	/** Any spelling of a symbol → its row; UnknownSymbolError with the closest matches otherwise. */
	async resolve(venue: string, name: string): Promise<CatalogRow> {
		const v = venue.trim().toLowerCase();
		const rows = await this.venueRows(v);
		if (!rows.length) {
			if (this.venues().includes(v)) throw new UnknownSymbolError(v, name, []); // a configured venue not synced yet
			const stored = (await this.store.find({ query: { venue: { $ne: v } }, sort: ["venue"], limit: 1000 })) as unknown as CatalogRow[];
			const known = new Set([...this.venues(), ...stored.map((r) => r.venue)]);
			throw new UnknownSymbolError(v, name, [...known].sort().slice(0, 5), false);
		}
		const row = resolveName(rows, name);
		if (!row) throw new UnknownSymbolError(v, name, closestMatches(rows, name));
		return row;
	}

	async activeVenueSymbols(venue: string): Promise<string[]> {
		const rows = (await this.store.find({ query: { venue, active: true }, sort: ["venueSymbol"] })) as unknown as CatalogRow[];
		return rows.map((r) => r.venueSymbol);
	}

	private async setActive(venue: string, name: string, active: boolean): Promise<{ row: CatalogRow; changed: SymbolsChanged | null }> {
		const row = await this.resolve(venue, name);
		if (row.active === active) return { row, changed: null };
		const iso = this.now().toISOString();
		const stored = (await this.store.updateById(row.id, { $set: { active, changedAt: { ...row.changedAt, active: iso }, updatedAt: iso } })) as unknown as CatalogRow;
		const symbols = await this.activeVenueSymbols(row.venue);
		return { row: stored, changed: { venue: row.venue, symbols, added: active ? [row.venueSymbol] : [], removed: active ? [] : [row.venueSymbol] } };
	}

	/**
	 * Activate a symbol. A name the stored rows do not know, on a venue this catalog syncs, gets one sync
	 * of that venue first (a symbol listed since the last sync, or a first start that could not sync yet).
	 */
	async add(venue: string, name: string, syncVenue: (venue: string) => Promise<unknown> = (v) => this.sync(v)) {
		try {
			return await this.setActive(venue, name, true);
		} catch (err) {
			const v = venue.trim().toLowerCase();
			if (!(err instanceof UnknownSymbolError) || !this.venues().includes(v)) throw err;
			await syncVenue(v);
			return this.setActive(venue, name, true);
		}
	}

	remove(venue: string, name: string) {
		return this.setActive(venue, name, false);
	}

	/**
	 * Fetch every source of the venue and apply its listing. A source that fails (unreachable, 500, garbage)
	 * changes nothing: its rows stay as they were, and the outcome says why. The venues are asked first and
	 * the rows written inside `exclusive` (the venue's lock), so a slow venue never holds the lock.
	 */
	async sync(venue: string, signal?: AbortSignal, exclusive: <T>(fn: () => Promise<T>) => Promise<T> = (fn) => fn()): Promise<SyncOutcome> {
		const outcome: SyncOutcome = { venue, sources: [] };
		const listings: { source: VenueCatalogAdapter; listing: Awaited<ReturnType<VenueCatalogAdapter["load"]>> }[] = [];
		for (const a of this.adapters.filter((x) => x.venue === venue)) {
			try {
				listings.push({ source: a, listing: await a.load(signal) });
			} catch (err) {
				outcome.sources.push({ source: a.source, ok: false, error: (err as Error).message });
			}
		}
		if (!listings.length) return outcome;
		await exclusive(async () => {
			// read once: each source of a venue plans over its own rows only (`owns`), so another source's writes
			// in this loop never enter its plan
			const rows = await this.venueRows(venue);
			for (const { source: a, listing } of listings) {
				const existing = rows.filter((r) => (a.owns ? a.owns(r) : true));
				const plan = planSync(existing, listing, this.now());
				if (plan.insert.length) await this.store.insertMany(plan.insert.map((x) => ({ ...x, updatedAt: this.now().toISOString() })));
				for (const u of [...plan.update, ...plan.delist]) await this.store.updateById(u.id, { $set: u.set });
				outcome.sources.push({ source: a.source, ok: true, listed: listing.length, inserted: plan.insert.length, updated: plan.update.length, delisted: plan.delist.length, dropped: plan.dropped.length });
			}
		});
		return outcome;
	}
}

/**
 * Make sure `venueSymbols` exist and are active, for a first start (KRAKEN_SYMBOLS seeds kraken-stream once).
 * "First start": no row of the venue has ever been activated or deactivated (no changedAt.active). Rows
 * the catalog has not synced yet are inserted from what the caller knows, and a later sync completes them.
 */
export async function seedActiveOnce(store: PgDbAdapter, venue: string, seeds: readonly Omit<CatalogRow, "id" | "active" | "updatedAt" | "createdAt" | "changedAt">[], now = new Date()): Promise<string[]> {
	const rows = (await store.find({ query: { venue } })) as unknown as CatalogRow[];
	if (rows.some((r) => r.active || r.changedAt?.active)) return [];
	const iso = now.toISOString();
	const seeded: string[] = [];
	for (const s of seeds) {
		const old = rows.find((r) => r.symbol === s.symbol);
		if (old) await store.updateById(old.id, { $set: { active: true, changedAt: { ...old.changedAt, active: iso }, updatedAt: iso } });
		else await store.insert({ ...s, active: true, changedAt: { active: iso }, updatedAt: iso });
		seeded.push(s.venueSymbol);
	}
	return seeded;
}
