import { HttpError, httpGet, type HttpOptions, type RateLimiter } from "../../net/http";
import { decodeBi5TicksAsync } from "./bi5";
import type { DukascopyInstrument } from "./instruments";
import { decodeJsonTicks, parseJsonTicks } from "./jsonapi";
import { CorruptHourError, type DecodedHour } from "./ticks";
import { bi5HourUrl, jsonHourUrl } from "./urls";

/** One hour fetched: decoded ticks, or `published: false` when the source does not have the hour yet (HTTP 404). */
export type FetchedHour = { published: true; hour: DecodedHour; bytes: number } | { published: false; url: string };

/** Both Dukascopy sources behind one interface. Both are unofficial: expect change, keep each small. */
export interface DukascopySource {
	readonly name: "bi5" | "json";
	fetchHour(inst: DukascopyInstrument, hourStartMs: number, signal?: AbortSignal): Promise<FetchedHour>;
}

export interface SourceOptions {
	baseUrl: string;
	limiter?: RateLimiter;
	/** httpGet's own retries for transient failures (network, timeout, 5xx, 429). */
	retries?: number;
	baseDelayMs?: number;
	maxDelayMs?: number;
	timeoutMs?: number;
	onRetry?: HttpOptions["onRetry"];
}

function httpOpts(o: SourceOptions, signal?: AbortSignal): HttpOptions {
	return { limiter: o.limiter, retries: o.retries, baseDelayMs: o.baseDelayMs, maxDelayMs: o.maxDelayMs, timeoutMs: o.timeoutMs, onRetry: o.onRetry, signal, okStatuses: [404] };
}

/** The .bi5 datafeed (datafeed.dukascopy.com/datafeed). An hour without ticks is an empty file. */
export class Bi5Source implements DukascopySource {
	readonly name = "bi5" as const;
	constructor(private readonly opts: SourceOptions) {}

	async fetchHour(inst: DukascopyInstrument, hourStartMs: number, signal?: AbortSignal): Promise<FetchedHour> {
		const url = bi5HourUrl(this.opts.baseUrl, inst.id, hourStartMs);
		const res = await httpGet(url, httpOpts(this.opts, signal));
		if (res.status === 404) return { published: false, url };
		return { published: true, hour: await decodeBi5TicksAsync(res.body, inst.id, hourStartMs), bytes: res.body.length };
	}
}

/** The JSON API (jetta.dukascopy.com/v1). */
export class JsonApiSource implements DukascopySource {
	readonly name = "json" as const;
	constructor(private readonly opts: SourceOptions) {}

	async fetchHour(inst: DukascopyInstrument, hourStartMs: number, signal?: AbortSignal): Promise<FetchedHour> {
		const url = jsonHourUrl(this.opts.baseUrl, inst.code, hourStartMs);
		const res = await httpGet(url, { ...httpOpts(this.opts, signal), headers: { accept: "application/json" } });
		if (res.status === 404) return { published: false, url };
		let body: unknown;
		try {
			body = parseJsonTicks(res.body.toString("utf8"));
		} catch (err) {
			throw new CorruptHourError(inst.id, hourStartMs, `JSON API: response is not JSON (${res.body.length} bytes: ${(err as Error).message})`, { cause: err });
		}
		return { published: true, hour: decodeJsonTicks(body, inst, hourStartMs), bytes: res.body.length };
	}
}

export function createSource(kind: "bi5" | "json", opts: { bi5Url: string; jsonUrl: string } & Omit<SourceOptions, "baseUrl">): DukascopySource {
	const { bi5Url, jsonUrl, ...rest } = opts;
	return kind === "json" ? new JsonApiSource({ ...rest, baseUrl: jsonUrl }) : new Bi5Source({ ...rest, baseUrl: bi5Url });
}

/** Worth trying the hour again later: the network or the venue failed, not the data. */
export function isTransient(err: unknown): boolean {
	return err instanceof HttpError && err.transient;
}
