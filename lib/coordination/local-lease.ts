/**
 * In-process leadership for a single instance (embedded mode, no Redis): always the leader once started. The
 * token comes from the caller (e.g. the database's leader_fence token + 1) so restarts keep increasing it.
 */
import { hostname } from "node:os";
import type { Logger } from "../store/pool";
import { LeaderElectorBase, toToken, type LeaderElector } from "./lease";

export interface LocalLeaseOptions {
	nextToken: () => Promise<bigint | number | string> | bigint | number | string;
	holderId?: string;
	logger?: Logger;
}

export class LocalLease extends LeaderElectorBase implements LeaderElector {
	readonly holderId: string;
	private running = false;
	private current: bigint | null = null;

	constructor(private readonly opts: LocalLeaseOptions) {
		super(opts.logger);
		this.holderId = opts.holderId ?? `${hostname()}-${process.pid}`;
	}

	async start(): Promise<void> {
		if (this.running) return;
		this.running = true;
		await this.elect(null);
	}

	async stop(): Promise<void> {
		this.running = false;
		this.revoke("stopped");
	}

	isLeader(): boolean {
		return this.current !== null;
	}

	token(): bigint | null {
		return this.current;
	}

	problem(): string | null {
		return null;
	}

	async resign(minToken?: bigint | null): Promise<void> {
		this.revoke("resigned");
		if (this.running) await this.elect(minToken ?? null);
	}

	private async elect(minToken: bigint | null): Promise<void> {
		let token = toToken(await this.opts.nextToken());
		if (minToken !== null && token <= minToken) token = minToken + 1n;
		if (!this.running) return;
		this.current = token;
		this.announce("elected", token);
	}

	private revoke(reason: string): void {
		if (this.current === null) return;
		this.current = null;
		this.announce("revoked", reason);
	}
}
