import type { JobStatus } from "../../lib/backfill/jobs";
import { formatDuration, progressBar, progressText } from "../../lib/backfill/progress";

const job = (done: number, failed: number, total: number, ticks: number, rate: number, eta: number | null, waiting = 0): JobStatus => ({
	id: "7",
	source: "dukascopy",
	instrument: "EURUSD",
	symbol: "EUR-USD-SPOT",
	from: "2024-01-01T00:00:00.000Z",
	to: "2024-02-01T00:00:00.000Z",
	state: "running",
	kind: "range",
	progress: { hoursDone: done, hoursFailed: failed, hoursWaiting: waiting, hoursTotal: total, ticks, ticksPerSec: rate, hoursPerSec: 1, etaSeconds: eta },
	errors: [],
	createdAt: "2024-06-01T00:00:00.000Z",
	startedAt: "2024-06-01T00:00:00.000Z",
	finishedAt: null,
});

describe("backfill progress display", () => {
	it("shows hours done, ticks, rate and ETA", () => {
		expect(progressText(job(186, 0, 744, 1234567, 45000.4, 192))).toBe("186/744 hours, 1,234,567 ticks, 45,000 ticks/s, ETA 3m12s");
		expect(progressText(job(10, 2, 744, 5, 1, null))).toBe("10/744 hours, 2 failed, 5 ticks, 1 ticks/s");
		expect(progressText(job(742, 0, 744, 5, 1, null, 2))).toBe("742/744 hours, 2 waiting for Dukascopy to publish them, 5 ticks, 1 ticks/s");
		expect([formatDuration(5), formatDuration(65), formatDuration(11_100)]).toEqual(["5s", "1m05s", "3h05m"]);
	});

	it("draws a bar that fits the terminal", () => {
		const bar = progressBar(job(372, 0, 744, 100, 10, 60), 100);
		expect(bar).toMatch(/^\[#+-+\]  50% 372\/744 hours, 100 ticks, 10 ticks\/s, ETA 1m00s$/);
		expect(bar.length).toBeLessThanOrEqual(100);
		const hashes = bar.slice(1, bar.indexOf("]"));
		expect(hashes.split("#").length - 1).toBe(hashes.length / 2);
		expect(progressBar(job(0, 0, 0, 0, 0, null), 60)).toMatch(/^\[#{10,}\] 100% 0\/0 hours/);
	});
});
