import fs from "node:fs";
import readline from "node:readline";

/**
 * Raw frame recordings: one JSON line per received frame, `{"recv":"<ISO receive time>","frame":"<text>"}`,
 * so any session can be replayed into the same parser and become a regression test.
 */

export interface RecordedFrame {
	recvMs: number;
	text: string;
}

export function recordingLine(text: string, recvMs: number): string {
	return JSON.stringify({ recv: new Date(recvMs).toISOString(), frame: text }) + "\n";
}

export class FrameRecorder {
	private out: fs.WriteStream;
	frames = 0;

	constructor(readonly file: string) {
		this.out = fs.createWriteStream(file, { flags: "a" });
		this.out.on("error", () => undefined); // reported by close()
	}

	write(text: string, recvMs: number): void {
		this.out.write(recordingLine(text, recvMs));
		this.frames++;
	}

	close(): Promise<void> {
		return new Promise((resolve, reject) => this.out.end((err?: Error | null) => (err ? reject(err) : resolve())));
	}
}

/** Parse one recording line; throws with the reason for a line that is not a recorded frame. */
export function parseRecordingLine(line: string): RecordedFrame {
	const o = JSON.parse(line);
	const recvMs = typeof o?.recv === "string" ? Date.parse(o.recv) : NaN;
	if (!Number.isFinite(recvMs) || typeof o.frame !== "string") throw new Error('expected {"recv": ISO time, "frame": text}');
	return { recvMs, text: o.frame };
}

/**
 * Feed a recording into `handle` (the session's frame handler) in order. Bad lines are reported
 * through `onBadLine` and skipped. Resolves with the number of frames replayed.
 */
export async function replayRecording(file: string, handle: (text: string, recvMs: number) => void, onBadLine?: (line: number, reason: string) => void): Promise<number> {
	const rl = readline.createInterface({ input: fs.createReadStream(file, "utf8"), crlfDelay: Infinity });
	let n = 0;
	let lineNo = 0;
	for await (const line of rl) {
		lineNo++;
		if (!line.trim()) continue;
		let f: RecordedFrame;
		try {
			f = parseRecordingLine(line);
		} catch (err) {
			onBadLine?.(lineNo, (err as Error).message);
			continue;
		}
		handle(f.text, f.recvMs);
		n++;
	}
	return n;
}

/** `--record <file>` (or `--record=<file>`) from a command line, null when absent. */
export function recordFileFromArgs(argv: readonly string[]): string | null {
	for (let i = 0; i < argv.length; i++) {
		if (argv[i] === "--record" && argv[i + 1]) return argv[i + 1];
		if (argv[i].startsWith("--record=")) return argv[i].slice("--record=".length) || null;
	}
	return null;
}
