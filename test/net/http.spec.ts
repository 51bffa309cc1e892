import http from "node:http";
import type { AddressInfo } from "node:net";
import { backoffMs, httpGet, httpGetJson, HttpError, parseRetryAfter, RateLimiter, redactUrl } from "../../lib/net/http";

interface Hit {
	at: number;
	url: string;
}

/** A scripted server: each request takes the next answer of its path's script (the last one repeats). */
async function scripted(script: Record<string, Array<{ status: number; body?: string; headers?: Record<string, string>; hang?: boolean }>>) {
	const hits: Hit[] = [];
	const served: Record<string, number> = {};
	const server = http.createServer((req, res) => {
		const path = (req.url ?? "/").split("?")[0];
		hits.push({ at: Date.now(), url: req.url ?? "" });
		const answers = script[path] ?? [{ status: 404, body: "no such path" }];
		const i = served[path] ?? 0;
		served[path] = i + 1;
		const a = answers[Math.min(i, answers.length - 1)];
		if (a.hang) return; // never answer: the client's timeout must fire
		res.writeHead(a.status, { "content-type": "application/json", ...a.headers });
		res.end(a.body ?? "{}");
	});
	await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
	const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
	return {
		base,
		hits,
		close: () =>
			new Promise<void>((r) => {
				server.closeAllConnections();
				server.close(() => r());
			}),
	};
}

describe("httpGet", () => {
	let srv: Awaited<ReturnType<typeof scripted>>;
	afterEach(() => srv?.close());

	it("retries 5xx and returns the first success", async () => {
		srv = await scripted({ "/x": [{ status: 502 }, { status: 503 }, { status: 200, body: '{"ok":1}' }] });
		const retries: number[] = [];
		const body = await httpGetJson<{ ok: number }>(`${srv.base}/x`, { baseDelayMs: 1, onRetry: (r) => retries.push(r.error.status) });
		expect(body).toEqual({ ok: 1 });
		expect(retries).toEqual([502, 503]);
		expect(srv.hits).toHaveLength(3);
	});

	it("waits at least Retry-After after a 429", async () => {
		srv = await scripted({ "/x": [{ status: 429, headers: { "retry-after": "1" } }, { status: 200 }] });
		await httpGet(`${srv.base}/x`, { baseDelayMs: 1 });
		expect(srv.hits).toHaveLength(2);
		expect(srv.hits[1].at - srv.hits[0].at).toBeGreaterThanOrEqual(990);
	});

	it("treats a 418 ban as final and reports its Retry-After", async () => {
		srv = await scripted({ "/x": [{ status: 418, headers: { "retry-after": "120" }, body: '{"code":-1003}' }] });
		const err = await httpGet(`${srv.base}/x`, { baseDelayMs: 1 }).catch((e) => e);
		expect(err).toBeInstanceOf(HttpError);
		expect(err.status).toBe(418);
		expect(err.retryAfterMs).toBe(120_000);
		expect(srv.hits).toHaveLength(1);
	});

	it("throws other 4xx at once, returns the statuses the caller accepts", async () => {
		srv = await scripted({ "/bad": [{ status: 400, body: '{"msg":"Invalid symbol."}' }], "/gone": [{ status: 404 }] });
		const err = await httpGet(`${srv.base}/bad`).catch((e) => e);
		expect(err).toBeInstanceOf(HttpError);
		expect(err.message).toContain("HTTP 400");
		expect(err.message).toContain("Invalid symbol.");
		expect((await httpGet(`${srv.base}/gone`, { okStatuses: [404] })).status).toBe(404);
		expect(srv.hits).toHaveLength(2);
	});

	it("gives up after the retries with the last error, and times out a silent server", async () => {
		srv = await scripted({ "/x": [{ status: 500 }], "/hang": [{ status: 200, hang: true }] });
		const err = await httpGet(`${srv.base}/x`, { retries: 2, baseDelayMs: 1 }).catch((e) => e);
		expect(err.status).toBe(500);
		expect(srv.hits.filter((h) => h.url === "/x")).toHaveLength(3);
		const t = await httpGet(`${srv.base}/hang`, { retries: 0, timeoutMs: 200 }).catch((e) => e);
		expect(t).toBeInstanceOf(HttpError);
		expect(t.status).toBe(0);
		expect(t.message).toMatch(/timed out after 200 ms/);
	});

	it("keeps tokens out of error messages", async () => {
		srv = await scripted({ "/x": [{ status: 403 }] });
		const err = await httpGet(`${srv.base}/x?token=s3cret&pair=XBTUSD`).catch((e) => e);
		expect(err.message).not.toContain("s3cret");
		expect(err.message).toContain("pair=XBTUSD");
		expect(redactUrl("http://u:pw@h/p?apiKey=1")).toBe("http://h/p?apiKey=***");
	});
});

describe("RateLimiter", () => {
	it("spaces calls at the configured rate after the burst", async () => {
		const limiter = new RateLimiter(20, 2); // 2 at once, then one per 50 ms
		const t0 = Date.now();
		const at: number[] = [];
		await Promise.all([0, 1, 2, 3, 4].map(() => limiter.take().then(() => at.push(Date.now() - t0))));
		at.sort((a, b) => a - b);
		expect(at[1]).toBeLessThan(40);
		expect(at[4]).toBeGreaterThanOrEqual(140); // three more tokens at 50 ms each
	});

	it("rejects nonsense settings", () => {
		expect(() => new RateLimiter(0)).toThrow(/ratePerSec/);
		expect(() => new RateLimiter(1, 0)).toThrow(/burst/);
	});

	it("an aborted caller leaves the queue without its tokens; the next one is served", async () => {
		const limiter = new RateLimiter(0.001, 1); // one token, the next in 1000 s
		await limiter.take();
		const ac = new AbortController();
		const waiting = limiter.take(1, ac.signal);
		ac.abort(new Error("gave up"));
		await expect(waiting).rejects.toThrow("gave up");
		const already = new AbortController();
		already.abort(new Error("too late"));
		await expect(limiter.take(1, already.signal)).rejects.toThrow("too late");
		limiter.penalize(-2e6); // hand out tokens: the queue is not stuck behind the aborted callers
		await expect(limiter.take()).resolves.toBeUndefined();
	});
});

describe("backoff and Retry-After", () => {
	it("grows exponentially up to the cap, with full jitter", () => {
		expect(backoffMs(0, 100, 10_000, () => 1)).toBe(100);
		expect(backoffMs(3, 100, 10_000, () => 1)).toBe(800);
		expect(backoffMs(20, 100, 10_000, () => 1)).toBe(10_000);
		expect(backoffMs(5, 100, 10_000, () => 0)).toBe(0);
	});

	it("reads seconds and HTTP dates", () => {
		expect(parseRetryAfter("3")).toBe(3000);
		expect(parseRetryAfter("Wed, 21 Oct 2015 07:28:05 GMT", Date.parse("Wed, 21 Oct 2015 07:28:00 GMT"))).toBe(5000);
		expect(parseRetryAfter("soon")).toBeNull();
		expect(parseRetryAfter(null)).toBeNull();
	});
});
