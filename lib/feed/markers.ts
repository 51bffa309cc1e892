import type { Marker } from "../domain/types";

/**
 * A marker log message (a disconnect, a reconnect, a gap) as every feed publishes it into its topics, so
 * consumers see the outage in order with the ticks around it.
 */
export function markerPayload(venue: string, symbol: string, type: Marker["type"], time: string, detail: Record<string, unknown> = {}): Buffer {
	return Buffer.from(JSON.stringify({ v: 1, kind: "marker", venue, symbol, items: [{ type, time, detail }] }));
}
