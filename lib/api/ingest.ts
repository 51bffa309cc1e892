import { StringDecoder } from "node:string_decoder";
import type { Readable } from "node:stream";
import { ReplayBuilder, type ReplayMessage } from "../replay";
import { HttpError, tooLarge } from "./guard";

/**
 * POST /api/ingest as a stream: the body (JSON lines, or the older `{"lines": "..."}` object) is parsed
 * line by line as it arrives, so memory holds the messages of the good lines and one line of text, never
 * the body. Past `maxBytes` or `maxLines` it stops reading and answers 413 with nothing published; a
 * line longer than `maxLineBytes` is refused by itself and the lines around it are kept.
 */
export interface IngestLimits {
	maxBytes: number;
	maxLines: number;
	maxLineBytes?: number;
}

export interface IngestResult {
	lines: number;
	published: number;
	messages: number;
	rejected: number;
	/** The first 100 problems, each naming its line and field. */
	errors: { line: number; reason: string }[];
}

const MAX_ERRORS = 100;

/** Feeds text to a ReplayBuilder line by line, with the limits checked as it goes. */
class LineSplitter {
	private partial = "";
	private skipping = false; // inside an over-long line: drop text until its end
	private lineNo = 0;
	private bytes = 0;
	readonly builder = new ReplayBuilder(100, MAX_ERRORS);

	constructor(private readonly limits: Required<IngestLimits>) {}

	push(text: string, byteLength: number): void {
		this.bytes += byteLength;
		if (this.bytes > this.limits.maxBytes) throw tooLarge(this.limits.maxBytes);
		let start = 0;
		for (let nl = text.indexOf("\n", start); nl >= 0; nl = text.indexOf("\n", start)) {
			this.line(this.partial + text.slice(start, nl));
			this.partial = "";
			start = nl + 1;
		}
		const rest = text.slice(start);
		if (this.skipping) return;
		if (this.partial.length + rest.length > this.limits.maxLineBytes) {
			this.partial = "";
			this.skipping = true;
			return;
		}
		this.partial += rest;
	}

	private line(text: string): void {
		this.lineNo++;
		if (this.skipping || text.length > this.limits.maxLineBytes) {
			this.skipping = false;
			this.builder.out.lines++;
			this.builder.rejectLine(this.lineNo, `line longer than ${this.limits.maxLineBytes} characters`);
		} else this.builder.add(text, this.lineNo);
		if (this.builder.out.lines > this.limits.maxLines) throw new HttpError(413, `more than ${this.limits.maxLines} lines in one request; split the input`, "TOO_MANY_LINES", {}, { limit: this.limits.maxLines });
	}

	end(): IngestResult {
		if (this.skipping || this.partial) this.line(this.partial);
		const out = this.builder.finish();
		return { lines: out.lines, published: out.records, messages: out.messages.length, rejected: this.builder.rejected, errors: out.errors };
	}
}

function withDefaults(l: IngestLimits): Required<IngestLimits> {
	return { maxLineBytes: 64 * 1024, ...l };
}

/** Parse JSON lines from a string (REPL and other nodes' callers, who send `{lines}`). */
export function parseIngestText(text: string, limits: IngestLimits): { result: IngestResult; messages: ReplayMessage[] } {
	const s = new LineSplitter(withDefaults(limits));
	s.push(text, Buffer.byteLength(text));
	const result = s.end();
	return { result, messages: s.builder.out.messages };
}

/**
 * Parse a request body stream. A body starting with "{" whose first key is "lines" is the older JSON
 * form: its string is decoded incrementally (JSON string escapes included) and split the same way.
 */
export function parseIngestStream(body: Readable, limits: IngestLimits): Promise<{ result: IngestResult; messages: ReplayMessage[] }> {
	const s = new LineSplitter(withDefaults(limits));
	const decoder = new StringDecoder("utf8");
	let form: "unknown" | "lines" | "wrapped" = "unknown";
	const wrapped = new WrappedLines();
	let head = "";
	return new Promise((resolve, reject) => {
		const cleanup = () => {
			body.off("data", onData);
			body.off("end", onEnd);
			body.off("error", onError);
			body.off("close", onClose);
		};
		const fail = (err: unknown) => {
			cleanup();
			body.resume(); // discard what is still coming; the gateway answers 413
			reject(err);
		};
		const WRAPPED_RE = /^\s*\{\s*"lines"\s*:\s*"/;
		// The form is known once the head is long enough to tell `{"lines": "` from a JSON line.
		const decide = () => {
			form = WRAPPED_RE.test(head) ? "wrapped" : "lines";
			const t = head;
			head = "";
			return t;
		};
		const feed = (text: string, bytes: number) => {
			if (form === "unknown") {
				head += text;
				if (head.trimStart().length < 64) return s.push("", bytes);
				text = decide();
			}
			s.push(form === "lines" ? text : wrapped.push(text), bytes);
		};
		const onData = (chunk: Buffer | string) => {
			try {
				if (typeof chunk === "string") feed(chunk, Buffer.byteLength(chunk));
				else feed(decoder.write(chunk), chunk.length);
			} catch (err) {
				fail(err);
			}
		};
		const onEnd = () => {
			cleanup();
			try {
				const t = (form === "unknown" ? decide() : "") + decoder.end();
				s.push(form === "lines" ? t : wrapped.push(t), 0);
				if (form === "wrapped") wrapped.end();
				const result = s.end();
				resolve({ result, messages: s.builder.out.messages });
			} catch (err) {
				reject(err);
			}
		};
		const onError = (err: Error) => fail(err);
		// A client gone before the end (or cut by the request timeout) ends the parse: nothing is published.
		const onClose = () => {
			if (!body.readableEnded) fail(new HttpError(400, "the request body ended early (client gone or request timeout)", "BODY_INCOMPLETE", {}, { param: "body" }));
		};
		body.on("data", onData);
		body.on("end", onEnd);
		body.on("error", onError);
		body.on("close", onClose);
	});
}

/**
 * The string value of `{"lines": "..."}` decoded as it streams in: JSON escapes are resolved (an escape cut
 * by a chunk boundary waits for the next chunk), and what follows the closing quote must be `}`.
 */
class WrappedLines {
	private state: "before" | "inside" | "after" = "before";
	private pending = ""; // an escape sequence cut by the chunk boundary
	private tail = "";

	push(chunk: string): string {
		let text = this.pending + chunk;
		this.pending = "";
		let out = "";
		let i = 0;
		if (this.state === "before") {
			const m = /^\s*\{\s*"lines"\s*:\s*"/.exec(text);
			if (!m) throw new HttpError(400, 'send JSON lines, or {"lines": "<JSON lines>"}', "INVALID_PARAMETER", {}, { param: "lines" });
			i = m[0].length;
			this.state = "inside";
		}
		if (this.state === "after") {
			this.tail += text;
			this.checkTail(false);
			return "";
		}
		let runStart = i;
		for (; i < text.length; i++) {
			const c = text.charCodeAt(i);
			if (c === 34 /* " */) {
				out += text.slice(runStart, i);
				this.state = "after";
				this.tail = text.slice(i + 1);
				this.checkTail(false);
				return out;
			}
			if (c === 92 /* \ */) {
				out += text.slice(runStart, i);
				const e = text[i + 1];
				if (e === undefined) {
					this.pending = "\\";
					return out;
				}
				if (e === "u") {
					if (i + 6 > text.length) {
						this.pending = text.slice(i);
						return out;
					}
					const hex = text.slice(i + 2, i + 6);
					if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw badWrapped(`bad \\u escape ${JSON.stringify(hex)}`);
					out += String.fromCharCode(parseInt(hex, 16));
					i += 5;
				} else {
					const m = ESCAPES[e];
					if (m === undefined) throw badWrapped(`bad escape \\${e}`);
					out += m;
					i += 1;
				}
				runStart = i + 1;
			}
		}
		out += text.slice(runStart);
		text = "";
		return out;
	}

	private checkTail(final: boolean): void {
		const t = this.tail.trim();
		if (t === "" && !final) return;
		if (t !== "}") {
			if (!final && "}".startsWith(t)) return;
			throw badWrapped('expected } after the "lines" string (no other fields)');
		}
	}

	end(): void {
		if (this.state !== "after") throw badWrapped('the "lines" string is not closed');
		this.checkTail(true);
	}
}

const ESCAPES: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

function badWrapped(why: string): HttpError {
	return new HttpError(400, `body is not {"lines": "<JSON lines>"}: ${why}`, "INVALID_PARAMETER", {}, { param: "lines" });
}
