import { CompletionBatcher, type DoneHour, type HourMarked } from "../../lib/backfill/completions";

const HOUR = 3_600_000;
const hour = (i: number, jobId = "1"): DoneHour => ({ jobId, hour: i * HOUR, ticks: 100 + i });

/** A write we finish by hand, recording the batches it was given. */
function manualWrite() {
	const batches: DoneHour[][] = [];
	const pending: Array<{ resolve: (m: HourMarked[]) => void; reject: (e: unknown) => void; hours: readonly DoneHour[] }> = [];
	const write = (hours: readonly DoneHour[]) =>
		new Promise<HourMarked[]>((resolve, reject) => {
			batches.push([...hours]);
			pending.push({ resolve, reject, hours });
		});
	const finishNext = (mark: (h: DoneHour) => HourMarked = () => ({ counted: true, jobFinished: null })) => {
		const p = pending.shift()!;
		p.resolve(p.hours.map(mark));
	};
	return { batches, pending, write, finishNext };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("CompletionBatcher (group commit of done hours)", () => {
	it("writes a lone hour at once, and gathers the hours that finish meanwhile into the next write", async () => {
		const w = manualWrite();
		const b = new CompletionBatcher(w.write);
		const first = b.mark(hour(0));
		expect(w.batches).toEqual([[hour(0)]]);
		const later = [b.mark(hour(1)), b.mark(hour(2)), b.mark(hour(3))];
		expect(w.batches).toHaveLength(1); // one write at a time
		expect(b.pending).toBe(3);
		w.finishNext();
		await expect(first).resolves.toEqual({ counted: true, jobFinished: null });
		await tick();
		expect(w.batches).toEqual([[hour(0)], [hour(1), hour(2), hour(3)]]);
		w.finishNext((h) => ({ counted: h.hour !== 2 * HOUR, jobFinished: h.hour === 3 * HOUR ? "done" : null }));
		await expect(Promise.all(later)).resolves.toEqual([
			{ counted: true, jobFinished: null },
			{ counted: false, jobFinished: null },
			{ counted: true, jobFinished: "done" },
		]);
	});

	it("splits a long queue into batches of at most maxBatch, in order", async () => {
		const w = manualWrite();
		const b = new CompletionBatcher(w.write, 2);
		const all = [0, 1, 2, 3, 4].map((i) => b.mark(hour(i)));
		for (let i = 0; i < 3; i++) {
			await tick();
			w.finishNext();
		}
		await Promise.all(all);
		expect(w.batches.map((x) => x.map((h) => h.hour / HOUR))).toEqual([[0], [1, 2], [3, 4]]);
	});

	it("rejects every hour of a failed write, and keeps writing the hours after it", async () => {
		const w = manualWrite();
		const b = new CompletionBatcher(w.write);
		const a = b.mark(hour(0));
		const c = [b.mark(hour(1)), b.mark(hour(2))];
		w.pending.shift()!.reject(new Error("connection lost"));
		await expect(a).rejects.toThrow("connection lost");
		await tick();
		w.pending.shift()!.reject(new Error("still down"));
		await expect(c[0]).rejects.toThrow("still down");
		await expect(c[1]).rejects.toThrow("still down");
		const d = b.mark(hour(3));
		w.finishNext();
		await expect(d).resolves.toEqual({ counted: true, jobFinished: null });
	});
});
