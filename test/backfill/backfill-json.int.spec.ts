import { startPipeline, type Pipeline } from "../../bin/pipeline";
import { getInstrument } from "../../lib/backfill/dukascopy/instruments";
import { Bi5Source } from "../../lib/backfill/dukascopy/source";
import type { JobStatus } from "../../lib/backfill/jobs";
import { fetchAndPublishHour } from "../../lib/backfill/worker";
import { loadConfig } from "../../lib/config";
import { freshDatabase, waitFor, type TestDb } from "../helpers/db";
import { FakeDukascopy } from "../helpers/fake-dukascopy";
import { freePort } from "../helpers/net";

/** DUKASCOPY_SOURCE=json through the pipeline (REPL-style action calls), then the same hour from the .bi5 feed adds nothing. */
describe("dukascopy-backfill with the JSON API source", () => {
	let db: TestDb;
	let fake: FakeDukascopy;
	let p: Pipeline;

	beforeAll(async () => {
		db = await freshDatabase("dukajson");
		fake = await FakeDukascopy.start();
		p = await startPipeline(
			loadConfig({
				DATABASE_URL: db.url,
				MARKET_LOG: "memory",
				SERVICES: "tick-writer,dukascopy-backfill",
				PORT: String(await freePort()),
				METRICS_PORT: "0",
				DUKASCOPY_SOURCE: "json",
				DUKASCOPY_URL: "http://127.0.0.1:1/unused",
				DUKASCOPY_JSON_URL: fake.jsonUrl,
				LOG_LEVEL: "fatal",
			}),
		);
	});
	afterAll(async () => {
		await p?.stop();
		await fake?.close();
		await db?.drop();
	});

	const count = async () => (await db.pool.query("SELECT count(*)::int AS n, count(DISTINCT seq)::int AS s, min(time) AS first FROM quotes WHERE venue = 'dukascopy' AND symbol = 'BTC-USD-SPOT'")).rows[0];

	it("stores the JSON API hour, and the .bi5 file of the same hour is all duplicates", async () => {
		const started = (await p.broker.call("dukascopy-backfill.start", { source: "dukascopy", instrument: "BTCUSD", from: "2023-02-20T12:00:00Z", to: "2023-02-20T13:00:00Z" })) as JobStatus;
		const job = await waitFor(async () => {
			const j = (await p.broker.call("dukascopy-backfill.status", { id: started.id })) as JobStatus;
			return j.state === "done" ? j : null;
		}, { what: "the JSON job" });
		expect(job.progress).toMatchObject({ hoursDone: 1, ticks: 8523 });
		expect(fake.requests.map((r) => r.path)).toEqual(["/v1/ticks/BTC-USD/2023/2/20/12"]);
		await waitFor(async () => (await count()).n === 8523, { what: "8523 quotes" });
		expect(await count()).toEqual({ n: 8523, s: 8523, first: new Date("2023-02-20T12:00:00.084Z") });

		const stats = () => p.broker.call("tick-writer.stats") as Promise<{ duplicates: number; insertedQuotes: number }>;
		const before = await stats();
		const r = await fetchAndPublishHour({ source: new Bi5Source({ baseUrl: fake.datafeedUrl }), log: await p.runtime.log() }, getInstrument("BTCUSD"), Date.parse("2023-02-20T12:00:00Z"));
		expect(r).toEqual({ published: true, ticks: 8523, messages: 2 });
		await waitFor(async () => (await stats()).duplicates - before.duplicates === 8523, { what: "the .bi5 ticks to arrive as duplicates" });
		expect((await stats()).insertedQuotes).toBe(before.insertedQuotes);
		expect((await count()).n).toBe(8523);
	});
});
