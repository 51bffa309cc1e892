import type { TradeItem } from "../../../lib/domain/types";
import { migrate } from "../../../lib/store/migrate";
import { RateLimiter } from "../../../lib/net/http";
import { GapRepairer, type GapLedger, type RepairJob } from "../../../lib/venues/kraken/gap-repair";
import { KrakenRest } from "../../../lib/venues/kraken/rest";
import { freshDatabase, type TestDb } from "../../helpers/db";
import { FakeKrakenRest, krakenTrades, restSeconds, storeAsFromSocket, wsTime } from "../../helpers/fake-kraken-rest";

const START = Date.parse("2023-07-06T18:53:00Z");

/**
 * Gap repair against trades the socket already stored. REST sends times with 4 decimals, the socket µs, and the
 * trades key includes the time: a repaired trade the socket had delivered would be a second row. With the
 * trades table, the repairer publishes only ids not stored yet. Real PostgreSQL, fake Kraken REST.
 */
describe("gap repair skips trade ids already stored under the socket's time", () => {
	let db: TestDb;
	let rest: FakeKrakenRest;
	const trades = krakenTrades(60, START, 500, 5000);
	// The socket stored 5000..5019 before the drop and 5030..5059 after it (the snapshot began at 5030, but the
	// reconnect time on our clock is later than Kraken's time of 5034).
	const socket = trades.filter((t) => t.tradeId < 5020 || t.tradeId >= 5030);

	beforeAll(async () => {
		db = await freshDatabase("kraken_repair_store");
		await migrate(db.pool);
		rest = await new FakeKrakenRest({ timeDecimals: 4 }).start();
		rest.setTrades("XBTUSD", trades);
		await storeAsFromSocket(db.pool, "BTC-USD-SPOT", socket);
	});
	afterAll(async () => {
		await rest?.stop();
		await db?.drop();
	});

	const ledger: GapLedger & { repairedDetail: Record<string, unknown>[] } = {
		repairedDetail: [],
		open: async () => "1",
		close: async () => undefined,
		async repaired(_id, _by, detail) {
			this.repairedDetail.push(detail ?? {});
		},
	};

	async function repair(store: TestDb["pool"] | null): Promise<{ published: TradeItem[]; repairer: GapRepairer }> {
		const published: TradeItem[] = [];
		const repairer = new GapRepairer({
			rest: new KrakenRest({ baseUrl: rest.url, limiter: new RateLimiter(1000, 10) }),
			ledger,
			store,
			publish: async (_job: RepairJob, t: TradeItem[]) => void published.push(...t),
		});
		const t5034 = trades.find((t) => t.tradeId === 5034)!;
		repairer.enqueue({
			ledgerId: "1",
			symbol: "BTC-USD-SPOT",
			gap: { wsSymbol: "BTC/USD", fromMs: START + 19 * 500, toMs: Number(t5034.timeUs / 1000n), afterId: 5019n, beforeId: null, seen: new Set(["5030"]) },
		});
		await repairer.idle();
		return { published, repairer };
	}

	it("REST times differ from the stored socket times of the same ids", () => {
		const t = trades.find((x) => x.tradeId === 5031)!;
		expect(wsTime(t.timeUs)).toMatch(/\.\d{6}Z$/);
		expect(restSeconds(t.timeUs, 4)).not.toBe(restSeconds(t.timeUs, 6));
	});

	it("without the trades table, the ids the socket delivered after the reconnect come back from REST", async () => {
		const { published } = await repair(null);
		expect(published.map((t) => Number(t.tradeId))).toEqual([...Array.from({ length: 10 }, (_, i) => 5020 + i), 5031, 5032, 5033, 5034]);
		// under a time the stored rows do not have: a second row each once written
		const t = published.find((x) => x.tradeId === "5031")!;
		const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM trades WHERE trade_id = 5031 AND time = $1", [t.time]);
		expect(rows[0].n).toBe(0);
	});

	it("with it, publishes exactly the ids the socket never delivered and counts the others", async () => {
		ledger.repairedDetail.length = 0;
		const { published, repairer } = await repair(db.pool);
		expect(published.map((t) => Number(t.tradeId))).toEqual(Array.from({ length: 10 }, (_, i) => 5020 + i));
		expect(repairer.stats).toMatchObject({ repaired: 1, tradesFetched: 14, alreadyStored: 4 });
		expect(ledger.repairedDetail).toEqual([{ restTrades: 10, alreadyStored: 4, restPages: 1 }]);
	});
});
