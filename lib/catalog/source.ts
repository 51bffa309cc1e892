import { httpGetJson, type HttpOptions } from "../net/http";
import { CatalogSourceError, type CatalogInstrument } from "./types";

/** An adapter's normalisation result: the instruments, and the venue rows it could not use (with why). */
export interface ParseResult {
	instruments: CatalogInstrument[];
	rejected: { venueSymbol: string; reason: string }[];
}

/** How adapters reach a venue: GET a URL and parse JSON (tests pass the real client pointed at a fake venue). */
export type JsonGetter = (url: string, opts: { signal?: AbortSignal; headers?: Record<string, string> }) => Promise<unknown>;

/**
 * The default getter: one attempt per sync (the catalog service retries a failed venue with its own
 * backoff), so an unreachable venue costs one quiet failure per round, not a burst of retries.
 */
export function httpJsonGetter(extra: HttpOptions = {}): JsonGetter {
	return (url, opts) => httpGetJson<unknown>(url, { retries: 0, timeoutMs: 30_000, ...extra, signal: opts.signal, headers: opts.headers });
}

export function isRecord(v: unknown): v is Record<string, unknown> {
	return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A venue's response must look like its instrument list before any row is touched: garbage is an error. */
export function expectShape(source: string, ok: boolean, what: string): void {
	if (!ok) throw new CatalogSourceError(source, `response is not ${what}`);
}

/** An empty list is refused too: a venue does not delist everything at once, a broken proxy might say so. */
export function nonEmpty(source: string, r: ParseResult): ParseResult {
	if (!r.instruments.length) throw new CatalogSourceError(source, `no usable instrument in the response (${r.rejected.length} rejected)`);
	return r;
}
