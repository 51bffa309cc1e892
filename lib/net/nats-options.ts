/**
 * Connection options for NATS, shared by the JetStream market log and the Moleculer NATS transporter, so both
 * authenticate the same way: user/password, token, or a .creds file (JWT + NKey), from the environment or from
 * the URL (nats://user:pass@host, nats://token@host), and TLS with a certificate authority of our own.
 */
import { readFileSync } from "node:fs";
import { credsAuthenticator, type ConnectionOptions } from "nats";

export interface NatsAuth {
	user?: string;
	password?: string;
	token?: string;
	/** Path of a .creds file (decentralised auth: user JWT and NKey seed). */
	credsFile?: string;
	/** PEM file of the certificate authority that signed the server's certificate; turns TLS on. */
	tlsCaFile?: string;
}

/**
 * Split comma-separated URLs into server addresses without credentials and the credentials they carried.
 * Credentials set explicitly (env) win over those in a URL.
 */
export function natsConnectOptions(urls: string | string[], auth: NatsAuth = {}): ConnectionOptions {
	const list = (Array.isArray(urls) ? urls : urls.split(",")).map((u) => u.trim()).filter(Boolean);
	let user = auth.user || undefined;
	let pass = auth.password || undefined;
	let token = auth.token || undefined;
	let tlsScheme = false;
	const servers = list.map((raw) => {
		const u = new URL(raw.includes("://") ? raw : `nats://${raw}`);
		if (u.protocol === "tls:") tlsScheme = true;
		const name = decodeURIComponent(u.username);
		const secret = decodeURIComponent(u.password);
		if (name && secret && !user && !token && !auth.credsFile) {
			user = name;
			pass = secret;
		} else if (name && !secret && !user && !token && !auth.credsFile) {
			token = name;
		}
		return `${u.hostname.includes(":") ? `[${u.hostname}]` : u.hostname}:${u.port || 4222}`;
	});
	const opts: ConnectionOptions = { servers };
	if (auth.credsFile) opts.authenticator = credsAuthenticator(readFileSync(auth.credsFile));
	else if (token) opts.token = token;
	else if (user) {
		opts.user = user;
		opts.pass = pass;
	}
	if (auth.tlsCaFile) opts.tls = { caFile: auth.tlsCaFile };
	else if (tlsScheme) opts.tls = {};
	return opts;
}

/** The server list for log lines: never a password or token. */
export function describeNatsServers(urls: string | string[]): string {
	const list = (Array.isArray(urls) ? urls : urls.split(",")).map((u) => u.trim()).filter(Boolean);
	return list
		.map((raw) => {
			try {
				const u = new URL(raw.includes("://") ? raw : `nats://${raw}`);
				return `${u.protocol}//${u.host}`;
			} catch {
				return "(unparsable NATS URL)";
			}
		})
		.join(",");
}

const AUTH_CODES = new Set(["AUTHORIZATION_VIOLATION", "AUTHENTICATION_EXPIRED", "AUTHENTICATION_TIMEOUT", "ACCOUNT_EXPIRED"]);

/** True for an error the server gave because of our credentials. */
export function isNatsAuthError(err: unknown): boolean {
	const e = err as { code?: string; message?: string };
	return AUTH_CODES.has(e?.code ?? "") || /authorization violation|authentication/i.test(e?.message ?? "");
}

/** A connect error made clear: which servers, and that it is the credentials when it is. */
export function natsConnectError(err: unknown, urls: string | string[], what: string): Error {
	const where = describeNatsServers(urls);
	if (isNatsAuthError(err)) {
		return new Error(`${what}: NATS at ${where} refused our credentials (${(err as Error).message}); check NATS_USER/NATS_PASSWORD, NATS_TOKEN or NATS_CREDS`, { cause: err });
	}
	return new Error(`${what}: cannot connect to NATS at ${where}: ${(err as Error).message}`, { cause: err });
}
