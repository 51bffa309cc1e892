import fc from "fast-check";
import { Readable } from "node:stream";
import { HttpError } from "../../lib/api/guard";
import { parseIngestStream, parseIngestText } from "../../lib/api/ingest";

const LIMITS = { maxBytes: 1 << 20, maxLines: 10_000 };
const trade = (id: number, extra: Record<string, unknown> = {}) => JSON.stringify({ venue: "kraken", symbol: "BTC-USD-SPOT", tradeId: String(id), price: "42000.5", qty: "0.01", time: "2024-01-15T13:00:00Z", note: "é€😀\\\"", ...extra });

/** The bytes cut at the given points: a chunk boundary may fall inside a UTF-8 character or a JSON escape. */
function chunked(buf: Buffer, cuts: number[]): Readable {
	const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
	const parts: Buffer[] = [];
	let at = 0;
	for (const p of points) {
		parts.push(buf.subarray(at, p));
		at = p;
	}
	parts.push(buf.subarray(at));
	return Readable.from(parts.filter((p) => p.length));
}

describe("streamed ingest parsing", () => {
	it("reads JSON lines and the {lines} form alike, whatever the chunk boundaries", async () => {
		const lines = [trade(1), "junk", trade(2, { price: "0" }), "", trade(3)];
		const expected = parseIngestText(lines.join("\n"), LIMITS).result;
		expect(expected).toMatchObject({ lines: 4, published: 2, rejected: 2 });
		await fc.assert(
			fc.asyncProperty(fc.array(fc.nat(), { maxLength: 12 }), fc.boolean(), async (cuts, wrapped) => {
				const body = Buffer.from(wrapped ? JSON.stringify({ lines: lines.join("\r\n") }) : lines.join("\n"));
				const { result, messages } = await parseIngestStream(chunked(body, cuts), LIMITS);
				expect(result).toEqual(expected);
				expect(messages.reduce((n, m) => n + m.items, 0)).toBe(2);
			}),
			{ numRuns: 200 },
		);
	});

	it("refuses past the byte and line limits, and a line past its own limit by itself", async () => {
		const many = Array.from({ length: 20 }, (_, i) => trade(i)).join("\n");
		await expect(parseIngestStream(Readable.from([Buffer.from(many)]), { maxBytes: 100, maxLines: 1000 })).rejects.toMatchObject({ code: 413, type: "PAYLOAD_TOO_LARGE" });
		await expect(parseIngestStream(Readable.from([Buffer.from(many)]), { maxBytes: 1 << 20, maxLines: 10 })).rejects.toMatchObject({ code: 413, type: "TOO_MANY_LINES" });
		const long = [trade(1), "x".repeat(5000), trade(2)].join("\n");
		const r = await parseIngestStream(Readable.from([Buffer.from(long)]), { ...LIMITS, maxLineBytes: 1000 });
		expect(r.result).toMatchObject({ lines: 3, published: 2, rejected: 1, errors: [{ line: 2, reason: "line longer than 1000 characters" }] });
	});

	it("answers a broken {lines} body with 400 naming lines", async () => {
		for (const body of ['{"lines": "abc', '{"lines": "a\\qb"}', '{"lines": "a", "x": 1}']) {
			const err = await parseIngestStream(Readable.from([Buffer.from(body.padEnd(70, " "))]), LIMITS).catch((e) => e);
			expect(err).toBeInstanceOf(HttpError);
			expect([body, err.code, err.data.param]).toEqual([body, 400, "lines"]);
		}
	});
});
