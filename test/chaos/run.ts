/**
 * `npm run chaos [-- --quick]`: the fault-injection suite. Own nats-server (JetStream, file store), redis-server
 * and PostgreSQL on spare ports; the pipeline as separate processes (tick-writer x2, cascade-refresher x2, api;
 * MARKET_LOG=jetstream, TRANSPORTER=nats, REDIS_URL); trades with unique ids published at a steady rate while
 * faults are injected one after another (at least TOTAL_TRADES, and until the last fault is over). After each
 * fault: lost, duplicated, candle volume at every timeframe
 * against the stored quantities, exactly one leader, time to recover. Prints a table; exits 1 if anything is off.
 * --quick: fewer trades, shorter outages, every fault still injected (CI).
 */
import { ServiceBroker } from "moleculer";
import type { Pool } from "pg";
import { encodeEnvelope, tradeEnvelope } from "../../lib/domain/codec";
import { CANDLE_TABLE, TIMEFRAMES } from "../../lib/domain/timeframes";
import type { TradeItem } from "../../lib/domain/types";
import { JetStreamLog } from "../../lib/log/jetstream";
import { migrate } from "../../lib/store/migrate";
import { createPool } from "../../lib/store/pool";
import { freePort } from "../helpers/net";
import { startService, type Child } from "../helpers/proc";
import { startNatsServer, startPgServer, startRedisServer, type PgServer, type ProcServer } from "../helpers/servers";

const QUICK = process.argv.includes("--quick");
/** At least this many trades; publishing goes on until the last fault has been injected too. */
const TOTAL_TRADES = QUICK ? 20_000 : 200_000;
const TRADES_PER_MSG = 10;
const MSGS_PER_SEC = QUICK ? 20 : 80;
const REDIS_OUTAGE_MS = QUICK ? 6_000 : 30_000;
const ACK_WAIT_MS = 4_000;
const STALL_MS = ACK_WAIT_MS + 3_000;
const LEASE_TTL_MS = 3_000;
const RECOVERY_DEADLINE_MS = 120_000;
const TOPIC = "market-data/crypto/raw/kraken/btcusd/trades";
const VENUE = "kraken";
const SYMBOL = "BTC-USD-SPOT";
const T0 = Date.parse("2024-06-03T00:00:00Z");
const BAD_MESSAGES = 3;

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(what: string, ok: () => Promise<boolean>, timeoutMs = RECOVERY_DEADLINE_MS): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		if (await ok().catch(() => false)) return;
		if (Date.now() > deadline) throw new Error(`chaos: ${what} not reached within ${timeoutMs} ms`);
		await sleep(100);
	}
}

function tradeItem(id: number): TradeItem {
	const time = new Date(T0 + id * 10).toISOString();
	return { tradeId: String(id), side: id % 2 ? "buy" : "sell", price: `${60000 + (id % 500)}.${String(id % 100).padStart(2, "0")}`, qty: `0.${String(id % 99_991).padStart(6, "0")}1`, time, recvTime: time };
}

/** Publishes messages of TRADES_PER_MSG trades with consecutive ids at MSGS_PER_SEC; a failed publish is retried as is. */
class Publisher {
	published = 0; // trades acknowledged by JetStream
	messages = 0;
	paused = false;
	/** Set after the last fault: the publisher then stops once TOTAL_TRADES are out. */
	faultsDone = false;
	private stopped = false;
	done: Promise<void> = Promise.resolve();

	constructor(private readonly log: JetStreamLog) {}

	start(): void {
		this.done = this.run();
	}

	stop(): void {
		this.stopped = true;
	}

	private async run(): Promise<void> {
		let next = Date.now();
		while (!this.stopped && (this.published < TOTAL_TRADES || !this.faultsDone)) {
			if (this.paused) {
				await sleep(50);
				next = Date.now();
				continue;
			}
			next += 1000 / MSGS_PER_SEC;
			const wait = next - Date.now();
			if (wait > 0) await sleep(wait);
			const first = this.published + 1;
			const items = Array.from({ length: TRADES_PER_MSG }, (_, i) => tradeItem(first + i));
			const payload = encodeEnvelope(tradeEnvelope(VENUE, SYMBOL, items));
			for (;;) {
				try {
					await this.log.publish(TOPIC, SYMBOL, [payload]);
					break;
				} catch {
					// NATS down or JetStream recovering: the same payload again (same message id, stored once).
					await sleep(200);
				}
			}
			this.published += items.length;
			this.messages++;
		}
	}
}

interface Row {
	fault: string;
	loadMsgsPerSec: number;
	lost: number;
	duplicated: number;
	recoverySec: number;
	checks: string;
}

async function main(): Promise<void> {
	const t0 = Date.now();
	console.log(`chaos: ${QUICK ? "quick" : "full"} run, at least ${TOTAL_TRADES} trades at ${MSGS_PER_SEC * TRADES_PER_MSG} trades/s`);
	const pg: PgServer = await startPgServer();
	const nats: ProcServer = await startNatsServer();
	const redis: ProcServer = await startRedisServer();
	const pool: Pool = createPool(pg.url, { max: 4, logger: quiet });
	const children = new Map<string, Child>();
	let broker: ServiceBroker | null = null;
	let log: JetStreamLog | null = null;
	const rows: Row[] = [];
	try {
		await migrate(pool);
		const apiPort = await freePort();
		const base: Record<string, string> = {
			DATABASE_URL: pg.url,
			MARKET_LOG: "jetstream",
			NATS_URL: nats.url,
			TRANSPORTER: nats.url,
			REDIS_URL: redis.url,
			MIGRATE_ON_START: "false",
			METRICS_PORT: "0",
			NAMESPACE: "chaos",
			LOG_LEVEL: "info",
			LEASE_TTL_MS: String(LEASE_TTL_MS),
			WRITER_ACK_TIMEOUT_MS: String(ACK_WAIT_MS),
			CASCADE_INTERVAL_MS: "250",
		};
		const env: Record<string, Record<string, string>> = {
			"writer-1": { ...base, SERVICES: "tick-writer", NODE_ID: "chaos-writer-1" },
			"writer-2": { ...base, SERVICES: "tick-writer", NODE_ID: "chaos-writer-2" },
			"refresher-1": { ...base, SERVICES: "cascade-refresher", NODE_ID: "chaos-refresher-1" },
			"refresher-2": { ...base, SERVICES: "cascade-refresher", NODE_ID: "chaos-refresher-2" },
			api: { ...base, SERVICES: "api", NODE_ID: "chaos-api", PORT: String(apiPort) },
		};
		const start = async (name: string) => {
			const c = startService(env[name]);
			children.set(name, c);
			await c.waitForOutput(/pipeline up/, 60_000);
		};
		for (const name of Object.keys(env)) await start(name);

		broker = new ServiceBroker({ namespace: "chaos", nodeID: `chaos-runner-${process.pid}`, transporter: { type: "NATS", options: { servers: [nats.url.replace("nats://", "")], maxReconnectAttempts: -1 } }, logger: false });
		await broker.start();
		const leaders = async (): Promise<number> => {
			let n = 0;
			for (const nodeID of ["chaos-refresher-1", "chaos-refresher-2"]) {
				const s = (await broker!.call("cascade-refresher.status", {}, { nodeID, timeout: 2_000 }).catch(() => null)) as { leader: boolean } | null;
				if (s?.leader) n++;
			}
			return n;
		};
		const leaderName = async (): Promise<string | null> => {
			for (const [name, nodeID] of [["refresher-1", "chaos-refresher-1"], ["refresher-2", "chaos-refresher-2"]]) {
				const s = (await broker!.call("cascade-refresher.status", {}, { nodeID, timeout: 2_000 }).catch(() => null)) as { leader: boolean } | null;
				if (s?.leader) return name;
			}
			return null;
		};
		const ready = async () => (await fetch(`http://127.0.0.1:${apiPort}/api/ready`).catch(() => null))?.status === 200;
		const counts = async () => {
			const { rows: r } = await pool.query(`SELECT count(*)::int AS n, count(DISTINCT trade_id)::int AS d FROM trades WHERE venue = $1 AND symbol = $2`, [VENUE, SYMBOL]);
			return r[0] as { n: number; d: number };
		};
		await waitUntil("one cascade leader at start", async () => (await leaders()) === 1);

		log = await JetStreamLog.connect({ servers: nats.url, stream: "MARKET_DATA", publishTimeoutMs: 10_000 });
		const pub = new Publisher(log);
		pub.start();
		await waitUntil("first trades stored", async () => (await counts()).n > 0);

		/**
		 * Inject one fault, wait for recovery, then check with the publisher paused. `inject` returns when the fault
		 * is over and may say when that was (a SIGKILL is over at once, while the restarted process still boots);
		 * recovery counts from then.
		 */
		const run = async (fault: string, inject: () => Promise<number | void>, extra?: () => Promise<string | null>) => {
			const before = pub.messages;
			const start = Date.now();
			const end = (await inject()) ?? Date.now();
			const target = pub.published;
			await waitUntil(`${fault}: recovery`, async () => (await counts()).d >= target && (await leaders()) === 1 && (await ready()));
			const recovered = Date.now();
			const load = (pub.messages - before) / ((recovered - start) / 1000);
			pub.paused = true;
			await sleep(300);
			const published = pub.published;
			const problems: string[] = [];
			await waitUntil(`${fault}: all published trades stored`, async () => (await counts()).d >= published, 60_000).catch((e) => problems.push((e as Error).message));
			await waitUntil(`${fault}: cascade caught up`, async () => Number((await pool.query("SELECT count(*) AS n FROM dirty_buckets")).rows[0].n) === 0, 60_000).catch((e) =>
				problems.push((e as Error).message),
			);
			const c = await counts();
			const { rows: maxRows } = await pool.query(`SELECT coalesce(max(trade_id), 0)::bigint AS m FROM trades WHERE venue = $1 AND symbol = $2`, [VENUE, SYMBOL]);
			if (Number(maxRows[0].m) > published) problems.push(`a trade id above the published ${published}`);
			const { rows: q } = await pool.query(`SELECT coalesce(sum(qty), 0)::text AS s FROM trades WHERE venue = $1 AND symbol = $2`, [VENUE, SYMBOL]);
			for (const tf of TIMEFRAMES) {
				const { rows: v } = await pool.query(`SELECT coalesce(sum(volume), 0)::text AS s FROM ${CANDLE_TABLE[tf]} WHERE venue = $1 AND symbol = $2 AND price_type = 'trade'`, [VENUE, SYMBOL]);
				if (v[0].s !== q[0].s) problems.push(`${tf} volume ${v[0].s} != stored qty ${q[0].s}`);
			}
			const l = await leaders();
			if (l !== 1) problems.push(`${l} leaders`);
			const more = extra ? await extra() : null;
			if (more) problems.push(more);
			rows.push({
				fault,
				loadMsgsPerSec: Math.round(load),
				lost: published - c.d,
				duplicated: c.n - c.d,
				recoverySec: Math.round((recovered - end) / 100) / 10,
				checks: problems.length ? problems.join("; ") : "ok",
			});
			console.log(`chaos: ${fault}: lost ${published - c.d}, duplicated ${c.n - c.d}, recovered in ${((recovered - end) / 1000).toFixed(1)} s, ${problems.length ? problems.join("; ") : "checks ok"}`);
			pub.paused = false;
			await sleep(QUICK ? 1_500 : 4_000); // steady load between faults
		};

		await run("SIGKILL tick-writer", async () => {
			await children.get("writer-1")!.kill("SIGKILL");
			const at = Date.now();
			await start("writer-1");
			return at;
		});
		await run("SIGKILL leading refresher", async () => {
			const name = (await leaderName()) ?? "refresher-1";
			await children.get(name)!.kill("SIGKILL");
			const at = Date.now();
			await start(name);
			return at;
		});
		await run("PostgreSQL restart -m fast", () => pg.restart("fast"));
		await run("PostgreSQL restart -m immediate", () => pg.restart("immediate"));
		await run("NATS restart", async () => {
			await nats.kill("SIGTERM");
			await nats.start();
		});
		await run(`Redis down ${REDIS_OUTAGE_MS / 1000} s`, async () => {
			await redis.kill("SIGKILL");
			await sleep(REDIS_OUTAGE_MS);
			await redis.start(); // empty: no persistence
		});
		await run(`writer stalled ${STALL_MS / 1000} s (SIGSTOP, ack wait ${ACK_WAIT_MS / 1000} s)`, async () => {
			const w = children.get("writer-2")!.proc;
			w.kill("SIGSTOP");
			await sleep(STALL_MS);
			w.kill("SIGCONT");
		});
		// Disk full where dead letters are written: PostgreSQL's own disk_full error (53100) on every insert into
		// dead_letters while bad messages arrive among good ones. A real full disk needs a small mount, which an
		// unprivileged container cannot make; the writer sees the same error either way.
		await run(
			"disk full on the dead-letter path",
			async () => {
				await pool.query(`CREATE OR REPLACE FUNCTION chaos_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
					BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '53100'; END $$`);
				await pool.query("CREATE TRIGGER chaos_disk_full BEFORE INSERT ON dead_letters FOR EACH ROW EXECUTE FUNCTION chaos_disk_full()");
				const at = new Date(T0).toISOString();
				const bad = (i: number) => Buffer.from(`{"v":2,"kind":"trade","venue":"${VENUE}","symbol":"${SYMBOL}"}\n${at}\t${i + 1}\tnot-a-price\t1\tb\t${at}`);
				for (let i = 0; i < BAD_MESSAGES; i++) await log!.publish(TOPIC, SYMBOL, [bad(i)]);
				await sleep(QUICK ? 3_000 : 8_000);
				await pool.query("DROP TRIGGER chaos_disk_full ON dead_letters");
			},
			async () => {
				const n = Number((await pool.query("SELECT count(*) AS n FROM dead_letters")).rows[0].n);
				return n === BAD_MESSAGES ? null : `${n} dead letters, expected ${BAD_MESSAGES}`;
			},
		);

		pub.faultsDone = true;
		await pub.done;
		await run("final check after the last trade (no fault)", async () => undefined);
		console.log(`\nchaos: ${pub.published} trades in ${pub.messages} messages, ${((Date.now() - t0) / 1000).toFixed(0)} s in all\n`);
	} finally {
		await log?.close().catch(() => undefined);
		await broker?.stop().catch(() => undefined);
		for (const c of children.values()) await c.kill("SIGKILL").catch(() => undefined);
		await pool.end().catch(() => undefined);
		await redis.stop();
		await nats.stop();
		await pg.stop();
	}
	printTable(rows);
	const bad = rows.filter((r) => r.lost || r.duplicated || r.checks !== "ok");
	if (bad.length) {
		console.error(`chaos: FAILED (${bad.map((r) => r.fault).join(", ")})`);
		process.exit(1);
	}
}

function printTable(rows: Row[]): void {
	const head = ["fault", "load held msgs/s", "lost", "duplicated", "recovery s", "checks"];
	const body = rows.map((r) => [r.fault, String(r.loadMsgsPerSec), String(r.lost), String(r.duplicated), r.recoverySec.toFixed(1), r.checks]);
	const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
	const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(w[i])).join(" | ")} |`;
	console.log(line(head));
	console.log(`| ${w.map((n) => "-".repeat(n)).join(" | ")} |`);
	for (const b of body) console.log(line(b));
}

main().catch((err) => {
	console.error("chaos: fatal:", err?.stack ?? err);
	process.exit(1);
});
