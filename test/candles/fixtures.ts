/** Test data and independent reference aggregations for the candle tests. */
import type { Pool, PoolClient } from "pg";
import { MARK_DIRTY_SQL, runCascadeCycle } from "../../lib/candles/cascade";
import { TIMEFRAME_MS, CANDLE_TABLE, type Timeframe } from "../../lib/domain/timeframes";
import type { PriceType } from "../../lib/domain/types";
import { migrate } from "../../lib/store/migrate";
import { freshDatabase, type TestDb } from "../helpers/db";

export async function candleDb(prefix: string): Promise<TestDb> {
	const db = await freshDatabase(prefix);
	await migrate(db.pool);
	return db;
}

/** Deterministic PRNG (mulberry32) so a failure can be replayed. */
export function rng(seed: number): () => number {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

export interface T {
	venue: string;
	symbol: string;
	time: string; // ISO with microseconds
	tradeId: string;
	price: string;
	qty: string;
}

export interface Q {
	venue: string;
	symbol: string;
	time: string;
	seq: string;
	bid: string;
	ask: string;
	bidQty: string | null;
	askQty: string | null;
}

/** ISO time with microseconds from ms + µs. */
export function isoMicro(ms: number, micro: number): string {
	const base = new Date(ms).toISOString(); // ...SS.mmmZ
	return base.slice(0, 23) + String(micro).padStart(3, "0") + "Z";
}

function decimal(r: () => number, intPart: number, places: number): string {
	let frac = "";
	for (let i = 0; i < places; i++) frac += Math.floor(r() * 10);
	return places ? `${intPart}.${frac}` : String(intPart);
}

/**
 * Random trades from `startMs` for `minutes` minutes: quiet, empty and burst minutes, equal timestamps,
 * trade ids not in time order within a timestamp, prices at a fixed scale, sizes at varying scales.
 */
export function randomTrades(seed: number, venue: string, symbol: string, startMs: number, minutes: number, priceScale: number): T[] {
	const r = rng(seed);
	const out: T[] = [];
	let id = 1_000_000;
	let px = 40_000;
	for (let m = 0; m < minutes; m++) {
		const roll = r();
		const n = roll < 0.15 ? 0 : roll < 0.9 ? 1 + Math.floor(r() * 6) : 40 + Math.floor(r() * 120);
		const mStart = startMs + m * 60_000;
		for (let i = 0; i < n; i++) {
			const ms = mStart + Math.floor(r() * 60_000);
			const micro = Math.floor(r() * 1000);
			const same = r() < 0.3 ? 1 + Math.floor(r() * 3) : 1; // several trades at one timestamp
			const ids: number[] = [];
			for (let k = 0; k < same; k++) ids.push(id++);
			if (r() < 0.5) ids.reverse();
			for (const tid of ids) {
				px = Math.max(100, px + Math.floor((r() - 0.5) * 40));
				out.push({ venue, symbol, time: isoMicro(ms, micro), tradeId: String(tid), price: decimal(r, px, priceScale), qty: decimal(r, Math.floor(r() * 3), Math.floor(r() * 13)) });
			}
		}
	}
	// the exact edges of a minute too
	out.push({ venue, symbol, time: isoMicro(startMs + 60_000, 0), tradeId: String(id++), price: decimal(r, px, priceScale), qty: "1" });
	out.push({ venue, symbol, time: isoMicro(startMs + 119_999, 999), tradeId: String(id++), price: decimal(r, px, priceScale), qty: "0.5" });
	return out;
}

export function randomQuotes(seed: number, venue: string, symbol: string, startMs: number, minutes: number, scale: number): Q[] {
	const r = rng(seed);
	const out: Q[] = [];
	let mid = 108_000;
	for (let m = 0; m < minutes; m++) {
		const roll = r();
		const n = roll < 0.1 ? 0 : roll < 0.9 ? 1 + Math.floor(r() * 8) : 30 + Math.floor(r() * 60);
		for (let i = 0; i < n; i++) {
			const ms = startMs + m * 60_000 + Math.floor(r() * 60_000);
			const micro = Math.floor(r() * 1000);
			const same = r() < 0.3 ? 2 : 1;
			for (let k = 0; k < same; k++) {
				mid += Math.floor((r() - 0.5) * 6);
				const spread = 1 + Math.floor(r() * 4);
				const f = (v: number) => {
					const s = String(v).padStart(scale + 1, "0");
					return `${s.slice(0, -scale)}.${s.slice(-scale)}`;
				};
				out.push({
					venue,
					symbol,
					time: isoMicro(ms, micro),
					seq: String(k === 0 ? 7 : 3 + i), // seq order differs from insertion order within a timestamp
					bid: f(mid * 10 ** (scale - 5)),
					ask: f((mid + spread) * 10 ** (scale - 5)),
					bidQty: r() < 0.2 ? null : decimal(r, Math.floor(r() * 5_000_000), Math.floor(r() * 4)),
					askQty: r() < 0.2 ? null : decimal(r, Math.floor(r() * 5_000_000), Math.floor(r() * 4)),
				});
			}
		}
	}
	return dedupeQuotes(out);
}

function dedupeQuotes(qs: Q[]): Q[] {
	const seen = new Set<string>();
	return qs.filter((q) => {
		const k = `${q.time}/${q.seq}`;
		if (seen.has(k)) return false;
		seen.add(k);
		return true;
	});
}

type Db = Pool | PoolClient;

/** What the tick-writer does: insert ticks and mark their minutes dirty, in the caller's transaction. */
export async function writeTrades(db: Db, trades: T[]): Promise<void> {
	if (!trades.length) return;
	await db.query(
		`INSERT INTO trades (venue, symbol, time, trade_id, price, qty, side, recv_time)
		 SELECT v, s, t, id, p, q, NULL, t FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::bigint[], $5::numeric[], $6::numeric[]) AS u(v, s, t, id, p, q)`,
		[trades.map((t) => t.venue), trades.map((t) => t.symbol), trades.map((t) => t.time), trades.map((t) => t.tradeId), trades.map((t) => t.price), trades.map((t) => t.qty)],
	);
	await markDirty(db, "trades", trades);
}

export async function writeQuotes(db: Db, quotes: Q[]): Promise<void> {
	if (!quotes.length) return;
	await db.query(
		`INSERT INTO quotes (venue, symbol, time, seq, bid, ask, bid_qty, ask_qty, recv_time)
		 SELECT v, s, t, sq, b, a, bq, aq, t FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::bigint[], $5::numeric[], $6::numeric[], $7::numeric[], $8::numeric[]) AS u(v, s, t, sq, b, a, bq, aq)`,
		[
			quotes.map((q) => q.venue),
			quotes.map((q) => q.symbol),
			quotes.map((q) => q.time),
			quotes.map((q) => q.seq),
			quotes.map((q) => q.bid),
			quotes.map((q) => q.ask),
			quotes.map((q) => q.bidQty),
			quotes.map((q) => q.askQty),
		],
	);
	await markDirty(db, "quotes", quotes);
}

/** Marks computed in SQL from the tick times (µs precision), sorted, with the cascade's recommended statement. */
export async function markDirty(db: Db, source: "trades" | "quotes", ticks: { venue: string; symbol: string; time: string }[]): Promise<void> {
	const r = await db.query<{ v: string; s: string; b: Date }>(
		`SELECT DISTINCT v, s, date_bin('1 minute', t, timestamptz '1970-01-01 00:00:00+00') AS b FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS u(v, s, t) ORDER BY 1, 2, 3`,
		[ticks.map((t) => t.venue), ticks.map((t) => t.symbol), ticks.map((t) => t.time)],
	);
	await db.query(MARK_DIRTY_SQL, [r.rows.map((x) => x.v), r.rows.map((x) => x.s), r.rows.map(() => source), r.rows.map((x) => x.b.toISOString())]);
}

export interface Row {
	venue: string;
	symbol: string;
	b: string; // bucket start, epoch seconds
	open: string;
	high: string;
	low: string;
	close: string;
	volume: string;
	trades: string;
}

/** Candles of one level computed straight from the ticks (floor of the epoch, or date_trunc for days and weeks; first/last by ordered array_agg). */
export async function directCandles(db: Db, tf: Timeframe, price: PriceType): Promise<Row[]> {
	const s = TIMEFRAME_MS[tf] / 1000;
	// Days and ISO weeks through date_trunc on the UTC wall clock, independent of the cascade's date_bin origins.
	const bucket =
		tf === "1d" || tf === "1w"
			? `extract(epoch FROM date_trunc('${tf === "1d" ? "day" : "week"}', time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')::bigint`
			: `(floor(extract(epoch FROM time) / ${s}) * ${s})::bigint`;
	if (price === "trade") {
		return (
			await db.query<Row>(`SELECT venue, symbol, b::text AS b,
				(array_agg(price ORDER BY time, trade_id))[1]::text AS open, max(price)::text AS high, min(price)::text AS low,
				(array_agg(price ORDER BY time DESC, trade_id DESC))[1]::text AS close, sum(qty)::text AS volume, count(*)::text AS trades
			FROM (SELECT *, ${bucket} AS b FROM trades) x GROUP BY venue, symbol, b ORDER BY venue, symbol, b`)
		).rows;
	}
	const p = price === "mid" ? "(bid + ask) * 0.5" : price;
	const v = price === "mid" ? "(coalesce(bid_qty, 0) + coalesce(ask_qty, 0))" : `coalesce(${price}_qty, 0)`;
	const vol = price === "mid" ? `sum(${v}) * 0.5` : `sum(${v})`;
	return (
		await db.query<Row>(`SELECT venue, symbol, b::text AS b,
			(array_agg(${p} ORDER BY time, seq))[1]::text AS open, max(${p})::text AS high, min(${p})::text AS low,
			(array_agg(${p} ORDER BY time DESC, seq DESC))[1]::text AS close, (${vol})::text AS volume, count(*)::text AS trades
		FROM (SELECT *, ${bucket} AS b FROM quotes) x GROUP BY venue, symbol, b ORDER BY venue, symbol, b`)
	).rows;
}

export async function storedCandles(db: Db, tf: Timeframe, price: PriceType): Promise<Row[]> {
	return (
		await db.query<Row>(
			`SELECT venue, symbol, extract(epoch FROM bucket)::bigint::text AS b, open::text, high::text, low::text, close::text, volume::text, trades::text
			 FROM ${CANDLE_TABLE[tf]} WHERE price_type = $1 ORDER BY venue, symbol, bucket`,
			[price],
		)
	).rows;
}

/** key -> updated_at (µs text) of every row of a level. */
export async function updatedAt(db: Db, tf: Timeframe): Promise<Map<string, string>> {
	const r = await db.query<{ k: string; u: string }>(
		`SELECT venue || '/' || symbol || '/' || price_type || '/' || extract(epoch FROM bucket)::bigint AS k, updated_at::text AS u FROM ${CANDLE_TABLE[tf]}`,
	);
	return new Map(r.rows.map((x) => [x.k, x.u]));
}

/** The query specs' session: BTC trades and EUR quotes from QUERY_START, none after QUERY_NOW, no BTC trade in QUERY_GAP. */
export const QUERY_START = Date.parse("2024-01-15T09:00:00Z");
export const QUERY_NOW = new Date("2024-01-15T13:37:30Z"); // inside the data: the open bucket of every level has ticks
export const QUERY_GAP = [Date.parse("2024-01-15T10:40:00Z"), Date.parse("2024-01-15T11:20:00Z")];

/** Write the query specs' session: kraken BTC-USD-SPOT trades and dukascopy EUR-USD-SPOT quotes from these seeds. */
export async function seedQueryTicks(db: Db, tradeSeed: number, quoteSeed: number): Promise<void> {
	const trades = randomTrades(tradeSeed, "kraken", "BTC-USD-SPOT", QUERY_START, 280, 2).filter((t) => {
		const ms = Date.parse(t.time);
		return (ms < QUERY_GAP[0] || ms >= QUERY_GAP[1]) && ms < QUERY_NOW.getTime();
	});
	await writeTrades(db, trades);
	await writeQuotes(db, randomQuotes(quoteSeed, "dukascopy", "EUR-USD-SPOT", QUERY_START, 280, 5).filter((x) => Date.parse(x.time) < QUERY_NOW.getTime()));
}

/** Cascade cycles until nothing is dirty; the dirty minutes claimed in all. */
export async function cascadeAll(pool: Pool, holder: string): Promise<number> {
	let n = 0;
	for (;;) {
		const r = await runCascadeCycle(pool, { fenceToken: 1, holder });
		if (!r.claimed) return n;
		n += r.claimed;
	}
}
