import { pickPerSymbol } from "./pick";
import type { CatalogInstrument, CatalogRow } from "./types";

/** The attributes a venue owns; a sync writes them and stamps changedAt for each one that changed. */
export const VENUE_ATTRIBUTES = ["venueSymbol", "assetClass", "base", "quote", "settle", "type", "expiry", "tickSize", "lotSize", "pricePrecision", "qtyPrecision", "status", "description", "meta"] as const;

export interface SyncPlan {
	insert: (CatalogInstrument & { active: boolean; changedAt: Record<string, string> })[];
	update: { id: string; set: Record<string, unknown> }[];
	/** Rows the venue no longer lists: marked delisted (kept, with their data and active flag). */
	delist: { id: string; set: Record<string, unknown> }[];
	unchanged: number;
	dropped: CatalogInstrument[]; // venue rows that lost the pick for their standard symbol
}

function same(a: unknown, b: unknown): boolean {
	if (a === b) return true;
	if (a === null || b === null || a === undefined || b === undefined) return (a ?? null) === (b ?? null);
	if (typeof a === "object" || typeof b === "object") return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
	return String(a) === String(b);
}

function sortKeys(v: unknown): unknown {
	if (Array.isArray(v)) return v.map(sortKeys);
	if (v && typeof v === "object") return Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
	return v;
}

/** Timestamps from the database come back as ISO with milliseconds; the adapters' expiry too. */
function normTime(v: unknown): unknown {
	return typeof v === "string" && !Number.isNaN(Date.parse(v)) && /T/.test(v) ? new Date(v).toISOString() : v;
}

/**
 * What a venue listing changes in the stored rows of that venue. New symbols come in inactive (adding is
 * the user's act); rows whose attributes differ get only those attributes written; rows the listing lacks
 * become delisted. The active flag is never touched by a sync.
 */
export function planSync(existing: readonly CatalogRow[], listing: readonly CatalogInstrument[], now: Date): SyncPlan {
	const { kept, dropped } = pickPerSymbol(listing);
	const iso = now.toISOString();
	const bySymbol = new Map(existing.map((r) => [r.symbol, r]));
	const plan: SyncPlan = { insert: [], update: [], delist: [], unchanged: 0, dropped };
	const listed = new Set<string>();
	for (const x of kept) {
		listed.add(x.symbol);
		const old = bySymbol.get(x.symbol);
		if (!old) {
			plan.insert.push({ ...x, active: false, changedAt: {} });
			continue;
		}
		const set: Record<string, unknown> = {};
		const changedAt = { ...(old.changedAt ?? {}) };
		for (const k of VENUE_ATTRIBUTES) {
			const a = k === "expiry" ? normTime(old[k]) : old[k];
			if (!same(a, x[k])) {
				set[k] = x[k];
				changedAt[k] = iso;
			}
		}
		if (Object.keys(set).length) plan.update.push({ id: old.id, set: { ...set, changedAt, updatedAt: iso } });
		else plan.unchanged++;
	}
	for (const old of existing) {
		if (listed.has(old.symbol) || old.status === "delisted") continue;
		plan.delist.push({ id: old.id, set: { status: "delisted", changedAt: { ...(old.changedAt ?? {}), status: iso }, updatedAt: iso } });
	}
	return plan;
}
