import fs from "node:fs";
import path from "node:path";
import { decodeWireBytes, type CopyLines } from "../../lib/domain/codec";
import { migrate } from "../../lib/store/migrate";
import { binaryRowHead, QUOTE_FIELDS, wireRows } from "../../lib/writer/copy-binary";
import { wireBinaryCopy as binaryCopy } from "../helpers/binary-copy";
import { copyBinaryInto, copyEncoded, copyInto, encodeRows, encodeTicks, QUOTE_COLUMNS, TRADE_COLUMNS } from "../../lib/writer/copy";
import { decodeWireForCopy } from "../../lib/writer/wire-binary";
import { freshDatabase, type TestDb } from "../helpers/db";
import { decodeBi5Ticks } from "../../lib/backfill/dukascopy/bi5";
import { getInstrument } from "../../lib/backfill/dukascopy/instruments";
import { quoteWirePayloads } from "../../lib/backfill/dukascopy/wire";
import { DUKASCOPY_FIXTURES, EURUSD_HOUR_FILES } from "../helpers/fake-dukascopy";
import { FakeBinance, REAL_KLINES } from "../helpers/fake-binance";
import { klinePage, klineRowsCopy } from "../../lib/history/kline-page";
import { parseKlines } from "../../lib/history/binance-klines";
import { KLINE_COLUMNS, klineRowFormat, writeKlines, type KlineKey } from "../../lib/history/klines-store";

/** A v2 wire message of these lines. */
function message(kind: "trade" | "quote", symbol: string, lines: string[]): Buffer {
	return Buffer.from([JSON.stringify({ v: 2, kind, venue: "kraken", symbol }), ...lines].join("\n"));
}

function verbatim(payload: Buffer): CopyLines {
	const w = decodeWireBytes(payload);
	expect(w.rejects).toEqual([]);
	expect(w.lines).toBeDefined();
	return w.lines!;
}

// Times at the edges of the common form: fractions of 1-9 digits, ties beyond microseconds (rounded half to even by
// PostgreSQL), a fraction that rounds up into the next second, before and after 2000-01-01, a leap day.
const TIMES = [
	"2024-01-15T13:00:00Z",
	"2024-01-15T13:00:00.1Z",
	"2024-01-15T13:00:00.12Z",
	"2024-01-15T13:00:00.123Z",
	"2024-01-15T13:00:00.123456Z",
	"2024-01-15T13:00:00.1234565Z",
	"2024-01-15T13:00:00.1234575Z",
	"2024-01-15T13:00:00.0000005Z",
	"2024-01-15T13:00:00.0000015Z",
	"2024-01-15T13:00:01.9999995Z",
	"2024-01-15T13:00:02.999999999Z",
	"2024-01-15T13:59:58.123456789Z",
	"2024-02-29T23:59:58.999999Z",
	"1999-12-31T23:59:58.999Z",
	"1990-01-01T00:00:00.001Z",
	"2099-12-31T23:58:59.5Z",
	"2000-01-01T00:00:00Z",
	"2024-01-15T13:59:59.9999995Z", // rounds into the next hour (a line the byte check leaves to the string path)
	"1999-12-31T23:59:59.9999995Z", // before 2000, rounds into 2000
	"2024-12-31T23:59:59.99999951Z",
];
// Decimals: zeros with and without scale, trailing zeros (kept as scale), base-10000 group edges, 64 characters.
const DECIMALS = [
	"0",
	"0.0",
	"0.00000",
	"0.00001",
	"0.0001",
	"0.00010000",
	"1",
	"1.10",
	"10000",
	"10000.0001",
	"9999.9999",
	"12345678.87654321",
	"100000000",
	"0.123456789",
	"123456789012345678901234567890.12345678901234567890123456789012",
];
const IDS = ["0", "1", "9999", "10000", "123456789012345", "9007199254740993", "999999999999999999"];

function tradeLines(): string[] {
	const out: string[] = [];
	let i = 0;
	for (const t of TIMES)
		for (const d of DECIMALS) {
			// prices > 0 on the wire; a quantity may be any decimal the check accepts
			const price = d === "0" || /^0\.0*$/.test(d) ? "1" : d;
			out.push(`${t}\t${i < IDS.length ? IDS[i] : String(1000 + i)}\t${price}\t${DECIMALS[(i * 7) % DECIMALS.length].replace(/^0(\.0*)?$/, "2")}\t${i % 2 ? "b" : "s"}\t${TIMES[(i * 5) % TIMES.length]}`);
			i++;
		}
	return out;
}

function quoteLines(): string[] {
	const out: string[] = [];
	let i = 0;
	for (const t of TIMES)
		for (const d of DECIMALS) {
			const px = d === "0" || /^0\.0*$/.test(d) ? "3.5" : d;
			out.push(`${t}\t${i}\t${px}\t${DECIMALS[(i * 3) % DECIMALS.length].replace(/^0(\.0*)?$/, "4")}\t${DECIMALS[(i * 5) % DECIMALS.length]}\t${d}\t${i % 3 ? t : TIMES[(i * 11) % TIMES.length]}`);
			i++;
		}
	return out;
}

describe("binary COPY of verbatim wire lines", () => {
	let db: TestDb;
	beforeAll(async () => {
		db = await freshDatabase("copybinary");
		await migrate(db.pool);
		await db.pool.query("CREATE TABLE trades_text (LIKE trades INCLUDING ALL); CREATE TABLE quotes_text (LIKE quotes INCLUDING ALL); CREATE TABLE klines_text (LIKE klines INCLUDING ALL)");
	});
	afterAll(() => db.drop());

	/** Every column as PostgreSQL prints it, sorted. */
	const rowsOf = async (table: string) => (await db.pool.query(`SELECT t::text AS r FROM ${table} t ORDER BY 1`)).rows.map((r) => r.r as string);

	/** The same pieces by text COPY into `<table>_text` and by encodeTicks + copyEncoded into `<table>`: the stored rows must be equal. */
	async function sameAsText(table: "trades" | "quotes", pieces: CopyLines[]): Promise<string[]> {
		await db.pool.query(`TRUNCATE ${table}, ${table}_text`);
		const c = await db.pool.connect();
		try {
			const columns = table === "trades" ? TRADE_COLUMNS : QUOTE_COLUMNS;
			const viaText = await copyInto(c, `${table}_text`, columns, pieces);
			await c.query("BEGIN"); // copyEncoded runs in the writer's transaction
			const viaTicks = await copyEncoded(c, table, encodeTicks(table === "trades" ? "trade" : "quote", pieces));
			await c.query("COMMIT");
			expect(viaTicks).toBe(viaText);
		} finally {
			c.release();
		}
		const bin = await rowsOf(table);
		expect(bin).toEqual(await rowsOf(`${table}_text`));
		return bin;
	}

	it("stores trades exactly as text COPY does (times rounded to µs half to even, numerics with their scale, ids past 2^53)", async () => {
		const lines = tradeLines();
		const pieces = [verbatim(message("trade", "BTC-USD-SPOT", lines.slice(0, 100))), verbatim(message("trade", "ETH-USD-SPOT", lines.slice(100)))];
		const bin = binaryCopy(pieces, "trade", 4096); // small chunks: rows cross chunk boundaries
		expect(bin.text).toEqual([]);
		expect(bin.rows).toBe(lines.length);
		expect(bin.chunks.length).toBeGreaterThan(3);
		const rows = await sameAsText("trades", pieces);
		expect(rows).toHaveLength(lines.length);
		// ids past 2^53 arrive exact (a spot check that does not go through the encoder's own reading)
		const { rows: big } = await db.pool.query("SELECT trade_id::text AS id FROM trades WHERE trade_id > 9007199254740992 ORDER BY trade_id");
		expect(big.map((r) => r.id)).toEqual(["9007199254740993", "999999999999999999"]);
	});

	it("stores quotes exactly as text COPY does", async () => {
		const lines = quoteLines();
		const piece = verbatim(message("quote", "EUR-USD-SPOT", lines));
		expect(binaryCopy([piece], "quote")).toMatchObject({ rows: lines.length, text: [] }); // all of it binary
		const rows = await sameAsText("quotes", [piece]);
		expect(rows).toHaveLength(lines.length);
		expect(rows.some((r) => r.includes("0.00010000"))).toBe(true); // the written scale is kept
	});

	it("stores a real Dukascopy hour exactly as text COPY does", async () => {
		const inst = getInstrument("EURUSD");
		const file = fs.readFileSync(path.join(DUKASCOPY_FIXTURES, EURUSD_HOUR_FILES[0]));
		const payloads = quoteWirePayloads(decodeBi5Ticks(file, "EURUSD", Date.parse("2019-03-04T00:00:00Z")), inst, "dukascopy", "2026-12-07T16:00:00.123Z", 1000);
		const pieces = payloads.map((p) => decodeWireBytes(p).lines!);
		expect(binaryCopy(pieces, "quote").text).toEqual([]);
		const rows = await sameAsText("quotes", pieces);
		expect(rows.length).toBeGreaterThan(1000);
	});

	it("leaves a message with a line outside the common form as text, and still stores every row", async () => {
		const odd = verbatim(message("trade", "SOL-USD-SPOT", ["2024-01-15T13:00:00.5Z\t1\t20.5\t1\tb\t2024-01-15T13:00:00.5Z", "2024-01-15T14:00:00+01:00\t2\t20.6\t1\ts\t2024-01-15T13:00:01Z"]));
		const plain = verbatim(message("trade", "BTC-USD-SPOT", tradeLines().slice(0, 10)));
		const bin = binaryCopy([plain, odd, plain], "trade");
		expect(bin.text).toEqual([odd]);
		expect(bin.rows).toBe(20);
		// the same message twice would violate the key; store each once
		const rows = await sameAsText("trades", [plain, odd]);
		expect(rows).toHaveLength(12);
		expect(rows.filter((r) => r.includes("SOL-USD-SPOT"))).toHaveLength(2);
	});

	it("stores klines from the page scanner's binary rows exactly as text COPY of the general path does (the real answer, 64-digit decimals)", async () => {
		const key: KlineKey = { venue: "binance", symbol: "BTC-USDT-SPOT", interval: "1m" };
		const format = klineRowFormat(key);
		const long = FakeBinance.row(Date.parse("2024-01-01T00:00:00Z"), "1m").map((v, i) => (i === 1 || i === 10 ? "1234567890123456789012345678901.12345678901234567890123456789012" : v));
		const answers = [JSON.stringify(REAL_KLINES), JSON.stringify([long])];
		const pages = answers.map((a) => klinePage(Buffer.from(a), "1m", format));
		expect(pages.every((p) => typeof p.copy !== "string")).toBe(true); // the scanner's binary rows
		const c = await db.pool.connect();
		try {
			await copyInto(c, "klines_text", KLINE_COLUMNS, answers.map((a) => klineRowsCopy(format.prefix, parseKlines(JSON.parse(a), "1m"))));
			await c.query("BEGIN");
			expect(await writeKlines(c, key, () => [], pages.map((p) => p.copy))).toEqual({ inserted: REAL_KLINES.length + 1, updated: 0 });
			await c.query("COMMIT");
		} finally {
			c.release();
		}
		const cols = "venue, symbol, interval, open_time, close_time, open, high, low, close, volume, quote_volume, trades, taker_base_volume, taker_quote_volume";
		const rows = async (t: string) => (await db.pool.query(`SELECT (${cols})::text AS r FROM ${t} ORDER BY open_time`)).rows.map((r) => r.r);
		expect(await rows("klines")).toHaveLength(REAL_KLINES.length + 1);
		expect(await rows("klines")).toEqual(await rows("klines_text"));
		// binary data PostgreSQL refuses: the klines go in by the upsert instead, and the caller hears of it
		await db.pool.query("TRUNCATE klines");
		const refused: Error[] = [];
		const c2 = await db.pool.connect();
		try {
			await c2.query("BEGIN");
			const klines = parseKlines(JSON.parse(answers[0]), "1m");
			expect(await writeKlines(c2, key, klines, [{ binary: Buffer.from([0, 14, 0, 0, 0, 1]) }], (e) => refused.push(e))).toEqual({ inserted: REAL_KLINES.length, updated: 0 });
			await c2.query("COMMIT");
		} finally {
			c2.release();
		}
		expect(refused).toHaveLength(1);
		expect((await rows("klines")).length).toBe(REAL_KLINES.length);
	});

	it("takes back a piece whose bad line comes after chunks were started for it, and keeps the pieces around it", async () => {
		const good = verbatim(message("trade", "BTC-USD-SPOT", tradeLines().slice(0, 40)));
		// 60 good lines (several 512-byte chunks), then one with an offset time
		const lines = tradeLines().slice(40, 100);
		const bad = verbatim(message("trade", "ETH-USD-SPOT", [...lines, "2024-01-15T14:00:00+01:00\t777777\t20.6\t1\ts\t2024-01-15T13:00:01Z"]));
		const after = verbatim(message("trade", "SOL-USD-SPOT", tradeLines().slice(100, 130)));
		const bin = binaryCopy([good, bad, after], "trade", 512);
		expect(bin.text).toEqual([bad]);
		expect(bin.rows).toBe(70);
		// the chunks hold exactly the two good pieces: PostgreSQL reads them, and with the bad piece as text every row is there
		await db.pool.query("TRUNCATE trades, trades_text");
		const c = await db.pool.connect();
		try {
			expect(await copyBinaryInto(c, "trades", TRADE_COLUMNS, bin.chunks)).toBe(70);
			expect(await copyInto(c, "trades", TRADE_COLUMNS, bin.text)).toBe(61);
			await copyInto(c, "trades_text", TRADE_COLUMNS, [good, bad, after]);
		} finally {
			c.release();
		}
		expect(await rowsOf("trades")).toEqual(await rowsOf("trades_text"));
	});

	it("sends every row by text COPY when PostgreSQL refuses the binary data, and says so", async () => {
		const lines = quoteLines().slice(0, 50);
		const piece = verbatim(message("quote", "EUR-USD-SPOT", lines));
		// a head that claims 7 fields for a 9-column row: PostgreSQL refuses the binary COPY (a data exception)
		const wrong = { ...wireRows(piece, "quote"), head: binaryRowHead([Buffer.from("kraken"), Buffer.from("EUR-USD-SPOT")], 7) };
		await db.pool.query("TRUNCATE quotes");
		const refused: Error[] = [];
		const c = await db.pool.connect();
		try {
			await c.query("BEGIN");
			expect(await copyEncoded(c, "quotes", encodeRows(QUOTE_COLUMNS, QUOTE_FIELDS, [{ binary: wrong, text: piece }], []), (e) => refused.push(e))).toBe(50);
			await c.query("COMMIT");
		} finally {
			c.release();
		}
		expect(refused).toHaveLength(1);
		expect((refused[0] as { code?: string }).code).toMatch(/^22/);
		expect(await rowsOf("quotes")).toHaveLength(50);
	});

	it("sends rows encoded ahead (decodeWireForCopy) by text COPY too when PostgreSQL refuses them, once each, with the rest", async () => {
		const lines = quoteLines();
		const ahead = message("quote", "EUR-USD-SPOT", lines.slice(0, 40));
		const rest = verbatim(message("quote", "EUR-USD-SPOT", lines.slice(40, 70)));
		const enc = decodeWireForCopy(ahead);
		expect(enc.binary).toBeDefined();
		// bytes PostgreSQL refuses: the encoded rows with their field count (9) made 7
		const wrong = Buffer.from(enc.binary!);
		wrong.writeInt16BE(7, 0);
		const rows = encodeTicks("quote", [rest], [{ binary: wrong, rows: enc.rows, text: enc.lines! }]);
		expect(rows.binary.rows).toBe(70);
		await db.pool.query("TRUNCATE quotes");
		const refused: Error[] = [];
		const c = await db.pool.connect();
		try {
			await c.query("BEGIN");
			expect(await copyEncoded(c, "quotes", rows, (e) => refused.push(e))).toBe(70);
			await c.query("COMMIT");
		} finally {
			c.release();
		}
		expect(refused).toHaveLength(1);
		expect(await rowsOf("quotes")).toHaveLength(70);
	});

	it("gives no chunks when nothing could be encoded", () => {
		const odd = verbatim(message("trade", "SOL-USD-SPOT", ["2024-01-15T14:00:00+01:00\t2\t20.6\t1\ts\t2024-01-15T13:00:01Z"]));
		expect(binaryCopy([odd], "trade")).toEqual({ chunks: [], rows: 0, text: [odd] });
	});
});
