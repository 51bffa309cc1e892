import { findInstrument, registerInstruments, type DukascopyInstrument } from "../backfill/dukascopy/instruments";
import { floorHour } from "../backfill/hours";
import type { PgDbAdapter } from "./pg-adapter";
import type { CatalogRow } from "./types";

/** A Dukascopy catalog row as the backfill's instrument (datafeed id, JSON code, decimal factor, first tick hour, calendar). */
export function dukascopyInstrumentOf(row: Pick<CatalogRow, "venueSymbol" | "symbol" | "base" | "quote" | "assetClass" | "meta">): DukascopyInstrument | null {
	const f = row.meta?.decimalFactor;
	if (typeof f !== "number" || f <= 0) return null;
	const decimals = Math.round(Math.log10(f));
	const first = typeof row.meta.startHourForTicks === "string" ? Date.parse(row.meta.startHourForTicks) : NaN;
	return {
		id: row.venueSymbol.toUpperCase(),
		code: typeof row.meta.code === "string" ? row.meta.code : `${row.base}-${row.quote}`,
		base: row.base,
		quote: row.quote,
		symbol: row.symbol,
		asset: row.assetClass,
		decimalFactor: f,
		decimals,
		firstTickHourMs: Number.isFinite(first) ? floorHour(first) : 0,
		exchange: typeof row.meta.exchange === "string" ? row.meta.exchange : null,
	};
}

/** Teach this process's backfill every Dukascopy instrument the catalog lists; returns how many it knows now. */
export async function registerCatalogInstruments(store: PgDbAdapter): Promise<number> {
	const rows = (await store.find({ query: { venue: "dukascopy" } })) as unknown as CatalogRow[];
	const list = rows.map(dukascopyInstrumentOf).filter((x): x is DukascopyInstrument => x !== null);
	registerInstruments(list);
	return list.length;
}

/** The active Dukascopy symbols of the catalog as backfill instruments (what auto-ingest follows besides AUTO_INGEST_INSTRUMENTS). */
export async function activeDukascopyInstruments(store: PgDbAdapter): Promise<DukascopyInstrument[]> {
	const rows = (await store.find({ query: { venue: "dukascopy", active: true } })) as unknown as CatalogRow[];
	return rows.map((r) => findInstrument(r.venueSymbol) ?? dukascopyInstrumentOf(r)).filter((x): x is DukascopyInstrument => x !== null);
}
