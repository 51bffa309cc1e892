import fc from "fast-check";
import { crc32 } from "node:zlib";
import { L2Book } from "../../../lib/venues/kraken/book";
import { CRC_START, crcFeedDecimal, crcFinish } from "../../../lib/venues/kraken/crc32";
import { checksumToken } from "../../../lib/venues/kraken/precision";
import { decodeFrame, type Frame } from "../../../lib/venues/kraken/parse";
import { recordedBookFrames } from "./recording";

function book(f: Frame) {
	if (f.kind !== "book") throw new Error(`expected a book frame, got ${JSON.stringify(f)}`);
	expect(f.problems).toEqual([]);
	return f;
}

describe("Kraken v2 L2 book on the real recording", () => {
	const frames = recordedBookFrames();

	it("has the snapshot and 509 updates", () => {
		expect(frames).toHaveLength(510);
		expect(book(decodeFrame(frames[0])).type).toBe("snapshot");
	});

	it("verifies all 510 CRC32 checksums at price precision 1 and qty precision 8", () => {
		const b = new L2Book(10, { price: 1, qty: 8 });
		let verified = 0;
		for (const text of frames) {
			const f = book(decodeFrame(text));
			for (const d of f.books) {
				if (f.type === "snapshot") b.applySnapshot(d);
				else b.applyUpdate(d);
				expect(b.checksum()).toBe(Number(d.checksum));
				verified++;
			}
			expect(b.bids.length).toBeLessThanOrEqual(10);
			expect(b.asks.length).toBeLessThanOrEqual(10);
		}
		expect(verified).toBe(510);
		// sides stay ordered: best bid below best ask
		expect(Number(b.bids[0].price)).toBeLessThan(Number(b.asks[0].price));
	});

	it("renders numbers the recording re-serialised (4.0) at the pair's precision", () => {
		const b = new L2Book(10, { price: 1, qty: 8 });
		b.applySnapshot(book(decodeFrame(frames[0])).books[0]);
		expect(b.bids.find((l) => l.price === "29426.7")).toMatchObject({ price: "29426.7", qty: "4.00000000" });
		expect(b.asks.find((l) => l.price === "29431.0")).toMatchObject({ price: "29431.0", qty: "0.00011662" });
		// each level's checksum text: '.' removed, leading zeros stripped, at the pair's precision ("29431.0" / "0.00011662")
		expect(b.asks.find((l) => l.price === "29431.0")!.tok).toBe("294310" + "11662");
		expect(b.asks[0].tok.startsWith("294303825215653")).toBe(true);
		expect(b.checksum()).toBe(crc32([...b.asks, ...b.bids].map((l) => l.tok).join("")) >>> 0);
	});

	it("fails the checksum when one level of one update is corrupted", () => {
		const b = new L2Book(10, { price: 1, qty: 8 });
		const snap = book(decodeFrame(frames[0])).books[0];
		b.applySnapshot(snap);
		const upd = book(decodeFrame(frames[1])).books[0];
		// asks[2] (29430.6) lands inside the top 10, so the checksum covers it
		const corrupted = { ...upd, asks: upd.asks.map((l, i) => (i === 2 ? { price: l.price, qty: "0.7" } : l)) };
		expect(upd.asks[2]).toEqual({ price: "29430.6", qty: "0.001" });
		b.applyUpdate(corrupted);
		expect(b.checksum()).not.toBe(Number(upd.checksum));
		// the untouched update on a fresh copy of the same book does verify
		const ok = new L2Book(10, { price: 1, qty: 8 });
		ok.applySnapshot(snap);
		ok.applyUpdate(upd);
		expect(ok.checksum()).toBe(Number(upd.checksum));
	});

	it("a wrong precision makes the checksums fail (rendering matters)", () => {
		const b = new L2Book(10, { price: 2, qty: 8 });
		const f = book(decodeFrame(frames[0])).books[0];
		b.applySnapshot(f);
		expect(b.checksum()).not.toBe(Number(f.checksum));
	});
});

/** n units of 10^-d as decimal text ("0.00000012" for 12, 8), made from digits, not floats. */
function decimalText(n: number, d: number): string {
	const digits = String(n).padStart(d + 1, "0");
	return d ? `${digits.slice(0, -d)}.${digits.slice(-d)}` : digits;
}

describe("the checksum's CRC32 from per-level parts", () => {
	it("equals zlib's CRC32 of the checksum text after every change of a randomly driven book", () => {
		const level = fc.record({ side: fc.constantFrom("bids", "asks"), tick: fc.integer({ min: 0, max: 40 }), qty: fc.oneof(fc.constant("0"), fc.constant("0.0"), fc.tuple(fc.integer({ min: 1, max: 10 ** 9 }), fc.nat(8)).map(([n, d]) => decimalText(n, d)), fc.constantFrom("4.0", "0.00011621", "1000", "0.1")) });
		fc.assert(
			fc.property(fc.array(fc.array(level, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 40 }), fc.constantFrom(10, 25), (updates, depth) => {
				const b = new L2Book(depth, { price: 1, qty: 8 });
				b.applySnapshot({ bids: [{ price: "29400.0", qty: "1.5" }], asks: [{ price: "29500.0", qty: "0.00000001" }] });
				for (const u of updates) {
					const bids = u.filter((l) => l.side === "bids").map((l) => ({ price: (29400 - l.tick / 10).toFixed(1), qty: l.qty }));
					const asks = u.filter((l) => l.side === "asks").map((l) => ({ price: (29500 + l.tick / 10).toFixed(1), qty: l.qty }));
					b.applyUpdate({ bids, asks });
					const text = [...b.asks.slice(0, 10), ...b.bids.slice(0, 10)].map((l) => l.tok).join("");
					expect(b.checksum()).toBe(crc32(text) >>> 0);
					expect(b.bids.length).toBeLessThanOrEqual(depth);
					for (let i = 1; i < b.bids.length; i++) expect(Number(b.bids[i - 1].price)).toBeGreaterThan(Number(b.bids[i].price));
					for (let i = 1; i < b.asks.length; i++) expect(Number(b.asks[i - 1].price)).toBeLessThan(Number(b.asks[i].price));
				}
			}),
			{ numRuns: 300 },
		);
	});

	it("feeds each decimal as Kraken's checksum text (no '.', no leading zeros, zero as 0)", () => {
		for (const s of ["0.00100000", "45285.2", "0", "0.0", "0.00000000", "10.5", "100", "0.1"]) {
			expect(crcFinish(crcFeedDecimal(CRC_START, s))).toBe(crc32(checksumToken(s)) >>> 0);
		}
		expect(checksumToken("0.00100000")).toBe("100000");
		expect(checksumToken("0.0")).toBe("0");
	});
});
