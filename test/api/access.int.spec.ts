import fc from "fast-check";
import http from "node:http";
import net from "node:net";
import { freshDatabase, waitFor, type TestDb } from "../helpers/db";
import { freePort } from "../helpers/net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { runCli, startService, type Child } from "../helpers/proc";

/**
 * Access rules and limits of the REST gateway, against `npm start` (bin/start.ts) as a real process on the
 * machine's PostgreSQL. Every rule is decided by HTTP method, so routes served by no local service
 * (POST /api/backfill here) and routes that do not exist are guarded too.
 */

const WRITE = "w-0123456789abcdef0123456789abcdef";
const READ = "r-0123456789abcdef0123456789abcdef";

interface Answer {
	status: number;
	headers: Headers;
	body: any;
}

async function call(base: string, method: string, path: string, opts: { token?: string; body?: string; type?: string } = {}): Promise<Answer> {
	const headers: Record<string, string> = {};
	if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
	if (opts.body !== undefined) headers["content-type"] = opts.type ?? "application/json";
	const res = await fetch(base + path, { method, headers, body: opts.body });
	const text = await res.text();
	let body: any = text;
	try {
		body = JSON.parse(text);
	} catch {
		/* not JSON */
	}
	return { status: res.status, headers: res.headers, body };
}

/** A body sent in pieces with no Content-Length, as a client streaming junk would: only counting can stop it. */
function postChunked(port: number, path: string, token: string, pieces: number, piece: Buffer): Promise<{ status: number; body: string }> {
	return new Promise((resolve, reject) => {
		const req = http.request({ host: "127.0.0.1", port, path, method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/x-ndjson", "transfer-encoding": "chunked" } }, (res) => {
			let body = "";
			res.on("data", (c) => (body += c));
			res.on("end", () => resolve({ status: res.statusCode!, body }));
			res.on("error", reject);
		});
		req.on("error", reject);
		let i = 0;
		const write = () => {
			while (i < pieces) {
				i++;
				if (!req.write(piece)) return void req.once("drain", write);
			}
			req.end();
		};
		write();
	});
}

/** Ingest takes only markets the catalog knows (INGEST_ALLOW_UNKNOWN unset): the one these tests send. */
const knowMarket = (db: TestDb) =>
	db.pool.query(`INSERT INTO symbols (venue, symbol, venue_symbol, asset_class, base, quote) VALUES ('kraken', 'BTC-USD-SPOT', 'BTC/USD', 'crypto', 'BTC', 'USD') ON CONFLICT DO NOTHING`);

const trade = (id: number, price = "42000.5", qty = "0.25") => JSON.stringify({ venue: "kraken", symbol: "BTC-USD-SPOT", tradeId: String(id), side: "buy", price, qty, time: `2024-01-15T10:00:${String(id % 60).padStart(2, "0")}Z` });

describe("the api behind API_TOKEN and API_READ_TOKEN (npm start as a process)", () => {
	let db: TestDb;
	let child: Child;
	let base: string;
	let port: number;

	beforeAll(async () => {
		db = await freshDatabase("access");
		port = await freePort();
		base = `http://127.0.0.1:${port}`;
		child = startService({
			DATABASE_URL: db.url,
			SERVICES: "api,tick-writer",
			MARKET_LOG: "memory",
			TRANSPORTER: "",
			REDIS_URL: "",
			PORT: String(port),
			METRICS_PORT: "0",
			API_HOST: "",
			API_TOKEN: WRITE,
			API_READ_TOKEN: READ,
			API_INGEST_MAX_BYTES: String(64 * 1024),
			API_INGEST_MAX_LINES: "50",
			API_WRITE_RATE_PER_MIN: "60",
			API_WRITE_BURST: "40",
			API_REQUEST_TIMEOUT_MS: "2000",
		});
		await child.waitForOutput(/pipeline up/, 60_000);
		await knowMarket(db);
	});
	afterAll(async () => {
		await child?.kill("SIGKILL");
		await db?.drop();
	});

	it("listens on every interface when a token is set, and never prints a token", () => {
		expect(child.output()).toMatch(new RegExp(`api listening on 0\\.0\\.0\\.0:${port}`));
		expect(child.output()).not.toContain(WRITE);
		expect(child.output()).not.toContain(READ);
	});

	it("refuses writes without the write token, whatever the route, and never echoes the token sent", async () => {
		for (const path of ["/api/ingest", "/api/backfill", "/api/history/klines", "/api/no-such-route"]) {
			const none = await call(base, "POST", path, { body: "{}" });
			expect([path, none.status, none.body.type]).toEqual([path, 401, "UNAUTHORIZED"]);
			expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
			const wrong = await call(base, "POST", path, { token: WRITE.slice(0, -1) + "X", body: "{}" });
			expect([path, wrong.status]).toEqual([path, 401]);
			expect(JSON.stringify(wrong.body)).not.toContain(WRITE.slice(0, 10));
			const readTokenWrite = await call(base, "POST", path, { token: READ, body: "{}" });
			expect([path, readTokenWrite.status]).toEqual([path, 401]);
		}
		expect((await call(base, "DELETE", "/api/gaps")).status).toBe(401);
	});

	it("lets reads through with the read or the write token only; health and readiness stay open for probes", async () => {
		expect((await call(base, "GET", "/api/freshness")).status).toBe(401);
		expect((await call(base, "GET", "/api/freshness", { token: "nope-nope-nope-nope" })).status).toBe(401);
		expect((await call(base, "GET", "/api/freshness", { token: READ })).status).toBe(200);
		expect((await call(base, "GET", "/api/freshness", { token: WRITE })).status).toBe(200);
		expect((await call(base, "GET", "/api/health")).status).toBe(200);
		const ready = await call(base, "GET", "/api/ready");
		expect([ready.status, ready.body.checks]).toEqual([200, { database: "ok", log: "ok", feeds: "ok" }]);
	});

	it("ingests JSON lines as a stream, refusing a zero price and junk by line and field, keeping the good ones", async () => {
		const body = [trade(1), trade(2, "0"), "not json at all", trade(3, "42001", "0"), trade(4)].join("\n");
		const r = await call(base, "POST", "/api/ingest", { token: WRITE, body, type: "application/x-ndjson" });
		expect(r.status).toBe(200);
		expect(r.body).toMatchObject({ lines: 5, published: 2, rejected: 3 });
		expect(r.body.errors).toEqual([
			{ line: 2, reason: 'price "0" is not a decimal string > 0' },
			{ line: 3, reason: expect.stringMatching(/^not JSON/) },
			{ line: 4, reason: 'qty "0" is not a decimal string > 0' },
		]);
		// the older {"lines": "..."} body still works, escapes and all
		const wrapped = await call(base, "POST", "/api/ingest", { token: WRITE, body: JSON.stringify({ lines: [trade(5), trade(6)].join("\r\n") }) });
		expect([wrapped.status, wrapped.body.published]).toEqual([200, 2]);
		await waitFor(async () => {
			const t = await call(base, "GET", "/api/trades?venue=kraken&symbol=BTC-USD-SPOT&from=2024-01-15T10:00:00Z&to=2024-01-15T10:01:00Z", { token: READ });
			return t.status === 200 && t.body.items?.length === 4;
		}, { what: "the four good trades stored" });
		const { rows } = await db.pool.query("SELECT trade_id::text FROM trades ORDER BY trade_id");
		expect(rows.map((x) => x.trade_id)).toEqual(["1", "4", "5", "6"]);
	});

	it("answers 413 for a body past its route's limit, declared or streamed, and past the line cap", async () => {
		const declared = await call(base, "POST", "/api/ingest", { token: WRITE, body: trade(7) + "\n" + "x".repeat(70 * 1024), type: "application/x-ndjson" });
		expect([declared.status, declared.body.type]).toEqual([413, "PAYLOAD_TOO_LARGE"]);
		const streamed = await postChunked(port, "/api/ingest", WRITE, 200, Buffer.from("junk".repeat(400)));
		expect(streamed.status).toBe(413);
		expect(JSON.parse(streamed.body).message).toMatch(/larger than 65536 bytes/);
		const lines = await call(base, "POST", "/api/ingest", { token: WRITE, body: Array.from({ length: 51 }, (_, i) => trade(100 + i)).join("\n"), type: "application/x-ndjson" });
		expect([lines.status, lines.body.type]).toEqual([413, "TOO_MANY_LINES"]);
		const other = await call(base, "POST", "/api/backfill", { token: WRITE, body: JSON.stringify({ instrument: "EURUSD", pad: "x".repeat(65 * 1024) }) });
		expect([other.status, other.body.type]).toEqual([413, "PAYLOAD_TOO_LARGE"]);
		// nothing of the refused requests was published
		const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM trades WHERE trade_id >= 7");
		expect(rows[0].n).toBe(0);
		expect((await call(base, "GET", "/api/health")).status).toBe(200);
	});

	it("answers parameters the validator refuses with 400 naming the field", async () => {
		const missing = await call(base, "GET", "/api/trades?venue=kraken", { token: READ });
		expect([missing.status, missing.body.data?.param, missing.body.message]).toEqual([400, "symbol", "symbol is required"]);
		const twice = await call(base, "GET", "/api/trades?venue=kraken&venue=x&symbol=BTC-USD-SPOT", { token: READ });
		expect([twice.status, twice.body.data?.param]).toEqual([400, "venue"]);
		const limit = await call(base, "GET", "/api/gaps?limit=abc", { token: READ });
		expect([limit.status, limit.body.data?.param]).toEqual([400, "limit"]);
		const unclosed = await call(base, "POST", "/api/ingest", { token: WRITE, body: '{"lines": "' + trade(8).replaceAll('"', '\\"') });
		expect([unclosed.status, unclosed.body.data?.param, unclosed.body.message]).toEqual([400, "lines", 'body is not {"lines": "<JSON lines>"}: the "lines" string is not closed']);
	});

	it("npm run replay sends API_TOKEN, in pieces below the ingest limit", async () => {
		const dir = mkdtempSync(path.join(tmpdir(), "mdp-access-"));
		try {
			const file = path.join(dir, "t.jsonl");
			writeFileSync(file, Array.from({ length: 120 }, (_, i) => trade(1000 + i)).join("\n") + "\n");
			const env = { MARKET_LOG: "", PORT: String(port), DATABASE_URL: "", SERVICES: "", API_INGEST_MAX_BYTES: "4096", API_INGEST_MAX_LINES: "50" };
			const denied = await runCli("bin/replay.ts", [file], { ...env, API_TOKEN: "" });
			expect([denied.code, denied.out]).toEqual([1, expect.stringMatching(/ingest failed \(401\)/)]);
			const r = await runCli("bin/replay.ts", [file], { ...env, API_TOKEN: WRITE });
			expect([r.code, r.out]).toEqual([0, expect.stringMatching(/120 lines read, 120 records published, 0 rejected/)]);
			expect(r.out).not.toContain(WRITE);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});

	it("answers fuzzed query strings on every read route with 200 or a 4xx naming the parameter, never a 5xx", async () => {
		const routes = ["/api/candles", "/api/trades", "/api/quotes", "/api/klines", "/api/gaps", "/api/dead-letters", "/api/freshness"];
		const names = ["venue", "symbol", "timeframe", "from", "to", "price", "fill", "limit", "cursor", "interval", "open"];
		const val = fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom("kraken", "BTC-USD-SPOT", "1m", "2024-01-15", "2024-01-15T10:00:00Z", "-1", "0", "abc", "true", "%", "1705323600"));
		await fc.assert(
			fc.asyncProperty(fc.constantFrom(...routes), fc.array(fc.tuple(fc.constantFrom(...names), val), { maxLength: 8 }), async (route, pairs) => {
				const qs = pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&");
				const r = await call(base, "GET", `${route}?${qs}`, { token: READ });
				expect([route, qs, r.status < 500]).toEqual([route, qs, true]);
				if (r.status === 400) expect(typeof r.body.data?.param).toBe("string");
				// a market the catalog does not know (and nothing stored for it): 404 naming the venue and symbol
				else if (r.status === 404) expect([typeof r.body.data?.venue, typeof r.body.data?.symbol]).toEqual(["string", "string"]);
				else expect([route, qs, r.status]).toEqual([route, qs, 200]);
			}),
			{ numRuns: 120 },
		);
	});

	it("drops a request that does not arrive whole within API_REQUEST_TIMEOUT_MS", async () => {
		// Headers and half a body, then silence: the server answers 408 (Node's request timeout) and closes.
		const answer = await new Promise<string>((resolve, reject) => {
			const sock = net.connect(port, "127.0.0.1", () => {
				sock.write(`POST /api/ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${WRITE}\r\nContent-Length: 1000\r\n\r\n${trade(1)}`);
			});
			let got = "";
			sock.on("data", (b) => (got += b));
			sock.on("close", () => resolve(got));
			sock.on("error", reject);
		});
		expect(answer).toMatch(/^HTTP\/1\.1 408/);
	});

	it("limits mutating requests per client with 429 and Retry-After, reads unaffected", async () => {
		let limited: Answer | null = null;
		for (let i = 0; i < 80 && !limited; i++) {
			const r = await call(base, "POST", "/api/ingest", { token: WRITE, body: "", type: "application/x-ndjson" });
			if (r.status === 429) limited = r;
			else expect(r.status).toBe(200);
		}
		expect(limited).not.toBeNull();
		expect(limited!.body.type).toBe("RATE_LIMITED");
		expect(Number(limited!.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
		expect((await call(base, "GET", "/api/freshness", { token: READ })).status).toBe(200);
	});
});

describe("API_HOST without a token", () => {
	it("defaults to loopback and says so", async () => {
		const db = await freshDatabase("access_host");
		const port = await freePort();
		const child = startService({ DATABASE_URL: db.url, SERVICES: "api", MARKET_LOG: "memory", TRANSPORTER: "", PORT: String(port), METRICS_PORT: "0", API_HOST: "", API_TOKEN: "", API_READ_TOKEN: "" });
		try {
			await child.waitForOutput(/pipeline up/, 60_000);
			await knowMarket(db);
			expect(child.output()).toMatch(new RegExp(`api listening on 127\\.0\\.0\\.1:${port} \\(loopback only \\(set API_TOKEN`));
			// without a token, writes are open (that is what loopback-only protects)
			expect((await call(`http://127.0.0.1:${port}`, "POST", "/api/ingest", { body: trade(1), type: "application/x-ndjson" })).status).toBe(200);
		} finally {
			await child.kill("SIGKILL");
			await db.drop();
		}
	});

	it("refuses to start on another address unless API_INSECURE=true", async () => {
		const child = startService({ DATABASE_URL: "postgres://127.0.0.1:1/none", SERVICES: "api", PORT: String(await freePort()), METRICS_PORT: "0", API_HOST: "0.0.0.0", API_TOKEN: "", API_INSECURE: "" });
		const code = await new Promise((r) => child.proc.once("exit", r));
		expect(code).toBe(2);
		expect(child.output()).toMatch(/configuration error: API_HOST=0\.0\.0\.0 exposes the API without API_TOKEN/);
	});
});
