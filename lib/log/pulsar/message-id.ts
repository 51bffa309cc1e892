/**
 * Pulsar message ids as the WebSocket API shows them: base64 of the protobuf `MessageIdData`
 * (ledgerId = 1, entryId = 2, partition = 3, batch_index = 4; varints), which is what the broker's
 * `MessageId.toByteArray()` produces. The driver treats ids as opaque; this decoder only renders them
 * as ledger:entry:partition:batch for messages and tests.
 */
export interface MessageIdParts {
	ledgerId: bigint;
	entryId: bigint;
	partition: number;
	batchIndex: number;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Write `v` as a protobuf varint (two's complement in 64 bits for a negative) at `at`; returns the end. */
function varint(out: Buffer, at: number, v: bigint | number): number {
	// ids are small non-negative numbers nearly always: plain arithmetic, BigInt only beyond 2^53 or below 0
	if (typeof v === "number" ? v >= 0 && v <= Number.MAX_SAFE_INTEGER : v >= 0n && v <= MAX_SAFE) {
		let x = Number(v);
		while (x >= 0x80) {
			out[at++] = (x % 0x80) | 0x80;
			x = Math.floor(x / 0x80);
		}
		out[at++] = x;
		return at;
	}
	let x = BigInt.asUintN(64, BigInt(v));
	while (x >= 0x80n) {
		out[at++] = Number(x & 0x7fn) | 0x80;
		x >>= 7n;
	}
	out[at++] = Number(x);
	return at;
}

/** Four fields of at most one tag byte and ten varint bytes. */
const idScratch = Buffer.alloc(44);

export function encodeMessageId(p: MessageIdParts): string {
	const out = idScratch;
	let at = 0;
	out[at++] = 0x08;
	at = varint(out, at, p.ledgerId);
	out[at++] = 0x10;
	at = varint(out, at, p.entryId);
	if (p.partition >= 0) {
		out[at++] = 0x18;
		at = varint(out, at, p.partition);
	}
	if (p.batchIndex >= 0) {
		out[at++] = 0x20;
		at = varint(out, at, p.batchIndex);
	}
	return out.toString("base64", 0, at);
}

export function decodeMessageId(b64: string): MessageIdParts {
	const b = Buffer.from(b64, "base64");
	const p: MessageIdParts = { ledgerId: -1n, entryId: -1n, partition: -1, batchIndex: -1 };
	let i = 0;
	let seen = 0;
	const read = (): bigint => {
		let v = 0n;
		let shift = 0n;
		for (;;) {
			if (i >= b.length) throw new TypeError(`truncated message id ${JSON.stringify(b64)}`);
			const c = b[i++];
			v |= BigInt(c & 0x7f) << shift;
			if (!(c & 0x80)) return v;
			shift += 7n;
		}
	};
	while (i < b.length) {
		const tag = b[i++];
		const field = tag >> 3;
		if ((tag & 7) !== 0) throw new TypeError(`message id ${JSON.stringify(b64)}: unexpected wire type in field ${field}`);
		const v = read();
		if (field === 1) {
			p.ledgerId = BigInt.asIntN(64, v);
			seen |= 1;
		} else if (field === 2) {
			p.entryId = BigInt.asIntN(64, v);
			seen |= 2;
		}
		else if (field === 3) p.partition = Number(BigInt.asIntN(32, v));
		else if (field === 4) p.batchIndex = Number(BigInt.asIntN(32, v));
	}
	if (seen !== 3) throw new TypeError(`message id ${JSON.stringify(b64)} has no ledger and entry`);
	return p;
}

export function formatMessageId(b64: string): string {
	const p = decodeMessageId(b64);
	return `${p.ledgerId}:${p.entryId}:${p.partition}:${p.batchIndex}`;
}

/**
 * publishTime as the WebSocket API sends it: current brokers format it ISO-8601 with an offset
 * ("2024-01-15T10:20:30.123+0000"), old docs show "2016-08-30 16:45:57.785" (read as UTC).
 */
export function parsePublishTime(s: unknown): number {
	if (typeof s === "number") return s;
	if (typeof s !== "string") return NaN;
	let t = s.trim().replace(" ", "T");
	t = t.replace(/([+-]\d{2})(\d{2})$/, "$1:$2");
	if (!/(Z|[+-]\d{2}:\d{2})$/.test(t)) t += "Z";
	return Date.parse(t);
}

export function formatPublishTime(ms: number): string {
	return new Date(ms).toISOString().replace("Z", "+0000");
}
