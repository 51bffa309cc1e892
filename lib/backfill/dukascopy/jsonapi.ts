import type { DukascopyInstrument } from "./instruments";
import { CorruptHourError, HOUR_MS, checkHour, emptyHour, plainDecimal, type JsonHour } from "./ticks";

/**
 * The JSON API's hour of ticks (jetta.dukascopy.com/v1/ticks/EUR-USD/2024/1/15/13): columnar and
 * delta-encoded. times[i] is ms after the previous tick (the first after `timestamp`); asks[i]/bids[i]
 * are price steps in units of `multiplier` after the previous price (the first after `ask`/`bid`);
 * volumes are plain numbers. `ask`, `bid` and the volumes may also be the JSON number texts
 * (parseJsonTicks), which keeps them exact whatever their digits.
 */
export interface JsonTicksResponse {
	timestamp: number;
	multiplier: number;
	ask: number | string;
	bid: number | string;
	times: number[];
	asks: number[];
	bids: number[];
	askVolumes: (number | string)[];
	bidVolumes: (number | string)[];
}

/** The fields whose digits must survive exactly: base prices and volumes. */
const EXACT_FIELDS = ["ask", "bid", "askVolumes", "bidVolumes"] as const;
const JSON_WS = /[ \t\n\r]*/y;
const JSON_NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * JSON.parse of a JSON API response that replaces `ask`, `bid` and every volume by its number's source
 * text (a string), so that no digit is lost to a float. JSON.parse has validated the text and the
 * response holds only numbers and flat arrays of numbers, so each such field's text is found by its
 * key (the last one, as JSON.parse keeps the last) and each text is checked against the parsed value.
 * (A JSON.parse reviver with source access does the same about 20 times slower.) A response of another
 * shape is returned as parsed: decodeJsonTicks says what is wrong with it.
 */
export function parseJsonTicks(text: string): unknown {
	const body: unknown = JSON.parse(text);
	if (body === null || typeof body !== "object" || Array.isArray(body)) return body;
	const o = body as Record<string, unknown>;
	for (const v of Object.values(o)) {
		if (typeof v !== "number" && !(Array.isArray(v) && v.every((x) => typeof x === "number"))) return body;
	}
	for (const k of EXACT_FIELDS) {
		const v = o[k];
		if (v === undefined) continue;
		const texts = valueTexts(text, k);
		const values = Array.isArray(v) ? v : [v];
		if (!texts || texts.length !== values.length || texts.some((t, i) => Number(t) !== values[i])) throw new SyntaxError(`cannot read the number text of ${k}`);
		o[k] = Array.isArray(v) ? texts : texts[0];
	}
	return o;
}

/** The number texts of the top-level key `k` (a number, or a flat array of numbers) in valid JSON holding no other strings than keys. */
function valueTexts(text: string, k: string): string[] | null {
	const at = text.lastIndexOf(`"${k}"`);
	if (at < 0) return null;
	let i = skip(text, at + k.length + 2);
	if (text[i] !== ":") return null;
	i = skip(text, i + 1);
	if (text[i] === "[") {
		const end = text.indexOf("]", i);
		const inner = text.slice(i + 1, end).trim();
		return inner === "" ? [] : inner.split(",").map((t) => t.trim());
	}
	JSON_NUMBER.lastIndex = i;
	const m = JSON_NUMBER.exec(text);
	return m ? [m[0]] : null;
}

function skip(text: string, i: number): number {
	JSON_WS.lastIndex = i;
	JSON_WS.exec(text);
	return JSON_WS.lastIndex;
}

/** Non-negative JSON number syntax, exponent bounded so that the plain decimal stays short. */
const JSON_NUMBER_RE = /^(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d{1,2})?$/;

/** A JSON number (its value, or its source text) as a plain non-negative decimal string; null if it is not one. */
export function jsonDecimal(v: unknown): string | null {
	const s = typeof v === "number" ? (Number.isFinite(v) ? String(v) : "") : typeof v === "string" ? v : "";
	if (s.length === 0 || s.length > 64 || !JSON_NUMBER_RE.test(s)) return null;
	const d = plainDecimal(s);
	return d.length <= 64 ? d : null;
}

/**
 * A price (JSON number or its text) as an integer count of 10^-decimals, exactly: "24921.5" with 1
 * decimal -> 249215. Null when it has more decimals than that (or is not a non-negative number):
 * rounding it would change the price.
 */
export function scaledInteger(v: unknown, decimals: number): number | null {
	const d = jsonDecimal(v);
	if (d === null) return null;
	const dot = d.indexOf(".");
	const frac = dot < 0 ? "" : d.slice(dot + 1); // plainDecimal drops trailing zeros
	if (frac.length > decimals) return null;
	const n = Number((dot < 0 ? d : d.slice(0, dot)) + frac.padEnd(decimals, "0"));
	return Number.isSafeInteger(n) ? n : null;
}

const COLUMNS = ["times", "asks", "bids", "askVolumes", "bidVolumes"] as const;

export function decodeJsonTicks(body: unknown, inst: DukascopyInstrument, hourStartMs: number): JsonHour {
	const fail = (detail: string) => new CorruptHourError(inst.id, hourStartMs, `JSON API: ${detail}`);
	if (body === null || typeof body !== "object" || Array.isArray(body)) throw fail("response is not an object");
	const r = body as Partial<JsonTicksResponse>;
	for (const k of ["timestamp", "multiplier"] as const) {
		if (typeof r[k] !== "number" || !Number.isFinite(r[k])) throw fail(`${k} is missing or not a number`);
	}
	for (const k of ["ask", "bid"] as const) {
		if ((typeof r[k] !== "number" || !Number.isFinite(r[k])) && typeof r[k] !== "string") throw fail(`${k} is missing or not a number`);
	}
	const n = Array.isArray(r.times) ? r.times.length : -1;
	for (const k of COLUMNS) {
		if (!Array.isArray(r[k]) || r[k]!.length !== n) throw fail(`${k} is missing or its length differs from times (${n})`);
	}
	// The API's price unit must be the instrument's: then every price is an exact integer of that unit.
	if (Math.round(1 / r.multiplier!) !== inst.decimalFactor) throw fail(`multiplier ${r.multiplier} does not match ${inst.id}'s decimal factor ${inst.decimalFactor}`);
	const h = emptyHour(inst.id, hourStartMs, "units", n);
	let t = r.timestamp! - hourStartMs;
	// The base prices must be whole units of the instrument's precision: an extra decimal would be rounded away.
	const start = (k: "ask" | "bid") => {
		const v = scaledInteger(r[k], inst.decimals);
		if (v === null) throw fail(`${k} ${r[k]} is not a non-negative price with at most ${inst.decimals} decimals (${inst.id}'s precision)`);
		return v;
	};
	let ask = start("ask");
	let bid = start("bid");
	const { times, asks, bids, askVolumes, bidVolumes } = r as JsonTicksResponse;
	// Volumes repeat a lot within an hour: check and render each distinct one once.
	const volumes = new Map<number | string, string | null>();
	const volume = (v: number | string) => {
		let d = volumes.get(v);
		if (d === undefined) volumes.set(v, (d = jsonDecimal(v)));
		return d;
	};
	for (let i = 0; i < n; i++) {
		const dt = times[i];
		const da = asks[i];
		const db = bids[i];
		if (!Number.isInteger(dt) || !Number.isInteger(da) || !Number.isInteger(db)) throw fail(`tick ${i}: time and price steps must be integers`);
		t += dt;
		ask += da;
		bid += db;
		if (t < 0 || t >= HOUR_MS || ask < 0 || bid < 0 || ask > 0xffffffff || bid > 0xffffffff) throw fail(`tick ${i}: time or price out of range`);
		const av = volume(askVolumes[i]);
		const bv = volume(bidVolumes[i]);
		if (av === null || bv === null) throw fail(`tick ${i}: volumes must be non-negative numbers (${askVolumes[i]}, ${bidVolumes[i]})`);
		h.offsets[i] = t;
		h.ask[i] = ask;
		h.bid[i] = bid;
		// kept as the API wrote them (no float32 step, unlike the .bi5 records' own float32 volumes)
		h.askVolume[i] = av;
		h.bidVolume[i] = bv;
	}
	checkHour(h);
	return h;
}
