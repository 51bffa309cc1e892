import { ParamError, parseTime } from "../api/params";
import { DUKASCOPY_INSTRUMENTS, findInstrument, type DukascopyInstrument } from "./dukascopy/instruments";
import { JobRangeError, jobHours, SOURCE } from "./jobs";

type Params = Record<string, unknown>;

export interface BackfillRequest {
	inst: DukascopyInstrument;
	from: number;
	to: number;
	/** The hours of [from, to) that the source can have published by now. */
	hours: number[];
}

/** `{source: "dukascopy", instrument, from, to}` checked: every problem is a ParamError naming the parameter. */
export function parseBackfillRequest(p: Params, now = Date.now()): BackfillRequest {
	const source = p.source ?? SOURCE;
	if (source !== SOURCE) throw new ParamError("source", `source ${JSON.stringify(source)} is not supported by this service (use "${SOURCE}")`);
	if (typeof p.instrument !== "string" || p.instrument === "") throw new ParamError("instrument", "instrument is required, e.g. EURUSD");
	const inst = findInstrument(p.instrument);
	if (!inst) throw new UnknownInstrumentParam(p.instrument);
	const from = parseTime(p, "from");
	if (!from) throw new ParamError("from", "from is required (ISO-8601 date or date-time, or epoch ms)");
	const to = parseTime(p, "to");
	if (!to) throw new ParamError("to", "to is required (ISO-8601 date or date-time, or epoch ms)");
	try {
		return { inst, from: from.getTime(), to: to.getTime(), hours: jobHours(inst, from.getTime(), to.getTime(), now) };
	} catch (err) {
		if (err instanceof JobRangeError) throw new ParamError(err.param, err.message);
		throw err;
	}
}

export class UnknownInstrumentParam extends ParamError {
	constructor(name: string) {
		super("instrument", `unknown Dukascopy instrument ${JSON.stringify(name)} (known: ${[...DUKASCOPY_INSTRUMENTS.keys()].join(", ")})`, "UNKNOWN_INSTRUMENT");
	}
}
