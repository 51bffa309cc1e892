import fs from "node:fs";
import path from "node:path";

/** The real recorded Kraken v2 book session: a snapshot plus 509 updates, BTC/USD depth 10. */
const FIXTURE = path.resolve(__dirname, "../../../../shared/fixtures/kraken/ws_v2/orderbook-v2_BTCUSD_depth10_2023-07-30.json");

/** The recording's frames as the text a socket would deliver (the file holds them pretty-printed in one JSON). */
export function recordedBookFrames(): string[] {
	const raw = fs.readFileSync(FIXTURE, "utf8");
	// Cut the frames out of the file text itself, so number text such as "4.0" reaches the parser untouched.
	const initAt = raw.indexOf("{", raw.indexOf('"init"'));
	const updatesAt = raw.indexOf("[", raw.indexOf('"updates"'));
	const frames: string[] = [objectAt(raw, initAt)];
	let i = updatesAt + 1;
	for (;;) {
		const start = raw.indexOf("{", i);
		if (start < 0 || start > raw.lastIndexOf("}")) break;
		const obj = objectAt(raw, start);
		frames.push(obj);
		i = start + obj.length;
		if (frames.length > 600) break;
	}
	return frames.filter((f) => f.includes('"channel"'));
}

function objectAt(s: string, start: number): string {
	let depth = 0;
	for (let i = start; i < s.length; i++) {
		const c = s[i];
		if (c === "{") depth++;
		else if (c === "}" && --depth === 0) return s.slice(start, i + 1);
	}
	throw new Error("unterminated object");
}
