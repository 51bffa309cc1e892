/**
 * Server instances of a test's own, on free ports, to restart, stop and break at will without touching the
 * machine's shared PostgreSQL, NATS and Redis: the fault tests and the chaos suite (npm run chaos) use them.
 * PostgreSQL runs as the `postgres` user (initdb refuses root) with its data in a temp dir owned by it.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { promisify } from "node:util";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Client } from "pg";
import { freePort } from "./net";

/** PG_BIN, else the newest Debian-style install (/usr/lib/postgresql/<major>/bin). */
function pgBin(): string {
	if (process.env.PG_BIN) return process.env.PG_BIN;
	const majors = existsSync("/usr/lib/postgresql") ? readdirSync("/usr/lib/postgresql").filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(b) - Number(a)) : [];
	if (!majors.length) throw new Error("no PostgreSQL server binaries under /usr/lib/postgresql: set PG_BIN");
	return `/usr/lib/postgresql/${majors[0]}/bin`;
}
const NATS_SERVER = process.env.NATS_SERVER_BIN ?? "/usr/sbin/nats-server";
const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? "redis-server";

/** Run a PostgreSQL tool as the postgres user, without blocking this process's event loop. */
async function asPostgres(cmd: string, args: string[]): Promise<void> {
	const root = process.getuid?.() === 0;
	await promisify(execFile)(root ? "runuser" : cmd, root ? ["-u", "postgres", "--", cmd, ...args] : args);
}

async function until(what: string, ok: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!(await ok())) {
		if (Date.now() > deadline) throw new Error(`${what}: not up within ${timeoutMs} ms`);
		await new Promise((r) => setTimeout(r, 100));
	}
}

export interface PgServer {
	port: number;
	/** postgres://postgres@127.0.0.1:port/postgres (trust auth) */
	url: string;
	restart(mode: "fast" | "immediate"): Promise<void>;
	stop(): Promise<void>;
}

export async function startPgServer(): Promise<PgServer> {
	const PG_BIN = pgBin();
	const dir = mkdtempSync(path.join(tmpdir(), "mdp-pg-"));
	chmodSync(dir, 0o755);
	const data = path.join(dir, "data");
	const pgUid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
	const pgGid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
	if (process.getuid?.() === 0) chownSync(dir, pgUid, pgGid);
	const port = await freePort();
	await asPostgres(`${PG_BIN}/initdb`, ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
	const opts = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off -c max_connections=100`;
	const ctl = (...args: string[]) => asPostgres(`${PG_BIN}/pg_ctl`, ["-D", data, "-l", path.join(dir, "log"), "-o", opts, "-w", "-t", "60", ...args]);
	await ctl("start");
	const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
	const ready = async () => {
		const c = new Client({ connectionString: url });
		c.on("error", () => undefined);
		try {
			await c.connect();
			await c.query("SELECT 1");
			return true;
		} catch {
			return false;
		} finally {
			await c.end().catch(() => undefined);
		}
	};
	await until("PostgreSQL", ready);
	return {
		port,
		url,
		async restart(mode) {
			await ctl("restart", "-m", mode);
			await until("PostgreSQL", ready);
		},
		async stop() {
			try {
				await ctl("stop", "-m", "immediate");
			} catch {
				// already down
			}
			rmSync(dir, { recursive: true, force: true });
		},
	};
}

export interface ProcServer {
	port: number;
	url: string;
	/** Stop the process (data kept: a restart finds it again). */
	kill(signal?: NodeJS.Signals): Promise<void>;
	start(): Promise<void>;
	stop(): Promise<void>;
}

function processServer(name: string, cmd: string, args: string[], port: number, url: string, dir: string): ProcServer {
	let proc: ChildProcess | null = null;
	let log = "";
	const server: ProcServer = {
		port,
		url,
		async start() {
			log = "";
			proc = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
			proc.stdout!.on("data", (b: Buffer) => (log = (log + b.toString()).slice(-20_000)));
			proc.stderr!.on("data", (b: Buffer) => (log = (log + b.toString()).slice(-20_000)));
			const p = proc;
			await until(name, async () => {
				if (p.exitCode !== null) throw new Error(`${name} exited: ${log}`);
				return listening(port);
			});
		},
		async kill(signal = "SIGTERM") {
			const p = proc;
			proc = null;
			if (!p || p.exitCode !== null) return;
			const gone = new Promise((r) => p.once("exit", r));
			p.kill(signal);
			await gone;
		},
		async stop() {
			await server.kill("SIGKILL");
			rmSync(dir, { recursive: true, force: true });
		},
	};
	return server;
}

function listening(port: number): Promise<boolean> {
	return new Promise((resolve) => {
		const s = net.connect(port, "127.0.0.1");
		s.once("connect", () => {
			s.destroy();
			resolve(true);
		});
		s.once("error", () => resolve(false));
	});
}

export interface NatsServerOptions {
	user?: string;
	password?: string;
	token?: string;
	/** Serve TLS only, with this certificate and key. */
	tls?: { certFile: string; keyFile: string };
}

/** nats-server with JetStream on a file store in a temp dir of its own. */
export async function startNatsServer(auth: NatsServerOptions = {}): Promise<ProcServer> {
	const dir = mkdtempSync(path.join(tmpdir(), "mdp-nats-"));
	const port = await freePort();
	const args = ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir];
	if (auth.user) args.push("--user", auth.user, "--pass", auth.password ?? "");
	if (auth.token) args.push("--auth", auth.token);
	if (auth.tls) args.push("--tls", "--tlscert", auth.tls.certFile, "--tlskey", auth.tls.keyFile);
	const s = processServer("nats-server", NATS_SERVER, args, port, `nats://127.0.0.1:${port}`, dir);
	await s.start();
	return s;
}

/**
 * redis-server without persistence (a restart loses everything, like a Redis without AOF/RDB). With `tls` it
 * serves TLS only (rediss://), clients not asked for certificates.
 */
export async function startRedisServer(opts: { password?: string; tls?: { certFile: string; keyFile: string; caFile: string } } = {}): Promise<ProcServer> {
	const dir = mkdtempSync(path.join(tmpdir(), "mdp-redis-"));
	const port = await freePort();
	const args = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir];
	if (opts.tls) {
		args.push("--port", "0", "--tls-port", String(port), "--tls-cert-file", opts.tls.certFile, "--tls-key-file", opts.tls.keyFile, "--tls-ca-cert-file", opts.tls.caFile, "--tls-auth-clients", "no");
	} else args.push("--port", String(port));
	if (opts.password) args.push("--requirepass", opts.password);
	const scheme = opts.tls ? "rediss" : "redis";
	const s = processServer("redis-server", REDIS_SERVER, args, port, opts.password ? `${scheme}://:${encodeURIComponent(opts.password)}@127.0.0.1:${port}` : `${scheme}://127.0.0.1:${port}`, dir);
	await s.start();
	return s;
}
