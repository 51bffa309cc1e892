import os from "node:os";
import { L2Book } from "../lib/venues/kraken/book";
import { decodeFrame } from "../lib/venues/kraken/parse";
import { recordedBookFrames } from "../test/venues/kraken/recording";

/**
 * Kraken v2 parse + normalize throughput on the real recorded book session (snapshot + 509 updates,
 * compacted the way the socket sends them), one core, against JSON.parse alone of the same frames:
 *   decode   = exact-number parse (number text kept) + validation of every level
 *   full     = decode + apply to the L2 book at the pair's precision + CRC32 checksum verified
 * Runs each measurement several times and keeps the best (least disturbed) run.
 */
const frames = recordedBookFrames().map((f) => f.replace(/\s+/g, ""));
const bytes = frames.reduce((n, f) => n + Buffer.byteLength(f), 0);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 200); // passes over the 510 frames per run
const RUNS = 5;

let sink = 0;

function jsonParseOnly(): void {
	for (let r = 0; r < REPEAT; r++) for (const f of frames) sink += (JSON.parse(f) as { data: unknown[] }).data.length;
}

function decodeOnly(): void {
	for (let r = 0; r < REPEAT; r++) for (const f of frames) sink += decodeFrame(f).kind.length;
}

function full(): void {
	for (let r = 0; r < REPEAT; r++) {
		const book = new L2Book(10, { price: 1, qty: 8 });
		for (const f of frames) {
			const d = decodeFrame(f);
			if (d.kind !== "book") throw new Error(`not a book frame: ${f.slice(0, 80)}`);
			for (const b of d.books) {
				if (d.type === "snapshot") book.applySnapshot(b);
				else book.applyUpdate(b);
				if (book.checksum() !== Number(b.checksum)) throw new Error("checksum mismatch: the benchmark would measure a broken path");
			}
		}
		sink += book.bids.length;
	}
}

function best(fn: () => void): number {
	fn(); // warm-up
	let ms = Infinity;
	for (let i = 0; i < RUNS; i++) {
		const t = process.hrtime.bigint();
		fn();
		ms = Math.min(ms, Number(process.hrtime.bigint() - t) / 1e6);
	}
	return ms;
}

const n = frames.length * REPEAT;
const base = best(jsonParseOnly);
const dec = best(decodeOnly);
const all = best(full);
const rate = (ms: number) => Math.round(n / (ms / 1000));
console.log(`${frames.length} recorded frames (${bytes} bytes) x ${REPEAT}, best of ${RUNS} runs, one core (${os.cpus()[0]?.model ?? "?"})`);
console.log(`JSON.parse alone:                  ${rate(base).toLocaleString()} msg/s`);
console.log(`decodeFrame (exact numbers):       ${rate(dec).toLocaleString()} msg/s  (${(dec / base).toFixed(2)}x the time of JSON.parse)`);
console.log(`decode + book + CRC32 verified:    ${rate(all).toLocaleString()} msg/s  (${(all / base).toFixed(2)}x the time of JSON.parse)`);
if (sink === 0) console.log("");
console.log(
	JSON.stringify({
		bench: "kraken-parse",
		frames: n,
		json_parse_msgs_per_s: rate(base),
		decode_msgs_per_s: rate(dec),
		parse_normalize_verify_msgs_per_s: rate(all),
		ratio_vs_json_parse: Number((rate(all) / rate(base)).toFixed(3)),
		ratio_decode_vs_json_parse: Number((rate(dec) / rate(base)).toFixed(3)),
	}),
);
