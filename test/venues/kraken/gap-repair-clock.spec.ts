import { MemoryLog } from "../../../lib/log/memory";
import { RateLimiter } from "../../../lib/net/http";
import { KrakenRest } from "../../../lib/venues/kraken/rest";
import { KrakenStream } from "../../../lib/venues/kraken/stream";
import { waitFor } from "../../helpers/db";
import { FakeKrakenRest } from "../../helpers/fake-kraken-rest";
import { miniKrakenWs, miniStreamOptions, PrintingVenue, publishedTradeIds, sendTrades } from "./mini-venue";

/** Kraken's clock in this test runs this far behind ours. */
const SKEW_MS = 2000;

/**
 * A disconnect gap when Kraken's clock and ours disagree. The gap's times are ours (last frame, reconnect), the
 * trade times Kraken's: paging REST from our last-frame time would skip the first missed trades, and ending the
 * gap at our reconnect time would take back trades the socket delivered after its snapshot (under REST's
 * 4-decimal time: a second row each). A minimal v2 server: trade snapshot and updates, one dropped socket.
 */
describe("disconnect gap repair with Kraken's clock behind ours", () => {
	let ws: Awaited<ReturnType<typeof miniKrakenWs>>;
	let rest: FakeKrakenRest;
	let venue: PrintingVenue;
	let stream: KrakenStream;
	const print = (n: number) => venue.print(n);

	beforeAll(async () => {
		rest = await new FakeKrakenRest({ timeDecimals: 4 }).start();
		venue = new PrintingVenue(rest, SKEW_MS);
		ws = await miniKrakenWs();
	});
	afterAll(async () => {
		await stream?.stop();
		await ws.close();
		await rest.stop();
	});

	it("pages REST from Kraken's time of the last trade and ends the gap at the first id the socket delivered", async () => {
		const log = new MemoryLog({});
		stream = new KrakenStream(miniStreamOptions(ws.url, log, new KrakenRest({ baseUrl: rest.url, limiter: new RateLimiter(1000, 10) })));
		stream.start();
		const first = await waitFor(() => ws.tradeSubs[0], { what: "trade subscription" });
		sendTrades(first, "snapshot", print(10)); // 5000..5009
		sendTrades(first, "update", print(10)); // 5010..5019
		await waitFor(() => (stream.snapshot() as any).symbols["BTC/USD"].trades === 20, { what: "20 live trades" });
		first.terminate();
		print(15); // 5020..5034 while we are away
		const second = await waitFor(() => ws.tradeSubs[1], { what: "trade subscription after the reconnect" });
		sendTrades(second, "snapshot", venue.printed.slice(-5)); // 5030..5034: Kraken sends the latest trades
		sendTrades(second, "update", print(5)); // 5035..5039, stamped before our reconnect time by Kraken's clock
		await waitFor(() => stream.repairer!.stats.repaired === 1, { what: "the disconnect gap repaired" });
		await stream.publisher.flush();
		const ids = await publishedTradeIds(log);
		// every printed trade exactly once: 5020..5029 from REST, nothing the socket delivered again
		expect(ids).toEqual(venue.printed.map((t) => t.tradeId));
		expect(stream.repairer!.stats).toMatchObject({ repaired: 1, tradesFetched: 10 });
	});
});
