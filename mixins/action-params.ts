/**
 * Moleculer `params` schemas (fastest-validator) shared by the actions: the shape of each parameter,
 * checked the same way for REST, REPL and calls from other nodes. Query-string values arrive as text and
 * JSON bodies as numbers or booleans, so numeric and boolean parameters accept both; ranges, dates and
 * cross-field rules stay in lib/ (lib/api/params.ts and friends), which the validator cannot express.
 */

/** Shorthands for rules; every one is optional unless wrapped in `required`. */
export const Q = {
	name: { type: "string", min: 1, max: 64, optional: true },
	/** Free text whose values the parser checks (and names the allowed ones); `max` only bounds its size. */
	text: (max: number) => ({ type: "string", max, optional: true }),
	/** ISO-8601 date or date-time, or epoch milliseconds (parsed in lib/api/params parseTime). */
	time: [
		{ type: "string", max: 40, optional: true },
		{ type: "number", integer: true, optional: true },
	],
	/** An integer from a query string or a JSON body; its range is checked by the parser. */
	int: [
		{ type: "string", pattern: /^\d{1,12}$/, optional: true },
		{ type: "number", integer: true, optional: true },
	],
	bool: [
		{ type: "boolean", optional: true },
		{ type: "string", enum: ["true", "false"], optional: true },
	],
	/** A database id: a positive integer as text or number. */
	id: [
		{ type: "string", pattern: /^\d{1,18}$/ },
		{ type: "number", integer: true, positive: true },
	],
} as const;

/** The same rule made mandatory. */
export function required<T extends object>(rule: T): T {
	return (Array.isArray(rule) ? rule.map((r) => ({ ...r, optional: false })) : { ...rule, optional: false }) as T;
}

/** Parameters of the time-range reads (candles, trades, quotes, klines). */
export const READ_PARAMS = {
	venue: required(Q.name),
	symbol: required(Q.name),
	from: Q.time,
	to: Q.time,
};

/**
 * fastest-validator's messages, reworded to start with the parameter's name as lib/api/params does
 * ("from is required"), and never quoting the value sent (it may be large or hostile).
 */
export const VALIDATOR_MESSAGES: Record<string, string> = {
	required: "{field} is required",
	string: "{field} must be a string, given once",
	stringEmpty: "{field} must not be empty",
	stringMin: "{field} must be at least {expected} characters long",
	stringMax: "{field} must be at most {expected} characters long",
	stringPattern: "{field} is not in the expected format",
	stringEnum: "{field} must be one of {expected}",
	number: "{field} must be a number",
	numberInteger: "{field} must be an integer",
	numberPositive: "{field} must be a positive number",
	boolean: "{field} must be true or false",
	array: "{field} must be a list",
	arrayEmpty: "{field} must not be empty",
	arrayMin: "{field} must hold at least {expected} items",
	arrayMax: "{field} must hold at most {expected} items",
	object: "{field} must be an object",
	numberMin: "{field} must be at least {expected}",
	numberMax: "{field} must be at most {expected}",
	numberEqual: "{field} must be {expected}",
	enumValue: "{field} must be one of {expected}",
	date: "{field} must be a date",
	dateMin: "{field} must be on or after {expected}",
	dateMax: "{field} must be on or before {expected}",
	equalValue: "{field} must be {expected}",
	multi: "{field} has the wrong type",
};
