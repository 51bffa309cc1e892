/**
 * What a history run can fail with that is not transient. `code` says which (for the API's status code and the
 * CLI's message); everything transient has already been retried by lib/net/http before one of these is thrown.
 */
export type HistoryErrorCode = "UNKNOWN_SYMBOL" | "BAD_PARAMETER" | "BUSY" | "BANNED" | "VENUE_ERROR";

export class HistoryError extends Error {
	constructor(
		readonly code: HistoryErrorCode,
		message: string,
		readonly param?: string,
		options?: { cause?: unknown },
	) {
		super(message, options);
		this.name = "HistoryError";
	}
}
