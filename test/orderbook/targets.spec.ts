import { TargetList, type CatalogPage, type CatalogRow } from "../../lib/orderbook/targets";
import type { BookTarget } from "../../lib/orderbook/types";

/** TargetList: which books to poll, from the catalog when it runs, else the configuration. */
describe("TargetList", () => {
	const configured: BookTarget[] = [{ venue: "kraken", symbol: "BTC-USD-SPOT", venueSymbol: "BTC/USD", market: "kraken-spot" }];
	const rows: CatalogRow[] = [
		{ venue: "binance", venueSymbol: "BTCUSDT", symbol: "BTC-USDT-SPOT" },
		{ venue: "binance", venueSymbol: "ETHUSDT", symbol: "ETH-USDT-SPOT" },
		{ venue: "kraken", venueSymbol: "ETH/USD", symbol: "ETH-USD-SPOT" },
	];

	function list(catalog: { up: boolean; fail: boolean; calls: number }) {
		const changes: string[] = [];
		const errors: string[] = [];
		const l = new TargetList({
			catalogAvailable: () => catalog.up,
			listCatalog: async (p): Promise<CatalogPage> => {
				catalog.calls++;
				if (catalog.fail) throw new Error("symbols.list timed out");
				const from = Number(p.cursor ?? 0);
				return { items: rows.slice(from, from + 1), nextCursor: from + 1 < rows.length ? String(from + 1) : null };
			},
			configured: () => configured,
			onChange: (t, from) => changes.push(`${from}:${t.map((x) => x.symbol).join(",")}`),
			onError: (err) => errors.push((err as Error).message),
		});
		return { l, changes, errors };
	}

	it("pages through the catalog, keeps the last good list when the catalog fails, and falls back when it is gone", async () => {
		const catalog = { up: false, fail: false, calls: 0 };
		const { l, changes, errors } = list(catalog);
		await l.refresh();
		expect(l.from).toBe("config");
		catalog.up = true;
		await l.refresh();
		expect(catalog.calls).toBe(3); // one row per page
		expect(l.targets.map((t) => t.symbol)).toEqual(["BTC-USDT-SPOT", "ETH-USDT-SPOT", "ETH-USD-SPOT"]);
		catalog.fail = true;
		await l.refresh();
		expect(errors).toEqual(["symbols.list timed out"]);
		expect(l.from).toBe("catalog");
		expect(l.targets).toHaveLength(3);
		catalog.up = false;
		await l.refresh();
		expect(changes).toEqual(["config:BTC-USD-SPOT", "catalog:BTC-USDT-SPOT,ETH-USDT-SPOT,ETH-USD-SPOT", "config:BTC-USD-SPOT"]);
	});

	it("folds reloads asked for while one runs into one more", async () => {
		const catalog = { up: true, fail: false, calls: 0 };
		const { l } = list(catalog);
		const runs = [l.refresh(), l.refresh(), l.refresh(), l.refresh()];
		await Promise.all(runs);
		await l.settled();
		expect(catalog.calls).toBe(6); // two loads of three pages, not four
	});

	it("reloads on a service change only when the catalog came or went", async () => {
		const catalog = { up: true, fail: false, calls: 0 };
		const { l, changes } = list(catalog);
		await l.refresh();
		expect(catalog.calls).toBe(3);
		await l.refreshIfSourceChanged(); // another node joined: the catalog is still there
		await l.refreshIfSourceChanged();
		expect(catalog.calls).toBe(3);
		catalog.up = false;
		await l.refreshIfSourceChanged();
		expect(l.from).toBe("config");
		catalog.up = true;
		await l.refreshIfSourceChanged();
		expect(catalog.calls).toBe(6);
		expect(changes).toEqual(["catalog:BTC-USDT-SPOT,ETH-USDT-SPOT,ETH-USD-SPOT", "config:BTC-USD-SPOT", "catalog:BTC-USDT-SPOT,ETH-USDT-SPOT,ETH-USD-SPOT"]);
	});
});
