import { checkAccess, ClientRateLimiter, HttpError, tokenMatches } from "../../lib/api/guard";
import { loadConfig } from "../../lib/config";

const rules = (token: string | null, readToken: string | null) => ({ token, readToken, openReadPaths: new Set(["/api/health"]) });
const status = (f: () => void): number | null => {
	try {
		f();
		return null;
	} catch (err) {
		return (err as HttpError).code;
	}
};

describe("access rules", () => {
	it("decides by method: writes need the write token, reads the read token (or the write token) only when one is set", () => {
		const both = rules("write-token-123456", "read-token-1234567");
		expect(status(() => checkAccess("POST", "/api/anything-added-later", undefined, both))).toBe(401);
		expect(status(() => checkAccess("PATCH", "/api/x", "Bearer read-token-1234567", both))).toBe(401);
		expect(status(() => checkAccess("DELETE", "/api/x", "Bearer write-token-123456", both))).toBeNull();
		expect(status(() => checkAccess("GET", "/api/candles", undefined, both))).toBe(401);
		expect(status(() => checkAccess("GET", "/api/candles", "bearer read-token-1234567", both))).toBeNull();
		expect(status(() => checkAccess("GET", "/api/candles", "Bearer write-token-123456", both))).toBeNull();
		expect(status(() => checkAccess("GET", "/api/health", undefined, both))).toBeNull();
		expect(status(() => checkAccess("GET", "/api/candles", undefined, rules("write-token-123456", null)))).toBeNull();
		expect(status(() => checkAccess("POST", "/api/ingest", undefined, rules(null, null)))).toBeNull();
	});

	it("compares tokens in constant time over any lengths and never quotes the one sent", () => {
		expect(tokenMatches("abc", "abc")).toBe(true);
		expect(tokenMatches("abc", "abcd")).toBe(false);
		expect(tokenMatches("", "abc")).toBe(false);
		try {
			checkAccess("POST", "/api/ingest", "Bearer my-guess-of-the-token", rules("write-token-123456", null));
		} catch (err) {
			expect((err as Error).message).not.toContain("my-guess");
		}
	});
});

describe("per-client rate limit", () => {
	it("lets a burst through, then answers with the seconds until the next token, per client", () => {
		let now = 0;
		const l = new ClientRateLimiter(60, 3, () => now);
		expect([l.take("a"), l.take("a"), l.take("a")]).toEqual([null, null, null]);
		expect(l.take("a")).toBe(1);
		expect(l.take("b")).toBeNull();
		now += 1000;
		expect(l.take("a")).toBeNull();
		expect(l.take("a")).toBe(1);
	});
});

describe("API_HOST and tokens in the configuration", () => {
	it("defaults to loopback without a token and to every interface with one", () => {
		expect(loadConfig({}).apiHost).toBe("127.0.0.1");
		expect(loadConfig({ API_TOKEN: "0123456789abcdef" }).apiHost).toBe("0.0.0.0");
		expect(loadConfig({ API_HOST: "::1" }).apiHost).toBe("::1");
	});
	it("refuses a non-loopback address without a token unless API_INSECURE=true, and only where the api runs", () => {
		expect(() => loadConfig({ API_HOST: "0.0.0.0" })).toThrow(/API_HOST=0.0.0.0 exposes the API without API_TOKEN/);
		expect(loadConfig({ API_HOST: "0.0.0.0", API_INSECURE: "true" }).apiHost).toBe("0.0.0.0");
		expect(loadConfig({ API_HOST: "0.0.0.0", SERVICES: "tick-writer" }).apiHost).toBe("0.0.0.0");
	});
	it("refuses a short token and reads the limits", () => {
		expect(() => loadConfig({ API_TOKEN: "short" })).toThrow(/API_TOKEN is too short/);
		expect(loadConfig({})).toMatchObject({ apiIngestMaxBytes: 8 * 1024 * 1024, apiBodyMaxBytes: 64 * 1024, apiIngestMaxLines: 100_000, apiWriteRatePerMin: 120, apiWriteBurst: 30 });
		expect(() => loadConfig({ API_INGEST_MAX_BYTES: "ten" })).toThrow(/API_INGEST_MAX_BYTES/);
	});
});
