/**
 * Opening one /api/stream/<kind> connection: check the client limit, start the SSE response, register the
 * client with the hub, then send the current state (the candles of the latest buckets, or the ticks since the
 * client's Last-Event-ID) so a reconnect resumes where it stopped.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { floorBucket, nextBucket } from "../candles/buckets";
import { TIMEFRAME_MS } from "../domain/timeframes";
import { LiveHub, TooManyClientsError, tickEventId, type LiveLoaders, type StreamKey } from "./hub";
import { SseClient, type SseOptions } from "./sse";

/** Buckets of candles sent on connect: the open one and the one before (it may have closed while away). */
const INITIAL_BUCKETS = 2;
/** Most ticks replayed to a reconnecting client. */
const MAX_RESUME_TICKS = 1000;

export async function openStream(
	hub: LiveHub,
	loaders: LiveLoaders,
	key: StreamKey,
	resumeFrom: Date | null,
	req: IncomingMessage,
	res: ServerResponse,
	sse: SseOptions,
	now = Date.now(),
): Promise<SseClient> {
	// Refused before the 200 goes out, so the gateway can still answer 503.
	if (!hub.hasRoom()) throw new TooManyClientsError("no room for another live client (limit reached, or the server is stopping)");
	const client = new SseClient(req, res, sse);
	try {
		hub.add(key, client);
	} catch (err) {
		client.close();
		throw err;
	}
	client.send("hello", { stream: key.kind, venue: key.venue, symbol: key.symbol, timeframe: key.timeframe ?? null, price: key.price ?? null, serverTime: new Date(now).toISOString() });
	if (key.kind === "candles") {
		const tf = key.timeframe!;
		const from = floorBucket(now, tf) - (INITIAL_BUCKETS - 1) * TIMEFRAME_MS[tf];
		for (const c of await loaders.candles(key as Required<StreamKey>, from, nextBucket(now, tf))) client.send("candle", c, c.time);
	} else if (resumeFrom) {
		const items = await loaders.ticks(key.kind, key.venue, key.symbol, resumeFrom.getTime(), now + 1, MAX_RESUME_TICKS);
		for (const t of items) client.send(key.kind === "trades" ? "trade" : "quote", t, tickEventId(t));
	}
	return client;
}

