import type { StreamLogger } from "./logger";

/** Logs the first occurrence of a kind of problem, then every `every`th, so a flood cannot drown the log. */
export class FloodGuard {
	private seen = new Map<string, number>();

	constructor(
		private readonly logger: () => StreamLogger,
		private readonly every = 1000,
	) {}

	warn(key: string, msg: string): void {
		const n = (this.seen.get(key) ?? 0) + 1;
		this.seen.set(key, n);
		if (n === 1 || n % this.every === 0) this.logger().warn(n === 1 ? msg : `${msg} (${n} so far)`);
	}
}
