/**
 * Kraken Spot WebSocket v2 wire types (docs.kraken.com/api/docs/websocket-v2). Frames are read with
 * parseExact, so every JSON number arrives here as its source text: `Num` is that text.
 */
export type Num = string;

export type WsChannel = "trade" | "ticker" | "book" | "instrument";

export interface WsLevel {
	price: Num;
	qty: Num;
}

export interface WsBook {
	symbol: string;
	bids: WsLevel[];
	asks: WsLevel[];
	checksum: Num;
	timestamp?: string; // updates only
}

export interface WsTrade {
	symbol: string;
	side: "buy" | "sell";
	price: Num;
	qty: Num;
	ord_type?: string;
	trade_id: Num;
	timestamp: string;
}

export interface WsTicker {
	symbol: string;
	bid: Num;
	bid_qty: Num;
	ask: Num;
	ask_qty: Num;
	last?: Num;
	volume?: Num;
	vwap?: Num;
	low?: Num;
	high?: Num;
	change?: Num;
	change_pct?: Num;
	timestamp?: string;
}

export interface WsPair {
	symbol: string;
	base?: string;
	quote?: string;
	status?: string;
	price_precision: Num;
	qty_precision: Num;
	price_increment?: Num;
	qty_increment?: Num;
}

export interface WsInstrument {
	assets?: unknown[];
	pairs: WsPair[];
}

export interface WsStatus {
	system: string; // online | maintenance | cancel_only | post_only
	api_version?: string;
	connection_id?: Num;
	version?: string;
}

/** `{"channel": …, "type": "snapshot" | "update", "data": […]}` */
export interface WsDataFrame<T> {
	channel: string;
	type: "snapshot" | "update";
	data: T;
}

/** Reply to subscribe / unsubscribe / ping. */
export interface WsMethodReply {
	method: string;
	success?: boolean;
	error?: string;
	result?: { channel?: string; symbol?: string; depth?: Num; snapshot?: boolean; event_trigger?: string; warnings?: string[] };
	symbol?: string;
	req_id?: Num;
	time_in?: string;
	time_out?: string;
}

/** Request parameters for subscribe / unsubscribe. */
export interface SubscribeParams {
	channel: WsChannel;
	symbol?: string[];
	depth?: number;
	snapshot?: boolean;
	event_trigger?: "bbo" | "trades";
}

export interface WsRequest {
	method: "subscribe" | "unsubscribe" | "ping";
	params?: SubscribeParams;
	req_id: number;
}
