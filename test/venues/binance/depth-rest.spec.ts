import { RateLimiter } from "../../../lib/net/http";
import { BinanceBannedError, BinanceDepthRest, WEIGHT_HIGH_WATER, BINANCE_WEIGHT_LIMIT_PER_MIN } from "../../../lib/venues/binance/rest";
import { FakeBinance, REAL_DEPTH } from "../../helpers/fake-binance";

/** The Binance depth client against a local Binance speaking its real REST protocol (the recorded depth answer). */
describe("BinanceDepthRest against a fake Binance", () => {
	let fake: FakeBinance;

	beforeEach(async () => {
		fake = await new FakeBinance().start();
	});
	afterEach(async () => {
		await fake.stop();
	});

	it("fetches spot and USD-M depth with the limit Binance accepts, exact levels, USD-M's T as time", async () => {
		const spot = new BinanceDepthRest({ baseUrl: fake.url, market: "spot", weightShare: 0.5 });
		const usdm = new BinanceDepthRest({ baseUrl: fake.url, market: "usdm", weightShare: 0.5 });
		fake.usdmTime = () => Date.parse("2024-03-01T10:00:00.123Z");
		const s = await spot.depth("BTCUSDT", 100);
		const u = await usdm.depth("BTCUSDT", 30);
		expect(fake.depthRequests("/api/v3/depth").map((r) => r.query)).toEqual([{ symbol: "BTCUSDT", limit: "100" }]);
		expect(fake.depthRequests("/fapi/v1/depth").map((r) => r.query)).toEqual([{ symbol: "BTCUSDT", limit: "50" }]);
		expect(s.bids).toEqual(REAL_DEPTH.bids);
		expect(s.asks).toEqual(REAL_DEPTH.asks);
		expect(s.lastUpdateId).toBe(String(REAL_DEPTH.lastUpdateId));
		expect(s.time).toBeNull();
		expect(u.time).toBe("2024-03-01T10:00:00.123Z");
		expect(spot.usedWeight).toBe(5);
	});

	it("honours a 429's Retry-After: the retry goes out no earlier than it says", async () => {
		const spot = new BinanceDepthRest({ baseUrl: fake.url, market: "spot", weightShare: 0.5, http: { baseDelayMs: 1 } });
		fake.failNext(429, 1);
		const d = await spot.depth("BTCUSDT", 100);
		expect(d.bids).toEqual(REAL_DEPTH.bids);
		const reqs = fake.depthRequests();
		expect(reqs.map((r) => r.status)).toEqual([429, 200]);
		expect(reqs[1].at - reqs[0].at).toBeGreaterThanOrEqual(1000);
	});

	it("a 418 ban: nothing more goes to Binance until its Retry-After has passed", async () => {
		let now = Date.now();
		const spot = new BinanceDepthRest({ baseUrl: fake.url, market: "spot", weightShare: 0.5, now: () => now });
		fake.failNext(418, 120);
		await expect(spot.depth("BTCUSDT", 100)).rejects.toThrow(BinanceBannedError);
		await expect(spot.depth("ETHUSDT", 100)).rejects.toThrow(/banned this IP \(HTTP 418\) until/);
		expect(fake.depthRequests()).toHaveLength(1);
		expect(spot.bannedUntil).toBe(now + 120_000);
		now += 120_001;
		await expect(spot.depth("ETHUSDT", 100)).resolves.toMatchObject({ lastUpdateId: String(REAL_DEPTH.lastUpdateId) });
		expect(fake.depthRequests()).toHaveLength(2);
	});

	it("holds its requests until the minute ends once X-MBX-USED-WEIGHT-1M nears the IP's limit", async () => {
		class WatchedLimiter extends RateLimiter {
			readonly held: number[] = [];
			override penalize(ms: number): void {
				this.held.push(ms);
				super.penalize(ms);
			}
		}
		const limiter = new WatchedLimiter(50, 500);
		const spot = new BinanceDepthRest({ baseUrl: fake.url, market: "spot", weightShare: 0.5, weightLimiter: limiter });
		fake.usedWeight = Math.floor(BINANCE_WEIGHT_LIMIT_PER_MIN.spot * WEIGHT_HIGH_WATER) - 1;
		await spot.depth("BTCUSDT", 100);
		expect(limiter.held).toEqual([]);
		fake.usedWeight = Math.ceil(BINANCE_WEIGHT_LIMIT_PER_MIN.spot * WEIGHT_HIGH_WATER);
		await spot.depth("BTCUSDT", 100);
		expect(spot.usedWeight).toBe(fake.usedWeight);
		// held until the end of the current minute
		expect(limiter.held).toHaveLength(1);
		expect(limiter.held[0]).toBeGreaterThan(0);
		expect(limiter.held[0]).toBeLessThanOrEqual(60_000);
	});
});
