import { takingTurns } from "../../lib/coordination/turns";

/** One task at a time (the tick-writer's COPYs, a consumer's pulls, the rate limiter's queue): no two tasks run at once, in the order given, a failure passes the turn on. */
describe("takingTurns", () => {
	it("runs tasks one at a time in the order given, and a failing task gives its turn up", async () => {
		const turn = takingTurns();
		const events: string[] = [];
		let running = 0;
		let most = 0;
		const gates = [0, 1, 2, 3].map(() => {
			let open!: () => void;
			return { opened: new Promise<void>((r) => (open = r)), open };
		});
		const task = (i: number) => async () => {
			running++;
			most = Math.max(most, running);
			events.push(`start ${i}`);
			await gates[i].opened;
			events.push(`end ${i}`);
			running--;
			if (i === 1) throw new Error("task 1 failed");
			return i;
		};
		const results = [0, 1, 2, 3].map((i) => turn(task(i)).catch((e: Error) => e.message));
		// open the gates in reverse: task 3 may not start, let alone end, before 0, 1 and 2 have ended
		for (const i of [3, 2, 1, 0]) gates[i].open();
		expect(await Promise.all(results)).toEqual([0, "task 1 failed", 2, 3]);
		expect(events).toEqual(["start 0", "end 0", "start 1", "end 1", "start 2", "end 2", "start 3", "end 3"]);
		expect(most).toBe(1);
	});
});
