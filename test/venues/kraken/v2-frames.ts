import Decimal from "decimal.js";
import { parseExact } from "../../../lib/venues/kraken/precision";
import { recordedBookFrames } from "./recording";

/**
 * Kraken v2 trade and ticker frames built from the real recorded v2 book session (BTC/USD depth 10,
 * 2023-07-30, fixtures/kraken/ws_v2; PROVENANCE.md). No real v2 trade or ticker capture exists, so
 * these carry only values of that session, in the exact v2 layout of PROTOCOLS.md:
 *  - ticker (event_trigger bbo): after every book message, the best bid/ask and their sizes as
 *    recorded, at the message's timestamp; `last`, `volume`, `vwap`, `low`, `high`, `change`,
 *    `change_pct` are the running figures of the trades below (exact decimals; change can be negative).
 *  - trade: wherever a message shrinks or removes the best level of a side, that much was taken at
 *    that price (best bid shrinking = a sell, best ask = a buy), at the message's timestamp, with
 *    sequential trade ids. The first 50 trades form the snapshot frame (v2 sends the last 50), the rest
 *    one update frame per book message that had trades.
 * Number text is written the way v2 sends JSON numbers (the recording's text: 29430.2, 0.001, 4.0).
 */

interface Level {
	price: string;
	qty: string;
}

const SYMBOL = "BTC/USD";
const FIRST_TRADE_ID = 61_502_340; // Kraken BTC/USD v2 trade ids were in the tens of millions in mid-2023

export interface DerivedFrames {
	trades: string[];
	tickers: string[];
}

let cache: DerivedFrames | null = null;

export function derivedTradeTickerFrames(): DerivedFrames {
	if (cache) return cache;
	const books = recordedBookFrames().map((f) => parseExact(f.replace(/\s+/g, "")) as { type: string; data: { bids: Level[]; asks: Level[]; timestamp?: string }[] });
	const bids = new Map<string, string>();
	const asks = new Map<string, string>();
	const best = (m: Map<string, string>, desc: boolean): Level | null => {
		let b: string | null = null;
		for (const p of m.keys()) if (b === null || (desc ? new Decimal(p).gt(b) : new Decimal(p).lt(b))) b = p;
		return b === null ? null : { price: b, qty: m.get(b)! };
	};
	const trades: { side: string; price: string; qty: string; ordType: string; id: number; ts: string }[] = [];
	const tradeGroups: number[][] = [];
	const tickers: string[] = [];
	let id = FIRST_TRADE_ID;
	let last: string | null = null;
	let volume = new Decimal(0);
	let notional = new Decimal(0);
	let low: string | null = null;
	let high: string | null = null;
	let open: string | null = null;
	const startTs = "2023-07-30T15:29:58.000000Z";
	for (const f of books) {
		const d = f.data[0];
		const ts = d.timestamp ?? startTs;
		const group: number[] = [];
		const apply = (m: Map<string, string>, levels: Level[], desc: boolean, takerSide: string) => {
			for (const l of levels) {
				const top = best(m, desc);
				if (f.type === "update" && top && new Decimal(top.price).eq(l.price) && new Decimal(l.qty).lt(top.qty)) {
					const qty = new Decimal(top.qty).minus(l.qty).toFixed();
					trades.push({ side: takerSide, price: top.price, qty, ordType: trades.length % 3 === 0 ? "limit" : "market", id: id++, ts });
					group.push(trades.length - 1);
				}
				const key = new Decimal(l.price).toFixed();
				if (new Decimal(l.qty).isZero()) m.delete(key);
				else m.set(key, l.qty);
			}
		};
		apply(bids, d.bids, true, "sell");
		apply(asks, d.asks, false, "buy");
		if (group.length) tradeGroups.push(group);
		for (const i of group) {
			const t = trades[i];
			last = t.price;
			open ??= t.price;
			volume = volume.plus(t.qty);
			notional = notional.plus(new Decimal(t.price).times(t.qty));
			if (low === null || new Decimal(t.price).lt(low)) low = t.price;
			if (high === null || new Decimal(t.price).gt(high)) high = t.price;
		}
		const bb = best(bids, true)!;
		const ba = best(asks, false)!;
		const lastP = last ?? bb.price;
		const change = open ? new Decimal(lastP).minus(open) : new Decimal(0);
		const pct = open ? change.div(open).times(100).toDecimalPlaces(2) : new Decimal(0);
		const vwap = volume.isZero() ? lastP : notional.div(volume).toDecimalPlaces(1).toFixed();
		tickers.push(
			`{"channel":"ticker","type":"${tickers.length === 0 ? "snapshot" : "update"}","data":[{"symbol":"${SYMBOL}","bid":${bb.price},"bid_qty":${bb.qty},"ask":${ba.price},"ask_qty":${ba.qty},"last":${lastP},"volume":${volume.toFixed()},"vwap":${vwap},"low":${low ?? lastP},"high":${high ?? lastP},"change":${change.toFixed()},"change_pct":${pct.toFixed()},"timestamp":"${ts}"}]}`,
		);
	}
	const tradeText = (i: number) => {
		const t = trades[i];
		return `{"symbol":"${SYMBOL}","side":"${t.side}","price":${t.price},"qty":${t.qty},"ord_type":"${t.ordType}","trade_id":${t.id},"timestamp":"${t.ts}"}`;
	};
	const frames: string[] = [];
	const snap = Math.min(50, trades.length);
	frames.push(`{"channel":"trade","type":"snapshot","data":[${Array.from({ length: snap }, (_, i) => tradeText(i)).join(",")}]}`);
	for (const g of tradeGroups) {
		const rest = g.filter((i) => i >= snap);
		if (rest.length) frames.push(`{"channel":"trade","type":"update","data":[${rest.map(tradeText).join(",")}]}`);
	}
	cache = { trades: frames, tickers };
	return cache;
}
