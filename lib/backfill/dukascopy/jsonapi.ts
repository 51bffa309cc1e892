import type { DukascopyInstrument } from "./instruments";
import { CorruptHourError, HOUR_MS, checkHour, emptyHour, type DecodedHour } from "./ticks";

/**
 * The JSON API's hour of ticks (jetta.dukascopy.com/v1/ticks/EUR-USD/2024/1/15/13): columnar and
 * delta-encoded. times[i] is ms after the previous tick (the first after `timestamp`); asks[i]/bids[i]
 * are price steps in units of `multiplier` after the previous price (the first after `ask`/`bid`);
 * volumes are plain numbers.
 */
export interface JsonTicksResponse {
	timestamp: number;
	multiplier: number;
	ask: number;
	bid: number;
	times: number[];
	asks: number[];
	bids: number[];
	askVolumes: number[];
	bidVolumes: number[];
}

const COLUMNS = ["times", "asks", "bids", "askVolumes", "bidVolumes"] as const;

export function decodeJsonTicks(body: unknown, inst: DukascopyInstrument, hourStartMs: number): DecodedHour {
	const fail = (detail: string) => new CorruptHourError(inst.id, hourStartMs, `JSON API: ${detail}`);
	if (body === null || typeof body !== "object" || Array.isArray(body)) throw fail("response is not an object");
	const r = body as Partial<JsonTicksResponse>;
	for (const k of ["timestamp", "multiplier", "ask", "bid"] as const) {
		if (typeof r[k] !== "number" || !Number.isFinite(r[k])) throw fail(`${k} is missing or not a number`);
	}
	const n = Array.isArray(r.times) ? r.times.length : -1;
	for (const k of COLUMNS) {
		if (!Array.isArray(r[k]) || r[k]!.length !== n) throw fail(`${k} is missing or its length differs from times (${n})`);
	}
	// The API's price unit must be the instrument's: then every price is an exact integer of that unit.
	if (Math.round(1 / r.multiplier!) !== inst.decimalFactor) throw fail(`multiplier ${r.multiplier} does not match ${inst.id}'s decimal factor ${inst.decimalFactor}`);
	const h = emptyHour(inst.id, hourStartMs, "units", n);
	const f = inst.decimalFactor;
	let t = r.timestamp! - hourStartMs;
	let ask = Math.round(r.ask! * f);
	let bid = Math.round(r.bid! * f);
	const { times, asks, bids, askVolumes, bidVolumes } = r as JsonTicksResponse;
	for (let i = 0; i < n; i++) {
		const dt = times[i];
		const da = asks[i];
		const db = bids[i];
		if (!Number.isInteger(dt) || !Number.isInteger(da) || !Number.isInteger(db)) throw fail(`tick ${i}: time and price steps must be integers`);
		t += dt;
		ask += da;
		bid += db;
		if (t < 0 || t >= HOUR_MS || ask < 0 || bid < 0 || ask > 0xffffffff || bid > 0xffffffff) throw fail(`tick ${i}: time or price out of range`);
		const av = askVolumes[i];
		const bv = bidVolumes[i];
		if (typeof av !== "number" || typeof bv !== "number") throw fail(`tick ${i}: volumes must be numbers`);
		h.offsets[i] = t;
		h.ask[i] = ask;
		h.bid[i] = bid;
		h.askVolume[i] = av; // stored as float32, like the .bi5 records: both sources render the same strings
		h.bidVolume[i] = bv;
	}
	checkHour(h);
	return h;
}
