/**
 * Leader election. One active instance of a singleton worker (the cascade refresher) holds a lease; each
 * leadership comes with a fencing token that only ever increases, which the protected resource (the database's
 * leader_fence row) checks, so a deposed leader that has not noticed yet cannot overwrite a newer one's work.
 */
import { EventEmitter } from "node:events";
import type { Logger } from "../store/pool";

export interface LeaderEvents {
	/** This instance became the leader with this fencing token. */
	elected: [token: bigint];
	/** This instance stopped being the leader (stopped, resigned, lease lost or expired, Redis unreachable). */
	revoked: [reason: string];
}

export interface LeaderElector {
	readonly holderId: string;
	/** Begin the acquire/renew loop; resolves after the first acquisition attempt. */
	start(): Promise<void>;
	/** Stop the loop and give the lease up (revoked is emitted if this instance was the leader). */
	stop(): Promise<void>;
	/** True only while the lease is held and cannot have expired yet; check it before every act of leadership. */
	isLeader(): boolean;
	/** The fencing token of the current leadership, null when not the leader. */
	token(): bigint | null;
	/** Why this instance cannot compete for leadership now ("redis-auth-failed", "redis-unreachable"), or null. */
	problem(): string | null;
	/**
	 * Give leadership up now and compete again, e.g. after being fenced out. `minToken`: the newest token the
	 * protected resource has seen, so that the next leadership gets a larger one.
	 */
	resign(minToken?: bigint | null): Promise<void>;
	on<K extends keyof LeaderEvents>(event: K, listener: (...args: LeaderEvents[K]) => void): this;
	once<K extends keyof LeaderEvents>(event: K, listener: (...args: LeaderEvents[K]) => void): this;
	off<K extends keyof LeaderEvents>(event: K, listener: (...args: LeaderEvents[K]) => void): this;
}

/** Shared event plumbing: a throwing listener must not break the lease loop. */
export abstract class LeaderElectorBase extends EventEmitter<LeaderEvents> {
	protected constructor(protected readonly logger?: Logger) {
		super();
	}

	protected announce<K extends keyof LeaderEvents>(event: K, ...args: LeaderEvents[K]): void {
		try {
			(this.emit as (e: K, ...a: LeaderEvents[K]) => boolean)(event, ...args);
		} catch (err) {
			this.logger?.error(`lease: a '${event}' listener threw`, (err as Error).message);
		}
	}
}

export function toToken(v: bigint | number | string): bigint {
	if (typeof v === "bigint") return v;
	const s = String(v);
	if (!/^\d+$/.test(s)) throw new RangeError(`not a fencing token: ${s}`);
	return BigInt(s);
}
