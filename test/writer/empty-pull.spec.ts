import type { Pool } from "pg";
import type { Consumer, MarketLog } from "../../lib/log/types";
import { TickWriter } from "../../lib/writer/tick-writer";

// A log that answers every pull with [] at once (as a closed one does) must not turn the writer's loop into
// a chain of resolved promises: that starved timers and signal handlers, so the process could not even be
// stopped. Here a timer must still fire while the writer runs, and the pulls stay paced.
describe("tick-writer against a log whose pulls return at once", () => {
	it("keeps the event loop turning and paces its pulls", async () => {
		let pulls = 0;
		const consumer: Consumer = {
			pull: async () => {
				pulls++;
				return [];
			},
			ack: async () => undefined,
			nack: async () => undefined,
			close: async () => undefined,
		};
		const log = { consumer: async () => consumer } as unknown as MarketLog;
		const writer = new TickWriter({ pool: {} as Pool, log });
		await writer.start();
		try {
			await new Promise((r) => setTimeout(r, 300));
			// 50 ms between empty pulls that did not wait: about 6 in 300 ms; a spinning loop never got here
			expect(pulls).toBeGreaterThan(0);
			expect(pulls).toBeLessThan(60);
		} finally {
			await writer.stop();
		}
	});
});
