import { isTimeframe, TIMEFRAMES } from "../domain/timeframes";
import { enumParam, ParamError, parseTime, PRICE_TYPES, requiredName } from "../api/params";
import type { StreamKey, StreamKind } from "./hub";

type Params = Record<string, unknown>;

/** The subscription a /api/stream/<kind> request asks for; ParamError (a 400) when a parameter is wrong. */
export function parseStreamKey(kind: StreamKind, p: Params): StreamKey {
	const venue = requiredName(p, "venue");
	const symbol = requiredName(p, "symbol");
	if (kind !== "candles") return { kind, venue, symbol };
	const tf = p.timeframe;
	if (tf === undefined) throw new ParamError("timeframe", `timeframe is required: one of ${TIMEFRAMES.join(", ")}`);
	if (!isTimeframe(tf)) throw new ParamError("timeframe", `timeframe=${JSON.stringify(tf)} is not one of ${TIMEFRAMES.join(", ")}`);
	return { kind, venue, symbol, timeframe: tf, price: enumParam(p, "price", PRICE_TYPES, "trade") };
}

/**
 * Where a tick stream resumes: the `Last-Event-ID` header a reconnecting EventSource sends (`<time>/<id>`, see
 * tickEventId) or a `since` parameter; null to start with what arrives next.
 */
export function resumeFrom(p: Params, lastEventId: string | undefined): Date | null {
	if (lastEventId) {
		const t = Date.parse(lastEventId.split("/")[0]);
		if (Number.isFinite(t)) return new Date(t);
	}
	return parseTime(p, "since") ?? null;
}
