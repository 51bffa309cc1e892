import { copyBinaryInto, copyInto, type CopyPiece } from "../lib/writer/copy";
import { encodeEnvelope, tradeEnvelope } from "../lib/domain/codec";
import { makeTrades } from "../test/helpers/trades";
import fs from "node:fs";
import { Client } from "pg";
import { createPool } from "../lib/store/pool";
import { migrate } from "../lib/store/migrate";
import type { Pool, PoolClient } from "pg";

/** Benchmarks use their own database on the machine's PostgreSQL (BENCH_PG_ADMIN_URL), dropped at the end. */
const ADMIN_URL = process.env.BENCH_PG_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export async function benchDatabase(prefix: string): Promise<{ url: string; pool: Pool; drop(): Promise<void> }> {
	const name = `mdp_bench_${prefix}_${process.pid}`;
	const admin = new Client({ connectionString: ADMIN_URL });
	await admin.connect();
	await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
	await admin.query(`CREATE DATABASE "${name}"`);
	await admin.end();
	const u = new URL(ADMIN_URL);
	u.pathname = "/" + name;
	const url = u.toString();
	const pool = createPool(url, { max: 8 });
	await migrate(pool);
	return {
		url,
		pool,
		async drop() {
			await pool.end();
			const a = new Client({ connectionString: ADMIN_URL });
			await a.connect();
			await a.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
			await a.end();
		},
	};
}

export function seconds(ms: number): string {
	return (ms / 1000).toFixed(2) + " s";
}

export function percentile(sorted: number[], p: number): number {
	if (!sorted.length) return NaN;
	return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * The log benchmarks' payloads: `small` 64-byte messages, and `trades` generated trades in wire-format
 * messages of `perMessage` trades each.
 */
export function logBenchPayloads(small: number, trades: number, perMessage: number): { small: Uint8Array[]; big: Uint8Array[]; bigBytes: number } {
	const enc = new TextEncoder();
	const smallMsgs = Array.from({ length: small }, (_, i) => enc.encode(`{"i":${i},"p":"43210.5","q":"0.0012"}`.padEnd(64, " ")));
	const items = makeTrades(trades, Date.parse("2024-01-01T00:00:00Z"), 30 * 86_400_000, 11);
	const big: Uint8Array[] = [];
	for (let i = 0; i < items.length; i += perMessage) big.push(encodeEnvelope(tradeEnvelope("kraken", "BTC-USD-SPOT", items.slice(i, i + perMessage))));
	const bigBytes = big.reduce((s, b) => s + b.byteLength, 0);
	// stderr: a bench's stdout carries only its result line
	console.error(`payloads: ${small} x 64 B; ${big.length} x ${Math.round(bigBytes / big.length)} B (${perMessage} trades each)`);
	return { small: smallMsgs, big, bigBytes };
}

/** The names `npm run bench` knows, one JSON line each (issue 12). */
export type BenchName = "tick-writer" | "kraken-parse" | "kraken-parse-book" | "pulsar-publish" | "backfill" | "klines" | "cascade" | "writer-rss-mb" | "idle-rss-mb" | "writer-scale" | "candle-query-p99";

/**
 * One bench figure: what was measured (`figure`), what it is compared with in the same run (`baseline`),
 * their ratio, and the goal the ratio must reach (`better`: "higher" = ratio >= goal passes, "lower" =
 * ratio <= goal passes). Extra fields are details (sizes, per-run figures, rows/s).
 */
export interface BenchResult {
	bench: BenchName;
	ratio: number;
	goal: number;
	better: "higher" | "lower";
	/** e.g. "512,340 rows/s", "1,203 ms" */
	figure: string;
	/** e.g. "raw COPY 560,100 rows/s" */
	baseline: string;
	[detail: string]: unknown;
}

/** Whether a ratio meets its goal. */
export function passes(r: Pick<BenchResult, "ratio" | "goal" | "better">): boolean {
	return r.better === "higher" ? r.ratio >= r.goal : r.ratio <= r.goal;
}

/** Prints the result as the one JSON line `npm run bench` collects (ratio rounded to 3 decimals). */
export function report(r: BenchResult): void {
	console.log(JSON.stringify({ ...r, ratio: Number(r.ratio.toFixed(3)), pass: passes(r) }));
}

/** The median of a non-empty list (the mean of the middle two for an even length). */
export function median(xs: number[]): number {
	if (!xs.length) throw new Error("median of nothing");
	const s = [...xs].sort((a, b) => a - b);
	const m = s.length >> 1;
	return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** `--quick` (or BENCH_QUICK=1): the sizes `npm run bench -- --quick` uses. */
export const QUICK = process.argv.includes("--quick") || process.env.BENCH_QUICK === "1";

/** Runs per invocation whose median is reported (`--runs N`, default 3). */
export const RUNS = Math.max(1, Number(argValue("--runs", "3")) || 3);

/** The value after `name` on the command line, or `dflt`. */
export function argValue(name: string, dflt: string): string {
	const i = process.argv.indexOf(name);
	return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

/** A number from the command line (`--trades 1000000`), else the quick or the full default. */
export function sizeArg(name: string, full: number, quick: number): number {
	const v = Number(argValue(name, ""));
	return Number.isFinite(v) && v > 0 ? v : QUICK ? quick : full;
}

/** 1234567 -> "1,234,567" */
export function fmt(n: number): string {
	return Math.round(n).toLocaleString("en-US");
}

/** CPU time (user + system, ms) a process has used so far, from /proc (Linux); NaN when it cannot be read. */
export function cpuMs(pid: number): number {
	try {
		const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
		return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // clock ticks of 1/100 s (USER_HZ)
	} catch {
		return NaN;
	}
}

/**
 * History straight from SQL for the candle benches: `n` Kraken trades evenly over `days` days from `startIso`,
 * `symbols` symbols (SYM0-USD-SPOT, ...) interleaved, prices and sizes exact decimals.
 */
export async function insertSyntheticTrades(pool: Pool, o: { n: number; symbols: number; days: number; startIso: string }): Promise<void> {
	// The primary key is built once after the load (a sorted build) instead of row by row: the same index, faster.
	const pk = (
		await pool.query<{ name: string; def: string }>("SELECT conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'trades'::regclass AND contype = 'p'")
	).rows[0];
	if (pk) await pool.query(`ALTER TABLE trades DROP CONSTRAINT "${pk.name}"`);
	await pool.query(
		`INSERT INTO trades (venue, symbol, time, trade_id, price, qty, side, recv_time)
		 SELECT 'kraken', 'SYM' || (i % $2) || '-USD-SPOT', t, i,
		        round((40000 + 1000 * sin(i / 5000.0) + (i % 97))::numeric, 2), ((i % 1000) + 1) / 10000.0,
		        CASE WHEN i % 2 = 0 THEN 'b' ELSE 's' END, t
		   FROM generate_series(1, $1::bigint) AS i,
		        LATERAL (SELECT $4::timestamptz + (i::float8 / $1 * $3 * 86400) * interval '1 second' AS t) x`,
		[o.n, o.symbols, o.days, o.startIso],
	);
	if (pk) await pool.query(`ALTER TABLE trades ADD CONSTRAINT "${pk.name}" ${pk.def}`);
}

/** Pids of the processes named `comm` (as in /proc/PID/comm, e.g. "nats-server"), Linux; [] elsewhere. */
export function pidsNamed(comm: string): number[] {
	try {
		return fs
			.readdirSync("/proc")
			.filter((d) => /^\d+$/.test(d))
			.filter((d) => {
				try {
					return fs.readFileSync(`/proc/${d}/comm`, "utf8").trim() === comm;
				} catch {
					return false;
				}
			})
			.map(Number);
	} catch {
		return [];
	}
}

/**
 * ms a process has spent runnable but waiting for a CPU (the run delay in /proc/PID/schedstat, Linux with schedstats);
 * NaN when it cannot be read.
 */
export function runDelayMs(pid: number): number {
	try {
		return Number(fs.readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[1]) / 1e6;
	} catch {
		return NaN;
	}
}

/**
 * CPU (ms) used while `fn` runs by this process (`self`), one other process (`other`, e.g. the tick-writer or a fake
 * venue; 0 without a pid) and the PostgreSQL backends serving the pool's database (`postgres`); and how long those
 * backends were ready to run but waited for a CPU that the other processes held (`postgresWaited`, ms; NaN where
 * /proc has no schedstat). On a machine the pipeline shares with PostgreSQL this is the part of the wall time that
 * the pipeline's own CPU costs the database; the baselines run with this process idle.
 */
export interface CpuSplit {
	self: number;
	other: number;
	postgres: number;
	postgresWaited: number;
}

/**
 * The CPU each side used while `fn` ran. Not a goal, a diagnosis: on a shared machine wall times swing with the
 * neighbours' load, CPU per stage much less.
 */
export async function cpuDuring<T>(pool: Pool, otherPid: number | undefined, fn: () => Promise<T>): Promise<{ result: T; cpu: CpuSplit }> {
	const backends = async () => (await pool.query("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).rows.map((r) => r.pid as number);
	const before = new Map((await backends()).map((pid) => [pid, { cpu: cpuMs(pid), waited: runDelayMs(pid) }]));
	const o0 = otherPid ? cpuMs(otherPid) : NaN;
	const u0 = process.cpuUsage();
	const result = await fn();
	const u = process.cpuUsage(u0);
	let postgres = 0;
	let postgresWaited = 0;
	let schedstat = false;
	// A backend that ended meanwhile (the pool closing an idle connection) counts for neither, as before for the CPU.
	for (const pid of new Set([...before.keys(), ...(await backends())])) {
		const now = cpuMs(pid);
		if (Number.isFinite(now)) postgres += now - (before.get(pid)?.cpu ?? 0);
		const waited = runDelayMs(pid);
		if (Number.isFinite(waited)) {
			postgresWaited += waited - (before.get(pid)?.waited ?? 0);
			schedstat = true;
		}
	}
	const cpu = {
		self: Math.round((u.user + u.system) / 1000),
		other: otherPid ? Math.round(cpuMs(otherPid) - o0) : 0,
		postgres: Math.round(postgres),
		postgresWaited: schedstat ? Math.round(postgresWaited) : NaN,
	};
	return { result, cpu };
}

/** ms that `copy` takes on one connection of `pool`, in one transaction. */
async function timedTransaction(pool: Pool, copy: (c: PoolClient) => Promise<unknown>): Promise<number> {
	const c = await pool.connect();
	try {
		const t0 = performance.now();
		await c.query("BEGIN");
		await copy(c);
		await c.query("COMMIT");
		return performance.now() - t0;
	} finally {
		c.release();
	}
}

/** The baseline of the ingest benches: raw (text) COPY of `pieces` into `table` in one transaction on one connection, in ms. */
export function timedCopy(pool: Pool, table: string, columns: readonly string[], pieces: readonly CopyPiece[]): Promise<number> {
	return timedTransaction(pool, (c) => copyInto(c, table, columns, pieces));
}

/**
 * A second baseline, reported beside the ratio but not its goal: raw binary COPY of the same rows (`chunks`: binary
 * COPY rows, prepared before the clock), in one transaction on one connection, in ms. The
 * tick-writer and the kline ingest send binary COPY, so this shows how far they are from the faster of the two formats.
 */
export function timedBinaryCopy(pool: Pool, table: string, columns: readonly string[], chunks: readonly Buffer[]): Promise<number> {
	return timedTransaction(pool, (c) => copyBinaryInto(c, table, columns, chunks));
}
