import type { WebSocket } from "ws";
import { MemoryLog } from "../../../lib/log/memory";
import { RateLimiter } from "../../../lib/net/http";
import type { TradesPage } from "../../../lib/venues/kraken/rest";
import { KrakenRest } from "../../../lib/venues/kraken/rest";
import { KrakenStream } from "../../../lib/venues/kraken/stream";
import { waitFor } from "../../helpers/db";
import { FakeKrakenRest } from "../../helpers/fake-kraken-rest";
import { miniKrakenWs, miniStreamOptions, PrintingVenue, publishedTradeIds, sendTrades as send } from "./mini-venue";

/** Kraken's clock runs this far behind ours: trades it prints after our reconnect carry earlier times. */
const SKEW_MS = 5000;

/**
 * A disconnect gap whose end id is unknown: the reconnect's trade snapshot is empty, so the gap ends at our
 * reconnect time, and REST (4-decimal times) can hold trades the socket delivers after the reconnect (µs
 * times): each would be a second row. The stream's own ids bound what the repair publishes. A minimal v2
 * server, the fake Kraken REST behind a gate that decides when the repair's REST page arrives.
 */
describe("disconnect gap without an end id (empty reconnect snapshot)", () => {
	let ws: Awaited<ReturnType<typeof miniKrakenWs>>;
	let rest: FakeKrakenRest;
	let stream: KrakenStream | null = null;
	let venue: PrintingVenue;
	let tradeSubs: typeof ws.tradeSubs;
	let gate: { open: () => void; wait: Promise<void>; asked: number };
	const print = (n: number) => venue.print(n);

	beforeEach(async () => {
		let open!: () => void;
		gate = { open: () => open(), wait: new Promise<void>((r) => (open = r)), asked: 0 };
		rest = await new FakeKrakenRest({ timeDecimals: 4 }).start();
		venue = new PrintingVenue(rest, SKEW_MS);
		ws = await miniKrakenWs();
		tradeSubs = ws.tradeSubs;
		const client = new KrakenRest({ baseUrl: rest.url, limiter: new RateLimiter(1000, 10) });
		stream = new KrakenStream(
			miniStreamOptions(ws.url, new MemoryLog({}), {
				trades: async (sym: string, since?: string): Promise<TradesPage> => {
					gate.asked++;
					await gate.wait;
					return client.trades(sym, since);
				},
			}),
		);
		stream.start();
		// 5000..5019 live, then the socket drops and 5020..5029 happen while we are away
		const first = await waitFor(() => tradeSubs[0], { what: "trade subscription" });
		send(first, "snapshot", print(10));
		send(first, "update", print(10));
		await waitFor(() => trades() === 20, { what: "20 live trades" });
		first.terminate();
		print(10);
	});
	afterEach(async () => {
		await stream?.stop();
		await ws.close();
		await rest.stop();
	});

	const trades = () => (stream!.snapshot() as any).symbols["BTC/USD"].trades as number;
	/** Reconnected with an empty trade snapshot; resolves once the gap (ended by our clock) asks REST. */
	const reconnectEmpty = async (): Promise<WebSocket> => {
		const second = await waitFor(() => tradeSubs[1], { what: "trade subscription after the reconnect" });
		send(second, "snapshot", []);
		await waitFor(() => gate.asked > 0, { what: "the gap repair to ask REST", timeoutMs: 10_000 });
		return second;
	};
	const published = async (): Promise<number[]> => {
		await stream!.publisher.flush();
		return publishedTradeIds((stream as any).opts.log);
	};

	it("live trades delivered before the repair publishes are not published again from REST", async () => {
		const second = await reconnectEmpty();
		// Kraken prints 5030..5034 after our reconnect, stamped before it by its clock: inside the gap by time
		send(second, "update", print(5));
		await waitFor(() => trades() === 25, { what: "5 live trades after the reconnect" });
		gate.open();
		await waitFor(() => stream!.repairer!.stats.repaired >= 1 && stream!.repairer!.pending === 0, { what: "the gap repaired" });
		expect(stream!.repairer!.stats.repaired).toBe(1); // one gap: the id jump to 5030 is that same gap, not another
		expect(await published()).toEqual(venue.printed.map((t) => t.tradeId));
		expect(stream!.repairer!.stats.tradesFetched).toBe(15); // REST did send 5030..5034 too
	});

	it("trades the repair published first are not published again when the socket delivers them", async () => {
		const second = await reconnectEmpty();
		print(5); // 5030..5034 printed, not yet delivered by the socket
		gate.open();
		await waitFor(() => stream!.repairer!.stats.repaired === 1, { what: "the gap repaired" });
		send(second, "update", [...venue.printed.slice(30), ...print(2)]); // 5030..5036: the socket catches up
		await waitFor(() => trades() >= 37, { what: "every trade published" });
		expect(await published()).toEqual(venue.printed.map((t) => t.tradeId));
	});
});
