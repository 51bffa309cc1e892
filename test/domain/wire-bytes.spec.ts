import fc from "fast-check";
import { copyLinesText, decodeWire, decodeWireBytes, decodeWireText, encodeEnvelope, quoteEnvelope, tradeEnvelope, type WireBatch } from "../../lib/domain/codec";
import { copyChunks } from "../../lib/writer/copy";
import { makeTrades } from "../helpers/trades";

/**
 * The tick-writer's byte path (decodeWireBytes: char-code validation, COPY rows left in the payload)
 * must give exactly the verdicts, reasons, minutes and COPY text of the string path (decodeWireText).
 */

const TRADE_HEAD = JSON.stringify({ v: 2, kind: "trade", venue: "kraken", symbol: "BTC-USD-SPOT" });
const QUOTE_HEAD = JSON.stringify({ v: 2, kind: "quote", venue: "dukascopy", symbol: "EUR-USD-SPOT" });
const T = "2024-01-15T13:00:00.123Z";
const okTrade = `${T}\t1\t42000.5\t0.01\tb\t${T}`;
const okQuote = `${T}\t1\t1.0912\t1.0913\t1.5\t2\t${T}`;

/** What a WireBatch means, with the COPY text as a string whichever path produced it. */
function meaning(w: WireBatch) {
	const { lines, ...rest } = w;
	return { ...rest, copy: lines ? copyLinesText(lines) : w.copy };
}

function bothPaths(payload: Buffer) {
	const bytes = decodeWireBytes(payload);
	const text = decodeWireText(payload.toString("utf8"));
	return { bytes, text };
}

function copyOfChunks(w: WireBatch, chunkBytes?: number): string {
	return Buffer.concat([...copyChunks([w.lines ?? w.copy], chunkBytes)]).toString("utf8");
}

/** Field values that sit on the edges of the byte checks. */
const edgeField = fc.constantFrom(
	"0", "00", "01", "0.0", "0.000", "0.00001", "1.", ".5", "1.5", "-1", "+1", "1e5", "1,5", " 1", "", "-", "b", "s", "x", "bb", "\\N",
	"9".repeat(18), "9".repeat(19), "1" + "0".repeat(63), "1" + "0".repeat(64),
	"2024-01-15T13:00:00Z", "2024-01-15T13:00:00.5Z", "2024-01-15T13:00:59.999Z", "2024-01-15T13:00:59.9999999Z", "2024-01-15T13:00:59.9995Z",
	"2024-01-15T13:00:00+00:00", "2024-01-15T13:00:00.123+01:00", "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "2024-01-15T24:00:00Z",
	"2024-01-15T13:00:60Z", "1989-12-31T23:59:59Z", "2100-01-01T00:00:00Z", "2024-01-15T13:00:00.1234567890Z", "2024-01-15t13:00:00Z",
	"2024-01-15T13:00:00.Z", "2024-01-15 13:00:00Z", "2024-01-15T13:00:00.12é4Z", "2024-01-15T13:00:00\rZ", "1705323600", "é", "\u0000",
);

const line = (fields: string[]) => fields.join("\t");

describe("wire bytes: decodeWireBytes against the string path", () => {
	it("leaves a clean v2 message's rows in the payload, and they read as the string path's COPY text", () => {
		const items = makeTrades(500, Date.parse("2024-01-01T00:00:00Z"), 3 * 86_400_000, 5);
		const payload = encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", items));
		const { bytes, text } = bothPaths(payload);
		expect(bytes.lines).toBeDefined();
		expect(bytes.copy).toBe("");
		expect(meaning(bytes)).toEqual(text);
		expect(copyOfChunks(bytes)).toBe(text.copy);
		expect(decodeWire(payload)).toEqual(text);
	});

	it("writes the same COPY bytes whatever the chunk size (rows split across chunks whole)", () => {
		const payload = encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", makeTrades(300, Date.parse("2024-01-01T00:00:00Z"), 86_400_000, 9)));
		const w = decodeWireBytes(payload);
		const whole = decodeWireText(payload.toString("utf8")).copy;
		for (const size of [64, 100, 150, 4096]) {
			const chunks = [...copyChunks([w.lines!, "x\n", w.lines!], size)];
			expect(chunks.every((c) => c.toString("latin1").endsWith("\n"))).toBe(true);
			expect(Buffer.concat(chunks).toString("utf8")).toBe(whole + "x\n" + whole);
		}
	});

	it("passes large byte pieces on without copying them, between chunks of the other pieces, in order", () => {
		const payload = encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", makeTrades(50, Date.parse("2024-01-01T00:00:00Z"), 86_400_000, 9)));
		const w = decodeWireBytes(payload);
		const whole = decodeWireText(payload.toString("utf8")).copy;
		const big = Buffer.alloc(160, "a\tb\n"); // at least 1/16 of a 1024-byte chunk; its own memory (not the pool's)
		const small = new TextEncoder().encode("c\td\n");
		const chunks = [...copyChunks(["x\n", big, w.lines!, small, big.subarray(0, 80), "y\n"], 1024)];
		expect(Buffer.concat(chunks).toString("utf8")).toBe("x\n" + big.toString() + whole + "c\td\n" + big.toString().slice(0, 80) + "y\n");
		expect(chunks.filter((c) => c.buffer === big.buffer).map((c) => c.length)).toEqual([160, 80]);
		expect(chunks.every((c) => c.toString("latin1").endsWith("\n"))).toBe(true);
	});

	it("gives the same result on quotes, placeholders and sizes", () => {
		const q = { seq: "3", bid: "1.09123", ask: "1.09125", bidQty: "0", askQty: "2.5", time: "2024-01-15T13:00:00Z", recvTime: "2024-01-15T13:00:00.5Z" };
		for (const items of [[q, { ...q, seq: "4" }], [q, { ...q, seq: "4", bidQty: null }], [{ ...q, askQty: null }, q]]) {
			const { bytes, text } = bothPaths(encodeEnvelope(quoteEnvelope("dukascopy", "EUR-USD-SPOT", items)));
			expect(meaning(bytes)).toEqual(text);
		}
		const { bytes, text } = bothPaths(encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", [{ tradeId: "1", side: null, price: "1", qty: "1", time: T, recvTime: T }])));
		expect(bytes.lines).toBeUndefined(); // a "-" side becomes \N: rebuilt, not verbatim
		expect(meaning(bytes)).toEqual(text);
	});

	it("rejects malformed lines with the string path's reasons and indexes, counting only the good rows", () => {
		const payload = Buffer.from(
			[TRADE_HEAD, okTrade, okTrade.replace("42000.5", "1e5"), "2024-01-15T13:00:00Z\t3\t1.5", okTrade.replace("\tb\t", "\tx\t"), "", okTrade.replace("13:00:00.123Z\t1", "13:00:00.123+00:00\t7"), okTrade.replace("\t1\t", "\t01\t"), okTrade + "\n"].join("\n"),
		);
		const { bytes, text } = bothPaths(payload);
		expect(meaning(bytes)).toEqual(text);
		expect(bytes.rows).toBe(3); // okTrade, the +00:00 line, and the last okTrade (its newline is the message's end)
		expect(bytes.rejects.map((r) => r.index)).toEqual([1, 2, 3, 4, 6]);
		expect(bytes.rejects[0].reason).toMatch(/price "1e5"/);
		expect(bytes.lines).toBeUndefined();
		expect(copyOfChunks(bytes)).toBe(text.copy);
	});

	it("marks the next minute for a time in a minute's last microsecond fraction, like the string path", () => {
		const { bytes, text } = bothPaths(Buffer.from([TRADE_HEAD, okTrade.replace(T, "2024-01-15T13:00:59.9999999Z"), okTrade.replace(T, "2024-01-15T13:00:59.9994Z")].join("\n")));
		expect(meaning(bytes)).toEqual(text);
		expect(bytes.minutes).toEqual([Date.parse("2024-01-15T13:00:00Z"), Date.parse("2024-01-15T13:01:00Z")]);
	});

	it("agrees with the string path on lines built from edge-case fields", () => {
		fc.assert(
			fc.property(fc.boolean(), fc.array(fc.array(edgeField, { minLength: 5, maxLength: 8 }), { minLength: 1, maxLength: 6 }), (isTrade, rows) => {
				const base = (isTrade ? okTrade : okQuote).split("\t");
				// Each row: the good line with some of its fields replaced by edge values (and sometimes the field count changed).
				const lines = rows.map((edge, r) => line(base.map((f, i) => (edge[i] !== undefined && (r + i) % 2 === 0 ? edge[i] : f)).concat(edge.length > 7 ? ["extra"] : [])));
				const payload = Buffer.from([isTrade ? TRADE_HEAD : QUOTE_HEAD, ...lines].join("\n"));
				const { bytes, text } = bothPaths(payload);
				expect(meaning(bytes)).toEqual(text);
				expect(copyOfChunks(bytes, 97)).toBe(text.copy);
			}),
			{ numRuns: 500 },
		);
	});

	it("agrees with the string path on arbitrary bodies and on non-v2 messages", () => {
		fc.assert(
			fc.property(fc.string({ maxLength: 200 }), fc.constantFrom(TRADE_HEAD, QUOTE_HEAD, '{"v":2,"kind":"trade","venue":"a b","symbol":"s"}', '{"v":1,"kind":"trade","venue":"k","symbol":"s","items":[]}', "{nope", ""), (body, head) => {
				const payload = Buffer.from(head ? `${head}\n${body}` : body);
				const { bytes, text } = bothPaths(payload);
				expect(meaning(bytes)).toEqual(text);
			}),
			{ numRuns: 500 },
		);
	});
});
