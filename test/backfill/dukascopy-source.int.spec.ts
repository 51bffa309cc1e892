import fs from "node:fs";
import path from "node:path";
import { getInstrument } from "../../lib/backfill/dukascopy/instruments";
import { Bi5Source, JsonApiSource, isTransient } from "../../lib/backfill/dukascopy/source";
import { CorruptHourError, quoteItems } from "../../lib/backfill/dukascopy/ticks";
import { HttpError } from "../../lib/net/http";
import { BTCUSD_BI5, BTCUSD_JSON, DUKASCOPY_FIXTURES, FakeDukascopy } from "../helpers/fake-dukascopy";

/** Both sources over HTTP against the fake server: real URL layouts, retries, 404 and corrupt files. */
describe("Dukascopy sources over HTTP", () => {
	let fake: FakeDukascopy;
	const BTC = getInstrument("BTCUSD");
	const HOUR = Date.parse("2023-02-20T12:00:00Z");
	const fast = { retries: 3, baseDelayMs: 20, maxDelayMs: 100 };

	beforeAll(async () => {
		fake = await FakeDukascopy.start();
	});
	afterAll(() => fake.close());
	beforeEach(() => {
		fake.requests.length = 0;
	});

	it("fetches the same hour from the .bi5 datafeed and the JSON API, each at its own URL", async () => {
		const a = await new Bi5Source({ baseUrl: fake.datafeedUrl, ...fast }).fetchHour(BTC, HOUR);
		const b = await new JsonApiSource({ baseUrl: fake.jsonUrl, ...fast }).fetchHour(BTC, HOUR);
		expect(fake.requests.map((r) => [r.path, r.status])).toEqual([
			["/datafeed/BTCUSD/2023/01/20/12h_ticks.bi5", 200],
			["/v1/ticks/BTC-USD/2023/2/20/12", 200],
		]);
		if (!a.published || !b.published) throw new Error("expected both hours to be published");
		expect(a.hour.count).toBe(8523);
		const key = (q: { time: string; seq: string; bid: string; ask: string }) => `${q.time}|${q.seq}|${q.bid}|${q.ask}`;
		expect(quoteItems(b.hour, BTC, "x").map(key)).toEqual(quoteItems(a.hour, BTC, "x").map(key));
	});

	it("retries 503 and 429 (honouring Retry-After) and then succeeds", async () => {
		fake.fail(503, 2, { instrument: "BTCUSD" });
		fake.fail(429, 1, { instrument: "BTCUSD", retryAfter: "0" });
		const retries: number[] = [];
		const r = await new Bi5Source({ baseUrl: fake.datafeedUrl, ...fast, onRetry: (i) => retries.push(i.error.status) }).fetchHour(BTC, HOUR);
		expect(r.published && r.hour.count).toBe(8523);
		expect(retries).toEqual([503, 503, 429]);
		expect(fake.requests.map((x) => x.status)).toEqual([503, 503, 429, 200]);
	});

	it("reports an hour the source does not have as not published, and a client error at once", async () => {
		const src = new Bi5Source({ baseUrl: fake.datafeedUrl, ...fast });
		expect(await src.fetchHour(BTC, Date.parse("2023-02-20T13:00:00Z"))).toEqual({ published: false, url: `${fake.datafeedUrl}/BTCUSD/2023/01/20/13h_ticks.bi5` });
		fake.fail(403, 1);
		const err = await src.fetchHour(BTC, HOUR).catch((e) => e);
		expect(err).toBeInstanceOf(HttpError);
		expect(err.status).toBe(403);
		expect(isTransient(err)).toBe(false);
		expect(fake.requests).toHaveLength(2); // no retry of the 403
	});

	it("rejects a truncated download with an error naming the hour", async () => {
		const file = fs.readFileSync(path.join(DUKASCOPY_FIXTURES, BTCUSD_BI5));
		const hour = Date.parse("2023-02-20T14:00:00Z");
		fake.serve("BTCUSD", hour, { bi5: file.subarray(0, 4000), json: Buffer.from('{"timestamp": 1676901600000, "multiplier": 0.1, "ask": 1, "bid": 1, "times": [1') });
		const e1 = await new Bi5Source({ baseUrl: fake.datafeedUrl, ...fast }).fetchHour(BTC, hour).catch((e) => e);
		expect(e1).toBeInstanceOf(CorruptHourError);
		expect(e1.message).toMatch(/^BTCUSD 2023-02-20T14:00Z: truncated or corrupt \.bi5 file \(4000 bytes\)/);
		const e2 = await new JsonApiSource({ baseUrl: fake.jsonUrl, ...fast }).fetchHour(BTC, hour).catch((e) => e);
		expect(e2).toBeInstanceOf(CorruptHourError);
		expect(e2.message).toMatch(/^BTCUSD 2023-02-20T14:00Z: JSON API: response is not JSON/);
		expect(isTransient(e1) || isTransient(e2)).toBe(false);
	});

	it("keeps the JSON API's volume digits and refuses a base price finer than the instrument's", async () => {
		const text = fs.readFileSync(path.join(DUKASCOPY_FIXTURES, BTCUSD_JSON), "utf8");
		const hour = HOUR; // the recorded hour, served with one volume changed
		fake.serve("BTCUSD", hour, { json: Buffer.from(text.replace('"askVolumes":[1.48,', '"askVolumes":[12345678.123456789,')) });
		const src = new JsonApiSource({ baseUrl: fake.jsonUrl, ...fast });
		const r = await src.fetchHour(BTC, hour);
		if (!r.published) throw new Error("expected the hour to be published");
		expect(quoteItems(r.hour, BTC, "x")[0].askQty).toBe("12345678.123456789");
		const bad = HOUR;
		fake.serve("BTCUSD", bad, { json: Buffer.from(text.replace('"ask":24921.5', '"ask":24921.55')) });
		const err = await src.fetchHour(BTC, bad).catch((e) => e);
		expect(err).toBeInstanceOf(CorruptHourError);
		expect(err.message).toBe("BTCUSD 2023-02-20T12:00Z: JSON API: ask 24921.55 is not a non-negative price with at most 1 decimals (BTCUSD's precision)");
		fake.serve("BTCUSD", HOUR, {}); // back to the recorded file for the other tests
	});
});
