import http from "node:http";
import type { AddressInfo } from "node:net";
import zlib from "node:zlib";
import { httpGet } from "../../lib/net/http";
import { transportGet } from "../../lib/net/http-transport";

/**
 * The GET under httpGet (node:http instead of fetch): what fetch did for the venues must still happen: compressed
 * answers decoded, redirects followed (and not forever), every header readable, and a cut-off answer or an abort
 * reported as an error, never as a short body.
 */
describe("transportGet", () => {
	const json = Buffer.from(JSON.stringify({ rows: Array.from({ length: 200 }, (_, i) => [i, "1.2345", "0.5"]) }));
	let server: http.Server;
	let base = "";
	const seen: http.IncomingHttpHeaders[] = [];

	beforeAll(async () => {
		server = http.createServer((req, res) => {
			seen.push(req.headers);
			const path = (req.url ?? "/").split("?")[0];
			const send = (body: Buffer, headers: Record<string, string | string[]> = {}) => {
				res.writeHead(200, { "content-type": "application/json", ...headers });
				res.end(body);
			};
			if (path === "/plain") return send(json, { "set-cookie": ["a=1", "b=2"], "x-mbx-used-weight-1m": "42" });
			if (path === "/gzip") return send(zlib.gzipSync(json), { "content-encoding": "gzip" });
			if (path === "/br") return send(zlib.brotliCompressSync(json), { "content-encoding": "br" });
			if (path === "/deflate") return send(zlib.deflateSync(json), { "content-encoding": "deflate" });
			if (path === "/deflate-raw") return send(zlib.deflateRawSync(json), { "content-encoding": "deflate" });
			if (path === "/moved") {
				res.writeHead(302, { location: "/gzip?from=moved" });
				return res.end();
			}
			if (path === "/loop") {
				res.writeHead(301, { location: "/loop" });
				return res.end();
			}
			if (path === "/cut") {
				res.writeHead(200, { "content-type": "application/json", "content-length": String(json.length) });
				res.write(json.subarray(0, 100));
				setTimeout(() => res.socket?.destroy(), 20);
				return;
			}
			if (path === "/slow") return; // never answers
			res.writeHead(404);
			res.end("no");
		});
		await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
		base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
	});
	afterAll(async () => {
		server.closeAllConnections();
		await new Promise<void>((r) => server.close(() => r()));
	});
	const never = new AbortController().signal;

	it("reads a plain answer with every header, and asks for compressed answers", async () => {
		const r = await transportGet(`${base}/plain`, { "x-test": "1" }, never);
		expect(r.status).toBe(200);
		expect(r.body.equals(json)).toBe(true);
		expect(r.headers.get("x-mbx-used-weight-1m")).toBe("42");
		expect(r.headers.get("set-cookie")).toBe("a=1, b=2");
		expect(seen.at(-1)).toMatchObject({ "x-test": "1", "accept-encoding": "gzip, deflate, br" });
	});

	it.each(["gzip", "br", "deflate", "deflate-raw"])("decodes a %s answer", async (path) => {
		const r = await transportGet(`${base}/${path}`, undefined, never);
		expect(r.body.equals(json)).toBe(true);
	});

	it("follows a relative redirect, and gives up on a loop", async () => {
		const r = await transportGet(`${base}/moved`, undefined, never);
		expect(r.status).toBe(200);
		expect(r.body.equals(json)).toBe(true);
		expect(seen.at(-1)).toBeDefined();
		await expect(transportGet(`${base}/loop`, undefined, never)).rejects.toThrow(/more than 5 redirects/);
	});

	it("reports an answer cut off before its end, and an abort, as errors", async () => {
		await expect(transportGet(`${base}/cut`, undefined, never)).rejects.toThrow();
		const ac = new AbortController();
		const p = transportGet(`${base}/slow`, undefined, ac.signal);
		ac.abort(new Error("caller gave up"));
		await expect(p).rejects.toThrow("caller gave up"); // the signal's reason, as fetch() rejects
	});

	it("under httpGet: a cut-off answer is a transient network error, a silent server a timeout", async () => {
		await expect(httpGet(`${base}/cut`, { retries: 0 })).rejects.toMatchObject({ name: "HttpError", status: 0, transient: true });
		await expect(httpGet(`${base}/slow`, { retries: 0, timeoutMs: 200 })).rejects.toThrow(/timed out after 200 ms/);
		await expect(httpGet(`ftp://127.0.0.1/x`, { retries: 0 })).rejects.toThrow(/unsupported protocol ftp:/);
	});
});
