/**
 * OANDA v20 wire types (developer.oanda.com/rest-live-v20/pricing-df, instrument-df). Lines are read with
 * parseExact, so a JSON number (liquidity "10000000.0", volume) arrives as its source text.
 */
export type Num = string;

export interface PriceBucket {
	price: string;
	liquidity: Num;
}

/** A `PRICE` line of the pricing stream (and an entry of GET /pricing). */
export interface ClientPrice {
	type: "PRICE";
	instrument: string; // "EUR_USD"
	time: string; // RFC 3339 with nanoseconds: "2016-10-27T08:38:43.094548890Z"
	status?: string; // "tradeable" | "non-tradeable" | "invalid" (deprecated in favour of `tradeable`)
	tradeable?: boolean;
	bids: PriceBucket[];
	asks: PriceBucket[];
	closeoutBid?: string;
	closeoutAsk?: string;
}

/** A `HEARTBEAT` line: about every 5 s while nothing else is sent. */
export interface PricingHeartbeat {
	type: "HEARTBEAT";
	time: string;
	lastTransactionID?: string;
}

export interface CandlestickData {
	o: string;
	h: string;
	l: string;
	c: string;
}

export interface Candlestick {
	time: string;
	bid?: CandlestickData;
	ask?: CandlestickData;
	mid?: CandlestickData;
	volume: Num;
	complete: boolean;
}

/** GET /v3/instruments/{instrument}/candles */
export interface CandlesResponse {
	instrument: string;
	granularity: string;
	candles: Candlestick[];
}
