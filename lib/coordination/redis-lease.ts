/**
 * Leader election on a Redis lease (single Redis; not Redlock). Acquisition is one Lua script: if the lease
 * key is free, INCR the fence counter and SET the key to `holder#token` with PX ttl, so every leadership gets a
 * strictly larger token. The leader renews every ttl/3 with a compare-and-pexpire and releases with a
 * compare-and-del. It stops acting as leader before the lease can have expired in Redis: the lease counts as
 * lost at lastSuccessfulRenewStart + ttl - safetyMargin (the renewal was sent after that start, so Redis's
 * expiry is later), or at once when a renewal fails or finds the key gone or someone else's.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import Redis from "ioredis";
import { createRedisClient, type RedisProblem } from "./redis-client";
import type { Logger } from "../store/pool";
import { LeaderElectorBase, toToken, type LeaderElector } from "./lease";

export interface RedisLeaseOptions {
	/** A connected ioredis client (left open on stop) or a redis:// or rediss:// URL (a client of our own, closed on stop). */
	redis: Redis | string;
	/** For a rediss:// URL: PEM file of the certificate authority (default: the system's). */
	tlsCaFile?: string;
	/** The lease key; the fence counter lives at `${key}:fence` (use a {hash tag} in the key on Redis Cluster). */
	key: string;
	/** Lease time to live, default 10,000 ms. */
	ttlMs?: number;
	/** Unique per instance; default host-pid-random. */
	holderId?: string;
	/** Renewal period, default ttl/3. */
	renewEveryMs?: number;
	/** How often a follower tries to acquire, default ttl/3. */
	retryEveryMs?: number;
	/** Stop leading this long before the lease could expire, default ttl/5 (clock rates, timer delays). */
	safetyMarginMs?: number;
	/**
	 * The newest token the protected resource has accepted (e.g. the database's leader_fence row), read before
	 * each acquisition: a new token is always above it, so a Redis that lost its counter (restart without
	 * persistence, FLUSHALL, failover) cannot hand out a token that was used before.
	 */
	tokenFloor?: () => Promise<bigint | number | string>;
	logger?: Logger;
}

// KEYS[1] lease, KEYS[2] fence counter; ARGV[1] holder, ARGV[2] ttl ms, ARGV[3] floor. Returns the token (above
// the floor), or nil if held. Tokens stay below 2^53, where Lua's numbers are exact.
const ACQUIRE = `if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local t = redis.call('INCR', KEYS[2])
if t <= tonumber(ARGV[3]) then
  t = tonumber(ARGV[3]) + 1
  redis.call('SET', KEYS[2], t)
end
redis.call('SET', KEYS[1], ARGV[1] .. '#' .. t, 'NX', 'PX', ARGV[2])
return t`;
// KEYS[1] lease; ARGV[1] our value, ARGV[2] ttl ms. 1 when renewed, 0 when the key is gone or not ours.
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;
// KEYS[1] fence counter; ARGV[1] minimum. Raises the counter to at least ARGV[1]; returns the counter.
const ADVANCE = `local cur = redis.call('GET', KEYS[1])
if cur == false or tonumber(cur) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return redis.call('GET', KEYS[1])`;

interface Leadership {
	token: bigint;
	value: string;
	validUntil: number;
}

class DeadlineError extends Error {}

export class RedisLease extends LeaderElectorBase implements LeaderElector {
	readonly holderId: string;
	readonly key: string;
	readonly fenceKey: string;
	readonly ttlMs: number;
	private readonly renewEveryMs: number;
	private readonly retryEveryMs: number;
	private readonly marginMs: number;
	private readonly redis: Redis;
	private readonly ownClient: boolean;
	private readonly redisProblem: () => RedisProblem | null;
	private readonly tokenFloor: (() => Promise<bigint | number | string>) | undefined;
	private running = false;
	private closed = false;
	private lead: Leadership | null = null;
	private loopTimer: NodeJS.Timeout | null = null;
	private expiryTimer: NodeJS.Timeout | null = null;
	private busy: Promise<void> | null = null;
	private releasing: Promise<void> | null = null;

	constructor(opts: RedisLeaseOptions) {
		super(opts.logger);
		this.ttlMs = opts.ttlMs ?? 10_000;
		this.renewEveryMs = opts.renewEveryMs ?? Math.floor(this.ttlMs / 3);
		this.retryEveryMs = opts.retryEveryMs ?? Math.floor(this.ttlMs / 3);
		this.marginMs = opts.safetyMarginMs ?? Math.floor(this.ttlMs / 5);
		if (!(this.ttlMs >= 30)) throw new RangeError(`ttlMs must be at least 30 (got ${this.ttlMs})`);
		if (!(this.renewEveryMs > 0 && this.renewEveryMs < this.ttlMs - this.marginMs)) {
			throw new RangeError(`renewEveryMs (${this.renewEveryMs}) must be below ttlMs - safetyMarginMs (${this.ttlMs - this.marginMs})`);
		}
		if (!(this.retryEveryMs > 0)) throw new RangeError("retryEveryMs must be positive");
		this.tokenFloor = opts.tokenFloor;
		this.key = opts.key;
		this.fenceKey = `${opts.key}:fence`;
		this.holderId = opts.holderId ?? `${hostname()}-${process.pid}-${randomBytes(4).toString("hex")}`;
		if (typeof opts.redis === "string") {
			// Fail fast rather than queue while disconnected: a late renewal is worth nothing.
			const watched = createRedisClient(opts.redis, {
				what: `lease ${opts.key}`,
				tlsCaFile: opts.tlsCaFile,
				logger: this.logger,
				ioredis: { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: this.ttlMs, retryStrategy: (n) => Math.min(50 * n, 1000) },
			});
			this.redis = watched.client;
			this.redisProblem = watched.problem;
			this.ownClient = true;
		} else {
			this.redis = opts.redis;
			this.redisProblem = () => (this.redis.status === "ready" ? null : "unreachable");
			this.ownClient = false;
		}
	}

	async start(): Promise<void> {
		if (this.closed) throw new Error(`lease ${this.key} was stopped; make a new one`);
		if (this.running) return;
		this.running = true;
		if (this.ownClient && this.redis.status !== "ready") await this.readyOrTimeout(Math.min(this.ttlMs, 3000));
		await this.runStep();
	}

	async stop(): Promise<void> {
		if (this.closed) return;
		this.closed = true;
		this.running = false;
		if (this.loopTimer) clearTimeout(this.loopTimer);
		this.loopTimer = null;
		await this.busy;
		this.revoke("stopped");
		await this.releasing;
		if (this.ownClient) {
			// QUIT waits for an answer a hung connection never gives: bound it, then drop the socket.
			await this.within(this.redis.quit(), Math.min(1000, this.ttlMs), "quit").catch(() => undefined);
			this.redis.disconnect();
		}
	}

	isLeader(): boolean {
		return this.lead !== null && Date.now() < this.lead.validUntil;
	}

	token(): bigint | null {
		return this.isLeader() ? this.lead!.token : null;
	}

	problem(): string | null {
		const p = this.redisProblem();
		return p ? `redis-${p}` : null;
	}

	async resign(minToken?: bigint | null): Promise<void> {
		if (minToken !== undefined && minToken !== null) {
			await this.advanceFence(minToken).catch((err) => this.logger?.warn(`lease ${this.key}: could not advance the fence: ${(err as Error).message}`));
		}
		this.revoke("resigned");
		await this.releasing;
	}

	/** Raise the Redis fence counter to at least minToken (e.g. Redis lost it), so the next token is larger. */
	async advanceFence(minToken: bigint | number | string): Promise<bigint> {
		const v = await this.within(this.redis.eval(ADVANCE, 1, this.fenceKey, toToken(minToken).toString()), this.ttlMs, "advanceFence");
		return toToken(v as string);
	}

	private readyOrTimeout(ms: number): Promise<void> {
		return new Promise((resolve) => {
			const done = () => {
				clearTimeout(t);
				this.redis.off("ready", done);
				resolve();
			};
			const t = setTimeout(done, ms);
			this.redis.once("ready", done);
		});
	}

	private runStep(): Promise<void> {
		const p = this.step().finally(() => {
			if (this.busy === p) this.busy = null;
			this.schedule();
		});
		this.busy = p;
		return p;
	}

	private schedule(): void {
		if (!this.running) return;
		if (this.loopTimer) clearTimeout(this.loopTimer);
		this.loopTimer = setTimeout(() => {
			// One step at a time; a step in flight schedules the next one when it ends.
			if (!this.busy) void this.runStep();
		}, this.lead ? this.renewEveryMs : this.retryEveryMs);
	}

	private async step(): Promise<void> {
		try {
			if (this.lead) await this.renew();
			else if (this.running) await this.tryAcquire();
		} catch (err) {
			this.logger?.warn(`lease ${this.key}: ${(err as Error).message}`);
		}
	}

	/** A command that must answer within ms; afterwards its answer is worthless to us. */
	private async within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
		let timer: NodeJS.Timeout | undefined;
		const deadline = new Promise<never>((_, reject) => {
			timer = setTimeout(() => reject(new DeadlineError(`${what} got no answer within ${Math.max(0, ms)} ms`)), Math.max(0, ms));
		});
		try {
			return await Promise.race([p, deadline]);
		} finally {
			clearTimeout(timer);
			p.catch(() => undefined); // a late rejection after the deadline is expected
		}
	}

	private async tryAcquire(): Promise<void> {
		let floor = 0n;
		if (this.tokenFloor) {
			try {
				floor = toToken(await this.tokenFloor());
			} catch (err) {
				// Without the floor a token could repeat one already used: do not compete this round.
				this.logger?.warn(`lease ${this.key}: cannot read the token floor, not competing: ${(err as Error).message}`);
				return;
			}
		}
		const t0 = Date.now();
		const validFor = this.ttlMs - this.marginMs;
		let res: unknown;
		try {
			res = await this.within(this.redis.eval(ACQUIRE, 2, this.key, this.fenceKey, this.holderId, this.ttlMs, floor.toString()), validFor, "acquire");
		} catch (err) {
			this.logger?.debug?.(`lease ${this.key}: acquire failed: ${(err as Error).message}`);
			return;
		}
		if (res === null || res === undefined) return;
		const token = toToken(res as number | string);
		const lead: Leadership = { token, value: `${this.holderId}#${token}`, validUntil: t0 + validFor };
		if (!this.running || Date.now() >= lead.validUntil) {
			// Stopped meanwhile, or the answer came too late to lead on: hand the key back.
			this.releasing = this.release(lead.value);
			return;
		}
		this.lead = lead;
		this.armExpiry(lead);
		this.logger?.info(`lease ${this.key}: ${this.holderId} is the leader with token ${token}`);
		this.announce("elected", token);
	}

	private async renew(): Promise<void> {
		const lead = this.lead;
		if (!lead) return;
		const t0 = Date.now();
		if (t0 >= lead.validUntil) return this.revoke("lease expired before it could be renewed");
		let res: unknown;
		try {
			res = await this.within(this.redis.eval(RENEW, 1, this.key, lead.value, this.ttlMs), lead.validUntil - t0, "renewal");
		} catch (err) {
			if (this.lead === lead) this.revoke(`renewal failed: ${(err as Error).message}`);
			return;
		}
		if (this.lead !== lead) return; // revoked while we waited
		if (Number(res) !== 1) return this.revoke("lease lost: the key is gone or held by another instance");
		lead.validUntil = t0 + this.ttlMs - this.marginMs;
		this.armExpiry(lead);
	}

	private armExpiry(lead: Leadership): void {
		if (this.expiryTimer) clearTimeout(this.expiryTimer);
		this.expiryTimer = setTimeout(() => {
			if (this.lead !== lead) return;
			if (Date.now() >= lead.validUntil) this.revoke("lease not renewed in time");
			else this.armExpiry(lead);
		}, Math.max(0, lead.validUntil - Date.now()));
	}

	private revoke(reason: string): void {
		const lead = this.lead;
		if (!lead) return;
		this.lead = null;
		if (this.expiryTimer) clearTimeout(this.expiryTimer);
		this.expiryTimer = null;
		this.logger?.warn(`lease ${this.key}: ${this.holderId} is no longer the leader (token ${lead.token}): ${reason}`);
		this.announce("revoked", reason);
		// Hand the key back if it is still ours, so a successor need not wait for the ttl.
		this.releasing = this.release(lead.value);
		if (this.running) this.schedule();
	}

	private async release(value: string): Promise<void> {
		try {
			await this.within(this.redis.eval(RELEASE, 1, this.key, value), this.ttlMs, "release");
		} catch (err) {
			this.logger?.debug?.(`lease ${this.key}: release failed (the key expires by itself): ${(err as Error).message}`);
		}
	}
}
