import type { GapLedger, GapRow } from "../../../lib/feed/gap-ledger";
import { MemoryLog } from "../../../lib/log/memory";
import { msUntilFxOpen } from "../../../lib/venues/oanda/client";
import { OandaStream } from "../../../lib/venues/oanda/stream";
import { waitFor } from "../../helpers/db";
import { FakeOanda } from "../../helpers/fake-oanda";

const KEY = "closed-market-key";
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** A ledger that remembers what it was asked to open. */
function recordingLedger(): GapLedger & { opened: GapRow[]; closed: string[] } {
	const opened: GapRow[] = [];
	const closed: string[] = [];
	return { opened, closed, open: async (g) => (opened.push(g), String(opened.length)), close: async (id) => void closed.push(id), repaired: async () => undefined };
}

describe("the FX week", () => {
	it("is closed from Friday 17:00 to Sunday 17:00 New York time", () => {
		expect(msUntilFxOpen(Date.UTC(2026, 11, 4, 16, 0))).toBe(0); // Friday 11:00 New York
		expect(msUntilFxOpen(Date.UTC(2026, 11, 4, 22, 30))).toBe(Date.UTC(2026, 11, 6, 22, 0) - Date.UTC(2026, 11, 4, 22, 30)); // winter: 22:00 UTC
		expect(msUntilFxOpen(Date.UTC(2026, 6, 5, 12, 0))).toBe(Date.UTC(2026, 6, 5, 21, 0) - Date.UTC(2026, 6, 5, 12, 0)); // summer Sunday: 21:00 UTC
	});
});

describe("oanda stream while the market is closed (fake OANDA)", () => {
	let fake: FakeOanda;
	let stream: OandaStream | null = null;

	beforeEach(async () => {
		fake = await new FakeOanda().start(KEY);
	});
	afterEach(async () => {
		await stream?.stop();
		await fake.stop();
	});

	function makeStream(ledger: GapLedger, untilOpen: number | (() => number)) {
		return new OandaStream({
			instruments: ["EUR_USD"],
			client: { streamUrl: fake.url, accountId: "acc", apiKey: KEY, watchdogMs: 300, backoffBaseMs: 10, backoffMaxMs: 20, closedProbeMs: 60_000, untilOpen: typeof untilOpen === "number" ? () => untilOpen : untilOpen },
			log: new MemoryLog({}),
			ledger,
			flushMs: 20,
			maxBatchItems: 100,
			logger: quiet,
		});
	}

	it("a refused stream gets one slow probe, no reconnect storm and no gap", async () => {
		fake.streamStatus = 503;
		const ledger = recordingLedger();
		stream = makeStream(ledger, 3_600_000);
		stream.start();
		await waitFor(() => fake.streamRequests.length === 1 && stream!.monitor.state === "market-closed", { what: "the first probe answered" });
		// A hundred times the backoff: an open market would have retried dozens of times by now.
		await new Promise((r) => setTimeout(r, 2000));
		expect(fake.streamRequests.length).toBe(1);
		expect(ledger.opened).toEqual([]);
		expect(stream.monitor.status()).toMatchObject({ state: "market-closed", openGapSince: null, connected: false });
	});

	it("an outage still open when the market closes ends there, and the probing slows down", async () => {
		fake.streamStatus = 503;
		const ledger = recordingLedger();
		let untilOpen = 0;
		stream = makeStream(ledger, () => untilOpen);
		stream.start();
		await waitFor(() => ledger.opened.length === 1 && fake.streamRequests.length >= 2, { what: "an outage while open" });
		untilOpen = 3_600_000;
		await waitFor(() => stream!.monitor.state === "market-closed", { what: "market-closed" });
		await waitFor(() => ledger.closed.length === 1, { what: "the outage closed" });
		const n = fake.streamRequests.length;
		await new Promise((r) => setTimeout(r, 1000));
		expect(fake.streamRequests.length).toBe(n);
		expect(stream.monitor.status().openGapSince).toBeNull();
	});

	it("the same server while the market is open: backoff retries and a gap", async () => {
		fake.streamStatus = 503;
		const ledger = recordingLedger();
		stream = makeStream(ledger, 0);
		stream.start();
		await waitFor(() => fake.streamRequests.length >= 5, { what: "retries with backoff" });
		expect(ledger.opened).toEqual([expect.objectContaining({ venue: "oanda", symbol: "EUR-USD-SPOT", channel: "quotes", cause: "connect-failed" })]);
		expect(stream.monitor.status()).toMatchObject({ state: expect.stringMatching(/^(backoff|connecting)$/), error: expect.stringContaining("HTTP 503") });
	});

	it("a server that echoes the key in its error never gets it into the feed state, the gap or a log line", async () => {
		fake.streamStatus = 500;
		fake.streamErrorMessage = `upstream rejected Authorization: Bearer ${KEY}`;
		const ledger = recordingLedger();
		const lines: string[] = [];
		const log = (...a: unknown[]) => void lines.push(a.map(String).join(" "));
		stream = new OandaStream({
			instruments: ["EUR_USD"],
			client: { streamUrl: fake.url, accountId: "acc", apiKey: KEY, watchdogMs: 300, backoffBaseMs: 10, backoffMaxMs: 20, closedProbeMs: 60_000, untilOpen: () => 0 },
			log: new MemoryLog({}),
			ledger,
			flushMs: 20,
			maxBatchItems: 100,
			logger: { info: log, warn: log, error: log },
		});
		stream.start();
		await waitFor(() => ledger.opened.length === 1 && fake.streamRequests.length >= 3, { what: "failed attempts" });
		const status = JSON.stringify(stream.monitor.status());
		expect(status).toContain("upstream rejected Authorization: Bearer ***");
		for (const t of [status, JSON.stringify(ledger.opened), ...lines]) expect(t).not.toContain(KEY);
	});
});
