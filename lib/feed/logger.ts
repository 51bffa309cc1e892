/** What a feed's stream logs through: the Moleculer service logger, or a test's stand-in. */
export interface StreamLogger {
	debug?(...a: unknown[]): void;
	info(...a: unknown[]): void;
	warn(...a: unknown[]): void;
	error(...a: unknown[]): void;
}
