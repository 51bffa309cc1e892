import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";

/** The real Dukascopy recordings (dukascopy-node's test files), laid out as the datafeed's URLs. */
export const DUKASCOPY_FIXTURES = path.resolve(__dirname, "../../../shared/fixtures/dukascopy");

const BI5_RE = /^\/datafeed\/([A-Z0-9]+)\/(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})h_ticks\.bi5$/;
const JSON_RE = /^\/v1\/ticks\/([A-Z0-9]+-[A-Z0-9]+)\/(\d{4})\/([1-9]\d?)\/([1-9]\d?)\/(\d{1,2})$/;

/** A file to answer with: a path under the fixtures folder, or raw bytes. */
export type Served = string | Buffer;

export interface FakeRequest {
	path: string;
	/** "EURUSD" for both sources (the JSON code's dash removed) */
	instrument: string | null;
	hourStartMs: number | null;
	status: number;
}

/**
 * A local HTTP server that speaks both Dukascopy sources with the real URL layouts:
 *   {url}/datafeed/EURUSD/2019/01/04/00h_ticks.bi5   (.bi5 datafeed, month 0-based)
 *   {url}/v1/ticks/BTC-USD/2023/2/20/12              (JSON API, month 1-based)
 * and answers from the fixture files at those places (bi5/..., jsonapi/ticks-BTC-USD-2023-2-20-12.json).
 * Knobs: serve(): answer an hour with another recorded file; fallback: what any other hour gets (404 by
 * default, like a file Dukascopy does not have); publishedUntil: hours from here on answer 404 (not
 * published yet); fail(): the next n requests (or those of one hour) answer an error status;
 * latencyMs: a delay before each answer. Every request is recorded in `requests`.
 */
export class FakeDukascopy {
	readonly requests: FakeRequest[] = [];
	latencyMs = 0;
	publishedUntil = Infinity;
	fallback: (instrument: string, hourStartMs: number, kind: "bi5" | "json") => Served | null = () => null;
	private overrides = new Map<string, { bi5?: Served; json?: Served }>();
	private failures: { instrument?: string; hourStartMs?: number; status: number; left: number; retryAfter?: string }[] = [];

	private constructor(
		private readonly server: http.Server,
		readonly url: string,
	) {}

	get datafeedUrl(): string {
		return `${this.url}/datafeed`;
	}

	get jsonUrl(): string {
		return `${this.url}/v1`;
	}

	static async start(): Promise<FakeDukascopy> {
		let fake!: FakeDukascopy;
		const server = http.createServer((req, res) => void fake.handle(req, res));
		await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
		fake = new FakeDukascopy(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
		return fake;
	}

	/** Answer this hour with these files (paths under the fixtures folder, or bytes). */
	serve(instrument: string, hourStartMs: number, files: { bi5?: Served; json?: Served }): void {
		this.overrides.set(`${instrument}|${hourStartMs}`, files);
	}

	/** The next `times` matching requests answer `status` (with Retry-After when given). */
	fail(status: number, times: number, match: { instrument?: string; hourStartMs?: number; retryAfter?: string } = {}): void {
		this.failures.push({ ...match, status, left: times });
	}

	requestsFor(instrument: string): FakeRequest[] {
		return this.requests.filter((r) => r.instrument === instrument);
	}

	close(): Promise<void> {
		this.server.closeAllConnections();
		return new Promise((resolve) => this.server.close(() => resolve()));
	}

	private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
		const p = new URL(req.url ?? "/", this.url).pathname;
		const rec: FakeRequest = { path: p, instrument: null, hourStartMs: null, status: 0 };
		this.requests.push(rec);
		const answer = (status: number, body: Buffer | string = "", type = "text/plain", headers: Record<string, string> = {}) => {
			rec.status = status;
			res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body), ...headers });
			res.end(body);
		};
		if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
		if (req.method !== "GET") return answer(405, "method not allowed");

		let kind: "bi5" | "json";
		let fixture: string;
		const b = BI5_RE.exec(p);
		const j = b ? null : JSON_RE.exec(p);
		if (b) {
			const [, inst, y, mo, d, h] = b;
			kind = "bi5";
			rec.instrument = inst;
			rec.hourStartMs = Date.UTC(+y, +mo, +d, +h); // the datafeed's month is 0-based
			if (+mo > 11 || +h > 23) return answer(404, "no such file");
			fixture = path.join("bi5", inst, y, mo, d, `${h}h_ticks.bi5`);
		} else if (j) {
			const [, code, y, mo, d, h] = j;
			kind = "json";
			rec.instrument = code.replace("-", "");
			rec.hourStartMs = Date.UTC(+y, +mo - 1, +d, +h); // the JSON API's month is 1-based
			if (+mo > 12 || +h > 23) return answer(404, "{}", "application/json");
			fixture = path.join("jsonapi", `ticks-${code}-${y}-${mo}-${d}-${h}.json`);
		} else {
			return answer(404, "not found");
		}

		const f = this.failures.find((x) => x.left > 0 && (x.instrument === undefined || x.instrument === rec.instrument) && (x.hourStartMs === undefined || x.hourStartMs === rec.hourStartMs));
		if (f) {
			f.left--;
			return answer(f.status, `fake failure ${f.status}`, "text/plain", f.retryAfter ? { "retry-after": f.retryAfter } : {});
		}
		if (rec.hourStartMs! >= this.publishedUntil) return answer(404, "not published yet");

		const served = this.overrides.get(`${rec.instrument}|${rec.hourStartMs}`)?.[kind] ?? (fs.existsSync(path.join(DUKASCOPY_FIXTURES, fixture)) ? fixture : this.fallback(rec.instrument!, rec.hourStartMs!, kind));
		if (served === null || served === undefined) return answer(404, kind === "json" ? "{}" : "no such file");
		const body = typeof served === "string" ? fs.readFileSync(path.join(DUKASCOPY_FIXTURES, served)) : served;
		return answer(200, body, kind === "json" ? "application/json" : "application/octet-stream");
	}
}

/** The three recorded EURUSD hours, by hour of the day (0, 1, 2), for hours a test wants filled with real ticks. */
export const EURUSD_HOUR_FILES = ["bi5/EURUSD/2019/01/04/00h_ticks.bi5", "bi5/EURUSD/2019/01/04/01h_ticks.bi5", "bi5/EURUSD/2019/01/04/02h_ticks.bi5"];
export const EMPTY_BI5 = "bi5/empty.bi5";
export const BTCUSD_BI5 = "bi5/BTCUSD/2023/01/20/12h_ticks.bi5";
export const BTCUSD_JSON = "jsonapi/ticks-BTC-USD-2023-2-20-12.json";
