import os from "node:os";
import Decimal from "decimal.js";
import { L2Book } from "../lib/venues/kraken/book";
import type { WsBook, WsTicker, WsTrade } from "../lib/venues/kraken/messages";
import { decodeFrame, quoteItem, QuoteSeq, tradeItem, type Precision } from "../lib/venues/kraken/parse";
import { parseExact } from "../lib/venues/kraken/precision";
import type { QuoteItem, TradeItem } from "../lib/domain/types";
import { recordedBookFrames } from "../test/venues/kraken/recording";
import { derivedTradeTickerFrames } from "../test/venues/kraken/v2-frames";
import { fmt, median, QUICK, report, RUNS, sizeArg } from "./common";

/**
 * Kraken WebSocket v2 frames -> domain objects, one core, against `JSON.parse` alone of the same frames
 * (issue 12). Two result lines:
 *   kraken-parse       trade and ticker frames: decodeFrame (exact number text, every field validated)
 *                      + tradeItem / quoteItem at the pair's precision (price 1, qty 8). Goal >= 0.6.
 *   kraken-parse-book  the real recorded book session (snapshot + 509 updates, BTC/USD depth 10,
 *                      compacted the way the socket sends them): decodeFrame + L2 book apply + CRC32
 *                      computed and compared with Kraken's checksum. Goal >= 0.4.
 * The trade/ticker frames are built from the real v2 book session's values (test/venues/kraken/v2-frames.ts
 * says how: no real v2 trade/ticker capture exists). Receive times are given per frame as strings, as the
 * socket layer hands them over.
 * Before timing, every frame's output is checked against a slow reference (parseExact + decimal.js for
 * trades/quotes; for books all 510 of Kraken's CRC32 checksums must verify, and every decoded level must
 * equal the reference's), so a broken fast path fails the bench instead of being measured.
 * Each run interleaves SLICES slices of baseline and measured passes (alternating which goes first); the
 * ratio of a run is baseline time / measured time; the reported ratio is the median of RUNS runs.
 *   --quick   fewer passes per slice;  --passes N  passes over the frames per slice;  --runs N
 */

const PREC: Precision = { price: 1, qty: 8 };
const SLICES = 8;
const PASSES = sizeArg("--passes", 60, 20);

/** Frames as the socket hands them over: text decoded from the received bytes (flat strings, not concatenations). */
const asReceived = (f: string) => Buffer.from(f, "utf8").toString("utf8");
const derived = derivedTradeTickerFrames();
const ttFrames = [...derived.trades, ...derived.tickers].map(asReceived);
const bookFrames = recordedBookFrames().map((f) => asReceived(f.replace(/\s+/g, "")));
const recvOf = (frames: string[]) => frames.map((_, i) => new Date(Date.UTC(2023, 6, 30, 15, 30, 0, 0) + i * 7).toISOString());
const ttRecv = recvOf(ttFrames);

let sink = 0;

// ---- measured paths ----

function tradesAndQuotes(frames: string[], recv: string[], out?: (TradeItem | QuoteItem | null)[]): void {
	const seq = new QuoteSeq();
	for (let i = 0; i < frames.length; i++) {
		const f = decodeFrame(frames[i]);
		if (f.kind === "trade") {
			for (const t of f.trades) {
				const item = tradeItem(t, recv[i], PREC);
				if (out) out.push(item);
				sink += item.price.length;
			}
		} else if (f.kind === "ticker") {
			for (const t of f.tickers) {
				const q = quoteItem(t, recv[i], seq, PREC);
				if (out) out.push(q);
				if (q) sink += q.bid.length;
			}
		} else throw new Error(`not a trade or ticker frame: ${JSON.stringify(f).slice(0, 200)}`);
		if ("problems" in f && f.problems.length) throw new Error(`item problems: ${f.problems.join("; ")}`);
	}
}

function bookSession(frames: string[], decoded?: WsBook[]): void {
	const book = new L2Book(10, PREC);
	for (const text of frames) {
		const f = decodeFrame(text);
		if (f.kind !== "book" || f.problems.length) throw new Error(`not a clean book frame: ${text.slice(0, 120)}`);
		for (const b of f.books) {
			if (decoded) decoded.push(b);
			if (f.type === "snapshot") book.applySnapshot(b);
			else book.applyUpdate(b);
			if (book.checksum() !== Number(b.checksum)) throw new Error(`checksum mismatch on ${text.slice(0, 120)}: the bench would measure a broken path`);
		}
	}
	sink += book.bids.length;
}

function jsonParseOnly(frames: string[]): void {
	for (let i = 0; i < frames.length; i++) sink += (JSON.parse(frames[i]) as { data: unknown[] }).data.length;
}

// ---- the slow reference the measured paths must agree with ----

const rendered = (text: string, dp: number) => {
	const d = new Decimal(text);
	return d.toFixed(Math.max(dp, d.decimalPlaces()));
};

function verifyTradesAndQuotes(): void {
	const got: (TradeItem | QuoteItem | null)[] = [];
	tradesAndQuotes(ttFrames, ttRecv, got);
	const want: (TradeItem | QuoteItem | null)[] = [];
	const last = new Map<string, { time: string; n: number; values: string }>();
	ttFrames.forEach((text, i) => {
		const f = parseExact(text) as { channel: string; data: Record<string, string>[] };
		for (const d of f.data) {
			if (f.channel === "trade") {
				const t = d as unknown as WsTrade;
				want.push({ tradeId: new Decimal(t.trade_id).toFixed(), side: t.side, price: rendered(t.price, PREC.price), qty: rendered(t.qty, PREC.qty), time: t.timestamp, recvTime: ttRecv[i] });
			} else {
				const t = d as unknown as WsTicker;
				const time = t.timestamp ?? ttRecv[i];
				const [bid, ask, bidQty, askQty] = [rendered(t.bid, PREC.price), rendered(t.ask, PREC.price), rendered(t.bid_qty, PREC.qty), rendered(t.ask_qty, PREC.qty)];
				const values = `${bid} ${ask} ${bidQty} ${askQty}`;
				const e = last.get(t.symbol);
				let seq: string | null;
				if (e && e.time === time) {
					seq = e.values === values ? null : String(++e.n);
					e.values = values;
				} else {
					last.set(t.symbol, { time, n: 0, values });
					seq = "0";
				}
				want.push(seq === null ? null : { time, seq, bid, ask, bidQty, askQty, recvTime: ttRecv[i] });
			}
		}
	});
	if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error("trade/ticker output differs from the parseExact + decimal.js reference: the bench would measure a broken path");
	if (got.length < 500) throw new Error(`only ${got.length} items decoded`);
}

function verifyBooks(): void {
	const decoded: WsBook[] = [];
	bookSession(bookFrames, decoded); // throws on any checksum mismatch
	const want = bookFrames.map((t) => (parseExact(t) as { data: WsBook[] }).data[0]);
	const norm = (b: WsBook) => JSON.stringify({ symbol: b.symbol, bids: b.bids.map((l) => [l.price, l.qty]), asks: b.asks.map((l) => [l.price, l.qty]), checksum: b.checksum, timestamp: b.timestamp });
	if (decoded.length !== want.length || decoded.some((b, i) => norm(b) !== norm(want[i]))) throw new Error("book frames decode differently from parseExact: the bench would measure a broken path");
}

// ---- timing ----

function timeIt(fn: () => void): number {
	const t = process.hrtime.bigint();
	fn();
	return Number(process.hrtime.bigint() - t) / 1e6;
}

/** One run: SLICES interleaved slices of baseline and measured, PASSES passes each; returns total ms of both. */
function run(baseline: () => void, measured: () => void): { baseMs: number; measMs: number } {
	let baseMs = 0;
	let measMs = 0;
	const passes = (fn: () => void) => () => {
		for (let p = 0; p < PASSES; p++) fn();
	};
	const b = passes(baseline);
	const m = passes(measured);
	for (let s = 0; s < SLICES; s++) {
		if (s % 2 === 0) {
			baseMs += timeIt(b);
			measMs += timeIt(m);
		} else {
			measMs += timeIt(m);
			baseMs += timeIt(b);
		}
	}
	return { baseMs, measMs };
}

function measure(name: "kraken-parse" | "kraken-parse-book", frames: string[], measured: () => void, goal: number, what: string): void {
	const baseline = () => jsonParseOnly(frames);
	// warm-up: both paths optimised before the first timed slice
	for (let i = 0; i < 3; i++) {
		baseline();
		measured();
	}
	const runs: { ratio: number; base: number; meas: number }[] = [];
	const n = frames.length * PASSES * SLICES;
	for (let r = 0; r < RUNS; r++) {
		const { baseMs, measMs } = run(baseline, measured);
		const x = { ratio: baseMs / measMs, base: n / (baseMs / 1000), meas: n / (measMs / 1000) };
		runs.push(x);
		console.error(`${name} run ${r + 1}/${RUNS}: JSON.parse ${fmt(x.base)} frames/s, ${what} ${fmt(x.meas)} frames/s, ratio ${x.ratio.toFixed(3)}`);
	}
	const ratio = median(runs.map((x) => x.ratio));
	const bytes = frames.reduce((s, f) => s + Buffer.byteLength(f), 0);
	report({
		bench: name,
		ratio,
		goal,
		better: "higher",
		figure: `${fmt(median(runs.map((x) => x.meas)))} frames/s`,
		baseline: `JSON.parse alone ${fmt(median(runs.map((x) => x.base)))} frames/s`,
		frames: frames.length,
		bytes,
		passes: PASSES * SLICES,
		runs: runs.map((x) => Number(x.ratio.toFixed(3))),
		quick: QUICK,
		cpu: os.cpus()[0]?.model ?? "?",
	});
}

verifyTradesAndQuotes();
verifyBooks();
console.error(`verified: ${ttFrames.length} trade/ticker frames and ${bookFrames.length} book frames (all checksums) agree with the reference`);
measure("kraken-parse", ttFrames, () => tradesAndQuotes(ttFrames, ttRecv), 0.6, "decode + domain items");
measure("kraken-parse-book", bookFrames, () => bookSession(bookFrames), 0.4, "decode + book + CRC32");
if (sink === 42) console.error("");
