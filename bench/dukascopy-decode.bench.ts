/**
 * Dukascopy decode throughput (ticks/s) on the real recorded hours, against raw LZMA decompression of
 * the same files in the same run: decode = LZMA + 20-byte records into columns (+ checks); render = the
 * quote items with exact decimal strings that go into the log. Also the JSON API hour against JSON.parse.
 *   npm run bench:decode [-- --rounds 200]
 */
import fs from "node:fs";
import path from "node:path";
import { lzma } from "@napi-rs/lzma";
import { decodeBi5Ticks } from "../lib/backfill/dukascopy/bi5";
import { getInstrument } from "../lib/backfill/dukascopy/instruments";
import { decodeJsonTicks } from "../lib/backfill/dukascopy/jsonapi";
import { quoteItems } from "../lib/backfill/dukascopy/ticks";

const ROUNDS = Number(process.argv[process.argv.indexOf("--rounds") + 1] || 200) || 200;
const FIX = path.resolve(__dirname, "../../shared/fixtures/dukascopy");
const FILES = [
	{ rel: "bi5/BTCUSD/2023/01/20/12h_ticks.bi5", inst: "BTCUSD", hour: Date.parse("2023-02-20T12:00:00Z") },
	{ rel: "bi5/EURUSD/2019/01/04/00h_ticks.bi5", inst: "EURUSD", hour: Date.parse("2019-02-04T00:00:00Z") },
	{ rel: "bi5/EURUSD/2019/01/04/01h_ticks.bi5", inst: "EURUSD", hour: Date.parse("2019-02-04T01:00:00Z") },
	{ rel: "bi5/EURUSD/2019/01/04/02h_ticks.bi5", inst: "EURUSD", hour: Date.parse("2019-02-04T02:00:00Z") },
].map((f) => ({ ...f, buf: fs.readFileSync(path.join(FIX, f.rel)), instrument: getInstrument(f.inst) }));

/** Best of three timed runs of `rounds` passes (the machine is shared and noisy). */
function time(fn: () => number): { ms: number; ticks: number } {
	let best = Infinity;
	let ticks = 0;
	for (let r = 0; r < 3; r++) {
		const t0 = performance.now();
		ticks = 0;
		for (let i = 0; i < ROUNDS; i++) ticks += fn();
		best = Math.min(best, performance.now() - t0);
	}
	return { ms: best, ticks };
}

function main() {
	const perRound = FILES.reduce((a, f) => a + lzma.decompressSync(f.buf).length / 20, 0);
	for (let i = 0; i < 20; i++) for (const f of FILES) quoteItems(decodeBi5Ticks(f.buf, f.inst, f.hour), f.instrument, "2026-01-01T00:00:00.000Z"); // warm-up

	const raw = time(() => FILES.reduce((a, f) => a + lzma.decompressSync(f.buf).length / 20, 0));
	const decode = time(() => FILES.reduce((a, f) => a + decodeBi5Ticks(f.buf, f.inst, f.hour).count, 0));
	const render = time(() => FILES.reduce((a, f) => a + quoteItems(decodeBi5Ticks(f.buf, f.inst, f.hour), f.instrument, "2026-01-01T00:00:00.000Z").length, 0));
	const rate = (x: { ms: number; ticks: number }) => Math.round(x.ticks / (x.ms / 1000));
	console.log(`${FILES.length} real .bi5 hours, ${perRound} ticks per round, ${ROUNDS} rounds (best of 3)`);
	console.log(`raw LZMA decompression: ${rate(raw)} ticks/s`);
	console.log(`decode to columns:      ${rate(decode)} ticks/s (${(rate(decode) / rate(raw)).toFixed(3)} of raw)`);
	console.log(`decode + render quotes: ${rate(render)} ticks/s (${(rate(render) / rate(raw)).toFixed(3)} of raw)`);

	const jsonText = fs.readFileSync(path.join(FIX, "jsonapi/ticks-BTC-USD-2023-2-20-12.json"), "utf8");
	const btc = getInstrument("BTCUSD");
	const btcHour = Date.parse("2023-02-20T12:00:00Z");
	const parse = time(() => (JSON.parse(jsonText).times as unknown[]).length);
	const json = time(() => decodeJsonTicks(JSON.parse(jsonText), btc, btcHour).count);
	console.log(`JSON API hour: JSON.parse ${rate(parse)} ticks/s, decode ${rate(json)} ticks/s (${(rate(json) / rate(parse)).toFixed(3)} of JSON.parse)`);

	console.log(
		JSON.stringify({
			bench: "dukascopy-decode",
			ticks_per_round: perRound,
			rounds: ROUNDS,
			raw_lzma_ticks_per_s: rate(raw),
			decode_ticks_per_s: rate(decode),
			decode_render_ticks_per_s: rate(render),
			ratio_decode_vs_lzma: Number((rate(decode) / rate(raw)).toFixed(3)),
			ratio_render_vs_lzma: Number((rate(render) / rate(raw)).toFixed(3)),
			json_decode_ticks_per_s: rate(json),
			ratio_json_vs_parse: Number((rate(json) / rate(parse)).toFixed(3)),
		}),
	);
}

main();
