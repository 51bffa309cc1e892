// The chart page's symbols panel against the symbol catalog (issue 13's `symbol-catalog` service and its
// /api/symbols routes) with an API token set: search, add (refused without the token, accepted with it),
// see it active and in the market picker, remove. Written against the catalog contract:
//   GET /api/symbols?q=&active=  -> {items: [{venue, venueSymbol, symbol, assetClass, type, active, ...}], nextCursor}
//   POST /api/symbols {venue, symbol} -> 201 row;  DELETE /api/symbols/{venue}/{symbol}
// It needs the catalog and access branches merged (SERVICES=symbol-catalog, API_TOKEN on non-GET routes).
// Kraken's instruments come from the fake Kraken REST serving the real AssetPairs recording.
import type { Page } from "playwright-core";
import { FakeKrakenRest } from "../helpers/fake-kraken-rest";
import { startHarness, SERVICES, watchProblems, type Harness, type PageProblems } from "./harness";

const TOKEN = "chart-symbols-test-token";

describe("chart page: symbols panel with the catalog", () => {
	let h: Harness;
	let kraken: FakeKrakenRest;
	let page: Page;
	let problems: PageProblems;

	beforeAll(async () => {
		kraken = await new FakeKrakenRest().start();
		h = await startHarness("chart_symbols", { SERVICES: `${SERVICES},symbol-catalog`, API_TOKEN: TOKEN, KRAKEN_REST_URL: kraken.url });
		page = await h.browser.newPage({ viewport: { width: 1280, height: 800 } });
		problems = watchProblems(page);
	}, 180_000);

	afterAll(async () => {
		await h?.close();
		await kraken?.stop();
	});

	const activeRows = () => page.locator("#symbol-active li").allTextContents();

	it("searches the catalog, refuses an add without the token, adds and removes with it", async () => {
		await page.goto(h.base);
		await page.waitForFunction(() => (globalThis as any).chartApp?.ready);
		await page.click("details:has(#symbol-search) > summary");
		// the catalog knows Kraken's pairs once synced; search until it answers
		await page.fill("#symbol-q", "ETH");
		await page.waitForFunction(
			async () => {
				(globalThis as any).document.querySelector("#symbol-search button").click();
				await new Promise((r) => setTimeout(r, 300));
				return [...(globalThis as any).document.querySelectorAll("#symbol-results li")].some((li: any) => li.textContent.startsWith("ETH-USD-SPOT · kraken"));
			},
			undefined,
			{ timeout: 60_000, polling: 1000 },
		);
		const add = page.getByRole("button", { name: "Add ETH-USD-SPOT on kraken" });

		await add.click();
		await page.waitForFunction(() => /enter the API token/.test((globalThis as any).document.getElementById("symbol-note").textContent));
		expect(await activeRows()).not.toContain("ETH-USD-SPOTRemove");

		await page.click("details:has(#token-form) > summary");
		await page.fill("#token", TOKEN);
		await page.press("#token", "Enter");
		await page.fill("#symbol-q", "ETH");
		await page.click("#symbol-search button");
		await add.click();
		await page.waitForFunction(() => /^Added ETH-USD-SPOT on kraken/.test((globalThis as any).document.getElementById("symbol-note").textContent));
		await page.waitForFunction(() => [...(globalThis as any).document.querySelectorAll("#symbol-active li")].some((li: any) => li.textContent.startsWith("ETH-USD-SPOT · kraken")));
		// and the market picker offers it
		// (the panel and the picker reload side by side after an add: wait for the picker's reload too)
		await page.waitForFunction(() => (globalThis as any).document.querySelectorAll('#market option[value="kraken/ETH-USD-SPOT"]').length === 1);

		await page.getByRole("button", { name: "Remove ETH-USD-SPOT on kraken" }).click();
		await page.waitForFunction(() => /^Removed ETH-USD-SPOT on kraken/.test((globalThis as any).document.getElementById("symbol-note").textContent));
		await page.waitForFunction(() => ![...(globalThis as any).document.querySelectorAll("#symbol-active li")].some((li: any) => li.textContent.startsWith("ETH-USD-SPOT · kraken")));
	}, 180_000);

	it("logged no page error", () => {
		expect(problems.pageErrors).toEqual([]);
	});
});
