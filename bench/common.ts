import { encodeEnvelope, tradeEnvelope } from "../lib/domain/codec";
import { makeTrades } from "../test/helpers/trades";
import { Client } from "pg";
import { createPool } from "../lib/store/pool";
import { migrate } from "../lib/store/migrate";
import type { Pool } from "pg";

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
	console.log(`payloads: ${small} x 64 B; ${big.length} x ${Math.round(bigBytes / big.length)} B (${perMessage} trades each)`);
	return { small: smallMsgs, big, bigBytes };
}
