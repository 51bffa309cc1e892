import { jsonLogLine } from "../../lib/ops/json-log";

describe("LOG_FORMAT=json lines", () => {
	const now = new Date("2026-03-02T10:00:00.000Z");

	it("carries node, service, the service's venue and the fields a call passes", () => {
		const line = jsonLogLine("warn", ["resubscribing book", { symbol: "BTC/USD", mismatches: 3 }], { nodeID: "kraken-stream-0", svc: "kraken-stream", ns: "mdp" }, now);
		expect(JSON.parse(line)).toEqual({ time: "2026-03-02T10:00:00.000Z", level: "warn", node: "kraken-stream-0", service: "kraken-stream", venue: "kraken", symbol: "BTC/USD", mismatches: 3, msg: "resubscribing book", namespace: "mdp" });
	});

	it("is one line of JSON whatever the message holds, and keeps errors' stacks", () => {
		const err = new Error("boom\nsecond line");
		const line = jsonLogLine("error", ["cycle failed:", err, [1, 2]], { nodeID: "n", mod: "broker" }, now);
		expect(line).not.toContain("\n");
		const rec = JSON.parse(line);
		expect(rec.service).toBe("broker");
		expect(rec.venue).toBeUndefined();
		expect(rec.msg).toMatch(/^cycle failed: Error: boom\nsecond line[\s\S]*\[1,2\]$/);
	});

	it("does not let a call's fields overwrite node or service, but a call may name the venue", () => {
		const rec = JSON.parse(jsonLogLine("info", ["x", { node: "forged", service: "forged", venue: "oanda" }], { nodeID: "real", svc: "api" }, now));
		expect(rec).toMatchObject({ node: "real", service: "api", venue: "oanda" });
	});
});
