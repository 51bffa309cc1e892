import fs from "node:fs";
import path from "node:path";
import Decimal from "decimal.js";
import { decodeFrame, quoteItem, QuoteSeq, tradeItem, precisionOf } from "../../../lib/venues/kraken/parse";
import { parseExact, quoteJsonNumbers, renderDecimal, compareDecimal } from "../../../lib/venues/kraken/precision";
import { canonicalSymbol, normalizeAsset, restPairGuess, wsSymbol, wsSymbolFromWsname, wsSymbolOf } from "../../../lib/venues/kraken/symbols";
import { isoOfSeconds, restTrade } from "../../../lib/venues/kraken/rest";

const FIX = path.resolve(__dirname, "../../../../shared/fixtures");

describe("exact JSON numbers", () => {
	it("keeps the number text the venue sent, even where a float would change it", () => {
		const text = '{"a":29430.20,"b":4.0,"c":[1e-8,-0.5],"id":12345678901234567890,"s":"x\\"1.0","t":true,"n":null}';
		expect(parseExact(text)).toEqual({ a: "29430.20", b: "4.0", c: ["1e-8", "-0.5"], id: "12345678901234567890", s: 'x"1.0', t: true, n: null });
		expect(JSON.parse(text).id).not.toBe(12345678901234567890n.toString()); // what JSON.parse alone would lose
		expect(quoteJsonNumbers('{"x":"12.5"}')).toBe('{"x":"12.5"}');
	});

	it("renders at a precision exactly, never dropping a significant digit", () => {
		expect(renderDecimal("4.0", 8)).toBe("4.00000000");
		expect(renderDecimal("29430.2", 1)).toBe("29430.2");
		expect(renderDecimal("0.00100000", 8)).toBe("0.00100000");
		expect(renderDecimal("1e-8", 8)).toBe("0.00000001");
		expect(renderDecimal("2.50", 1)).toBe("2.5");
		expect(renderDecimal("0.123456789", 8)).toBe("0.123456789");
		expect(renderDecimal("17", 0)).toBe("17");
		// decimal.js agrees on value for every rendering of the real book fixture's numbers
		const raw = fs.readFileSync(path.join(FIX, "kraken/ws_v2/orderbook-v2_BTCUSD_depth10_2023-07-30.json"), "utf8");
		const nums = raw.match(/-?\d+\.\d+(?:[eE][+-]?\d+)?/g)!;
		expect(nums.length).toBeGreaterThan(1500);
		for (const n of nums) expect(new Decimal(renderDecimal(n, 8)).eq(new Decimal(n))).toBe(true);
	});

	it("orders decimals as decimals", () => {
		expect(compareDecimal("9.9", "10.0")).toBeLessThan(0);
		expect(compareDecimal("29430.20", "29430.2")).toBe(0);
		expect(compareDecimal("0.00011621", "0.0001162")).toBeGreaterThan(0);
	});
});

describe("Kraken symbols", () => {
	it("maps v2, REST and canonical names", () => {
		expect(canonicalSymbol("BTC/USD")).toBe("BTC-USD-SPOT");
		expect(canonicalSymbol("XBT/USD")).toBe("BTC-USD-SPOT");
		expect(wsSymbol("xdg/eur")).toBe("DOGE/EUR");
		expect(wsSymbolOf("ETH-USD-SPOT")).toBe("ETH/USD");
		expect(restPairGuess("BTC/USD")).toBe("XBTUSD");
		expect(normalizeAsset("XXBT")).toBe("BTC");
		expect(normalizeAsset("ZUSD")).toBe("USD");
		expect(normalizeAsset("ZEUS")).toBe("ZEUS");
		expect(() => wsSymbol("BTCUSD")).toThrow(/not a Kraken pair/);
	});

	it("reads every wsname of the real AssetPairs response", () => {
		const line = fs.readFileSync(path.join(FIX, "kraken/rest/cryptofeed_KRAKEN.0"), "utf8").split("\n")[0];
		const pairs = JSON.parse(line.slice(line.indexOf(": ") + 2)).result as Record<string, any>;
		const names = Object.values(pairs).map((p) => wsSymbolFromWsname(p.wsname)).filter(Boolean);
		expect(names.length).toBe(Object.values(pairs).filter((p) => typeof p.wsname === "string").length);
		expect(names.length).toBeGreaterThan(250);
		expect(names).toContain("BTC/USD");
		expect(names).toContain("DOGE/USD");
		expect(names.every((n) => /^[A-Z0-9.]+\/[A-Z0-9.]+$/.test(n!))).toBe(true);
	});
});

describe("Kraken v1 frames are recognised and rejected", () => {
	it("rejects every frame of the real v1 sessions with a clear reason", () => {
		const v1 = JSON.parse(fs.readFileSync(path.join(FIX, "kraken/ws_v1/orderbook-v1_XBTUSD_book10_2023-08-30.json"), "utf8"));
		const frames: string[] = [...v1.init, ...(v1.updates ?? [])].map((f: unknown) => JSON.stringify(f));
		const lines = fs.readFileSync(path.join(FIX, "kraken/ws_v1/cryptofeed_KRAKEN.ws.50.0"), "utf8").split("\n").slice(2, 400);
		for (const l of lines) {
			const i = l.indexOf(": ");
			if (i > 0 && l.slice(i + 2).startsWith("[") || l.slice(i + 2).startsWith("{")) frames.push(l.slice(i + 2));
		}
		expect(frames.length).toBeGreaterThan(300);
		for (const f of frames) {
			const d = decodeFrame(f);
			expect(d).toMatchObject({ kind: "rejected", category: "v1" });
			if (d.kind === "rejected") expect(d.reason).toMatch(/v1 is not supported.*wss:\/\/ws\.kraken\.com\/v2/);
		}
		expect(decodeFrame(JSON.stringify(v1.init[0]))).toMatchObject({ reason: expect.stringContaining('"systemStatus"') });
	});

	it("counts malformed frames, unknown channels and error frames separately", () => {
		expect(decodeFrame("{not json")).toMatchObject({ kind: "rejected", category: "malformed" });
		expect(decodeFrame('{"channel":"ohlc","type":"update","data":[]}')).toMatchObject({ kind: "rejected", category: "unknown-channel" });
		expect(decodeFrame('{"error":"Internal error"}')).toMatchObject({ kind: "rejected", category: "error" });
		expect(decodeFrame('{"channel":"trade","type":"update","data":{}}')).toMatchObject({ kind: "rejected", category: "malformed" });
	});
});

/**
 * No real v2 trade or ticker capture exists (fixtures/PROVENANCE.md): these frames carry the values of
 * real v1 trades (tardis-node's recorded inputs) and the real AssetPairs precisions in the v2 layout.
 */
describe("normalization", () => {
	const prec = { price: 1, qty: 8 };

	it("trades: venue id, side, exact price and qty at the pair's precision, event and receive time", () => {
		const f = decodeFrame(
			'{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"sell","price":9482.4,"qty":0.01596347,"ord_type":"limit","trade_id":4665906,"timestamp":"2019-07-01T00:00:58.512503Z"},' +
				'{"symbol":"BTC/USD","side":"buy","price":9488.20,"qty":0.28522465,"ord_type":"market","trade_id":4665907,"timestamp":"2019-07-01T00:00:58.557040Z"},' +
				'{"symbol":"BTC/USD","side":"up","price":1,"qty":1,"trade_id":1,"timestamp":"2019-07-01T00:00:58Z"}]}',
		);
		if (f.kind !== "trade") throw new Error("not a trade frame");
		expect(f.problems).toEqual(['trade item 2: side "up" is not buy or sell']);
		const recv = "2019-07-01T00:00:58.600000Z";
		expect(f.trades.map((t) => tradeItem(t, recv, prec))).toEqual([
			{ tradeId: "4665906", side: "sell", price: "9482.4", qty: "0.01596347", time: "2019-07-01T00:00:58.512503Z", recvTime: recv },
			{ tradeId: "4665907", side: "buy", price: "9488.2", qty: "0.28522465", time: "2019-07-01T00:00:58.557040Z", recvTime: recv },
		]);
	});

	it("bbo tickers become quotes whose (time, seq) is unique and stable", () => {
		const frame = (bid: string, ts?: string) => `{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","bid":${bid},"bid_qty":13.54067548,"ask":27120.0,"ask_qty":4.28732553,"last":27120.0,"volume":1.5,"vwap":27000.1,"low":26900,"high":27200,"change":10.5,"change_pct":0.04${ts ? `,"timestamp":"${ts}"` : ""}}]}`;
		const run = () => {
			const seq = new QuoteSeq();
			return ["27119.9", "27119.8", "27119.7"].map((bid, i) => {
				const f = decodeFrame(frame(bid, i < 2 ? "2023-08-30T17:08:48.088361Z" : "2023-08-30T17:08:48.1Z"));
				if (f.kind !== "ticker") throw new Error("not a ticker");
				return quoteItem(f.tickers[0], "2023-08-30T17:08:49Z", seq, prec)!;
			});
		};
		const q = run();
		expect(q.map((x) => [x.time, x.seq, x.bid, x.ask, x.bidQty, x.askQty])).toEqual([
			["2023-08-30T17:08:48.088361Z", "0", "27119.9", "27120.0", "13.54067548", "4.28732553"],
			["2023-08-30T17:08:48.088361Z", "1", "27119.8", "27120.0", "13.54067548", "4.28732553"],
			["2023-08-30T17:08:48.1Z", "0", "27119.7", "27120.0", "13.54067548", "4.28732553"],
		]);
		expect(run()).toEqual(q); // a replay of the same frames gives the same keys
		const noTs = decodeFrame(frame("1.5"));
		if (noTs.kind !== "ticker") throw new Error("not a ticker");
		expect(quoteItem(noTs.tickers[0], "2023-08-30T17:08:49Z", new QuoteSeq())?.time).toBe("2023-08-30T17:08:49Z");
	});

	it("a ticker snapshot re-sent on a reconnect with an unchanged bbo is not a second quote", () => {
		const frame = (type: string, bid: string, bidQty = "13.54067548") =>
			`{"channel":"ticker","type":"${type}","data":[{"symbol":"BTC/USD","bid":${bid},"bid_qty":${bidQty},"ask":27120.0,"ask_qty":4.28732553,"last":27120.0,"timestamp":"2023-08-30T17:08:48.088361Z"}]}`;
		const seq = new QuoteSeq();
		const quote = (text: string) => {
			const f = decodeFrame(text);
			if (f.kind !== "ticker") throw new Error("not a ticker");
			return quoteItem(f.tickers[0], "2023-08-30T17:08:49Z", seq, prec);
		};
		expect(quote(frame("snapshot", "27119.9"))?.seq).toBe("0");
		// the same bbo again after a reconnect: same time, same prices and sizes (27119.90 renders as 27119.9)
		expect(quote(frame("snapshot", "27119.90"))).toBeNull();
		// a real change at the same venue time is still a quote of its own, and so is one back to the old values
		expect(quote(frame("update", "27119.9", "1.0"))?.seq).toBe("1");
		expect(quote(frame("update", "27119.9"))?.seq).toBe("2");
	});

	it("refuses numbers that are not non-negative decimals and times in the wrong unit, item by item", () => {
		const t = (price: string, ts = "2023-07-30T15:29:58.343415Z") => `{"symbol":"BTC/USD","side":"buy","price":${price},"qty":0.5,"trade_id":1,"timestamp":"${ts}"}`;
		const f = decodeFrame(`{"channel":"trade","type":"update","data":[${t("-1")},${t('"01"')},${t("1e-8")},${t("29430.2")},${t("1.", "x")},${t("2", "1970-01-20T13:38:50.998Z")}]}`);
		if (f.kind !== "trade") throw new Error("not a trade frame");
		expect(f.trades.map((x) => x.price)).toEqual(["1e-8", "29430.2"]);
		expect(f.problems).toEqual([
			'trade item 0: price "-1" is not a non-negative number',
			'trade item 1: price "01" is not a non-negative number',
			'trade item 4: price "1." is not a non-negative number', // not even JSON: refused, not guessed
			'trade item 5: timestamp "1970-01-20T13:38:50.998Z" is not an RFC 3339 UTC time', // seconds read as ms
		]);
		expect(decodeFrame('{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":1,"qty":-2}],"asks":[],"checksum":1}]}')).toMatchObject({ kind: "book", books: [], problems: [expect.stringMatching(/bids/)] });
	});

	it("instrument pairs give the precisions the checksums need", () => {
		const f = decodeFrame('{"channel":"instrument","type":"snapshot","data":{"assets":[],"pairs":[{"symbol":"BTC/USD","base":"BTC","quote":"USD","status":"online","qty_precision":8,"qty_increment":0.00000001,"price_precision":1,"price_increment":0.1},{"symbol":"ETH/USD","price_precision":"x","qty_precision":8}]}}');
		if (f.kind !== "instrument") throw new Error("not instrument");
		expect(f.pairs.map(precisionOf)).toEqual([{ price: 1, qty: 8 }]);
		expect(f.problems).toHaveLength(1);
	});

	it("REST trade rows keep their exact text (Kraken's docs example)", () => {
		// krakenfx/api-specs trades.yaml, with the trade id current responses carry
		const body = parseExact('{"error":[],"result":{"XXBTZUSD":[["3535.50000","0.00300000",1548111751.5556,"b","m","",81234]],"last":"1548121745957099006"}}') as any;
		expect(restTrade(body.result.XXBTZUSD[0], "2019-01-22T00:00:00Z")).toEqual({ tradeId: "81234", side: "buy", price: "3535.50000", qty: "0.00300000", time: "2019-01-21T23:02:31.5556Z", recvTime: "2019-01-22T00:00:00Z" });
		expect(restTrade(["1", "1", 1548111751, "s", "l", ""], "x")).toMatch(/trade_id/);
		expect(isoOfSeconds("1690730998.343415")).toBe("2023-07-30T15:29:58.343415Z");
		expect(isoOfSeconds("1690730998343")).toBeNull(); // milliseconds are the wrong unit
	});
});
