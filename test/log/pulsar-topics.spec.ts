import { TICK_TOPIC_PATTERNS, topicMatches } from "../../lib/domain/topics";
import { decodeMessageId, encodeMessageId, formatMessageId, parsePublishTime } from "../../lib/log/pulsar/message-id";
import { DEFAULT_LAYOUT, deriveUrls, localNameRegex, logTopic, namespacesOf, pulsarTopic, redactUrl } from "../../lib/log/pulsar/topics";

describe("pulsar topic names", () => {
	it("maps the seeds' topics into v2 names without '/' in the local name, reversibly", () => {
		const t = pulsarTopic("market-data/crypto/raw/kraken/btcusd/ticker", DEFAULT_LAYOUT);
		expect(t.full).toBe("persistent://public/default/market-data.crypto.raw.kraken.btcusd.ticker");
		expect(t.restPath).toBe("persistent/public/default/market-data.crypto.raw.kraken.btcusd.ticker");
		// v2 topic names have exactly three parts after the domain: tenant/namespace/local
		expect(t.full.slice("persistent://".length).split("/")).toHaveLength(3);
		expect(logTopic(t.full)).toBe("market-data/crypto/raw/kraken/btcusd/ticker");
		expect(logTopic(t.local)).toBe("market-data/crypto/raw/kraken/btcusd/ticker");
	});

	it("puts historical topics in the historical namespace, under any layout", () => {
		const layout = { tenant: "mdp", namespace: "realtime", historicalNamespace: "stored" };
		expect(pulsarTopic("market-data/fx/historical/dukascopy/eurusd/quotes", layout).full).toBe("persistent://mdp/stored/market-data.fx.historical.dukascopy.eurusd.quotes");
		expect(pulsarTopic("market-data/fx/raw/oanda/eurusd/quotes", layout).full).toBe("persistent://mdp/realtime/market-data.fx.raw.oanda.eurusd.quotes");
		expect(namespacesOf("market-data/*/historical/>", layout)).toEqual(["mdp/stored"]);
		expect(namespacesOf("market-data/crypto/raw/>", layout)).toEqual(["mdp/realtime"]);
		expect(namespacesOf("market-data/*/*/*/*/trades", layout).sort()).toEqual(["mdp/realtime", "mdp/stored"]);
		expect(namespacesOf("market-data/>", layout).sort()).toEqual(["mdp/realtime", "mdp/stored"]);
	});

	it("turns topic patterns into regexes over local names that agree with topicMatches", () => {
		const topics = [
			"market-data/crypto/raw/kraken/btcusd/trades",
			"market-data/crypto/historical/kraken/btcusd/trades",
			"market-data/fx/raw/oanda/eurusd/quotes",
			"market-data/fx/raw/oanda/eurusd/book/l2",
			"market-data/crypto/raw/kraken/btcusd",
			"market-data/crypto/raw/kraken/btcusdXtrades/x",
			"other/crypto/raw/kraken/btcusd/trades",
		];
		const patterns = [...TICK_TOPIC_PATTERNS, "market-data/>", "market-data/fx/raw/oanda/eurusd/>", "market-data/*/raw/kraken/*/trades", "market-data/crypto/raw/kraken/btcusd/trades"];
		for (const p of patterns) {
			const re = new RegExp(`^${localNameRegex(p)}$`);
			for (const t of topics) expect([p, t, re.test(pulsarTopic(t, DEFAULT_LAYOUT).local)]).toEqual([p, t, topicMatches(p, t)]);
		}
		// no '/' in a regex: the broker reads the namespace of a topicsPattern from its slashes
		for (const p of patterns) expect(localNameRegex(p)).not.toContain("/");
	});

	it("refuses what Pulsar would misread", () => {
		expect(() => pulsarTopic("market-data/a.b/c", DEFAULT_LAYOUT)).toThrow(/invalid topic/);
		expect(() => pulsarTopic("market-data/x/raw/foo-partition-3", DEFAULT_LAYOUT)).toThrow(/-partition-/);
		expect(logTopic("persistent://public/default/some-other-topic with space")).toBeNull();
	});

	it("derives the WebSocket and admin endpoints from PULSAR_URL, and hides secrets in URLs", () => {
		expect(deriveUrls("pulsar://broker:6650")).toEqual({ service: "pulsar://broker:6650", ws: "ws://broker:8080", admin: "http://broker:8080" });
		expect(deriveUrls("pulsar+ssl://broker:6651")).toMatchObject({ ws: "wss://broker:8443", admin: "https://broker:8443" });
		expect(deriveUrls("http://127.0.0.1:8080/")).toMatchObject({ ws: "ws://127.0.0.1:8080", admin: "http://127.0.0.1:8080" });
		expect(deriveUrls("ws://h:9090", "http://admin:8080/")).toMatchObject({ ws: "ws://h:9090", admin: "http://admin:8080" });
		expect(() => deriveUrls("kafka://x:1")).toThrow(/scheme kafka: not supported/);
		expect(redactUrl("ws://user:secret@h:1/ws?token=abc&x=1")).toBe("ws://***@h:1/ws?token=***&x=1");
	});
});

describe("pulsar message ids and publish times", () => {
	it("reads the documented example id CAAQAw== as ledger 0, entry 3", () => {
		// from the WebSocket API docs: {"result":"ok","messageId":"CAAQAw==",...}
		expect(formatMessageId("CAAQAw==")).toBe("0:3:-1:-1");
		expect(encodeMessageId({ ledgerId: 0n, entryId: 3n, partition: -1, batchIndex: -1 })).toBe("CAAQAw==");
		// 300 is the two-byte varint AC 02
		expect(encodeMessageId({ ledgerId: 300n, entryId: 0n, partition: -1, batchIndex: -1 })).toBe("CKwCEAA=");
	});

	it("round-trips large ledgers, partitions, batch indexes and the duplicate id -1:-1", () => {
		for (const p of [
			{ ledgerId: 123456789012n, entryId: 99n, partition: 2, batchIndex: 17 },
			{ ledgerId: -1n, entryId: -1n, partition: -1, batchIndex: -1 },
			// either side of 2^53, where the encoder leaves plain numbers for BigInt
			{ ledgerId: 9007199254740991n, entryId: 9007199254740992n, partition: 0, batchIndex: 0 },
			{ ledgerId: 2n ** 62n + 5n, entryId: 127n, partition: 128, batchIndex: 2 ** 31 - 1 },
		]) {
			expect(decodeMessageId(encodeMessageId(p))).toEqual(p);
		}
		expect(() => decodeMessageId("")).toThrow(/no ledger/);
		expect(() => decodeMessageId("CA==")).toThrow(/truncated|no ledger/);
	});

	it("parses both publishTime shapes as UTC", () => {
		expect(parsePublishTime("2024-01-15T10:20:30.123+0000")).toBe(Date.parse("2024-01-15T10:20:30.123Z"));
		expect(parsePublishTime("2024-01-15T12:20:30.123+0200")).toBe(Date.parse("2024-01-15T10:20:30.123Z"));
		expect(parsePublishTime("2016-08-30 16:45:57.785")).toBe(Date.parse("2016-08-30T16:45:57.785Z"));
		expect(parsePublishTime(undefined)).toBeNaN();
	});
});
