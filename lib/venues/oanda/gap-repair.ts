import type { Pool } from "pg";
import { fillRepairedMinutes, storeRepairCandles, type VenueBidAskCandle } from "../../candles/repair";
import type { GapLedger } from "../../feed/gap-ledger";
import { RepairQueue } from "../../feed/repair-queue";
import type { OandaRest } from "./rest";
import { VENUE } from "./parse";
import type { OandaGap } from "./stream";

/**
 * Repair of an OANDA outage: OANDA keeps no ticks to fetch again, so what the stream missed comes back as S5
 * bid/ask candles, stored and turned into the gap's 1m candles (lib/candles/repair), and the feed_gaps row is
 * marked repaired by "oanda-s5-candles" with what was recovered.
 */

export interface OandaRepairOptions {
	rest: Pick<OandaRest, "s5Candles">;
	pool: Pool;
	ledger: GapLedger | null;
	logger: { info(...a: unknown[]): void; warn(...a: unknown[]): void };
	onRepaired?(gap: OandaGap, r: { candles: number; minutes: number }): void;
	onFailed?(gap: OandaGap, err: Error): void;
	baseDelayMs?: number;
}

export function oandaGapRepairer(o: OandaRepairOptions): RepairQueue<OandaGap> {
	const queue: RepairQueue<OandaGap> = new RepairQueue<OandaGap>({
		describe: (g) => `OANDA gap ${g.ledgerId ?? "-"} (${g.instrument})`,
		logger: o.logger,
		baseDelayMs: o.baseDelayMs,
		onFailed: o.onFailed,
		run: async (g) => {
			const fetched = await o.rest.s5Candles(g.instrument, g.fromMs, g.toMs);
			if (queue.isStopped) return;
			const candles: VenueBidAskCandle[] = fetched.filter((c) => c.bid && c.ask).map((c) => ({ time: c.time, bid: c.bid!, ask: c.ask!, volume: c.volume }));
			const target = { venue: VENUE, symbol: g.symbol, granularity: "S5", gapId: g.ledgerId };
			await storeRepairCandles(o.pool, target, candles);
			const minutes = await fillRepairedMinutes(o.pool, target, new Date(g.fromMs).toISOString(), new Date(g.toMs).toISOString());
			if (g.ledgerId) await o.ledger?.repaired(g.ledgerId, "oanda-s5-candles", { candles: candles.length, minutes: minutes.length, kind: "candles, not ticks" });
			o.logger.info(`OANDA gap ${g.ledgerId ?? "-"} (${g.instrument}) repaired from ${candles.length} S5 candle(s): ${minutes.length} 1m bucket(s) filled`);
			o.onRepaired?.(g, { candles: candles.length, minutes: minutes.length });
		},
	});
	return queue;
}
