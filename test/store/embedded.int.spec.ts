import { spawn, type ChildProcess } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../../lib/store/embedded";
import { migrate } from "../../lib/store/migrate";
import { createPool } from "../../lib/store/pool";

const REPO = path.resolve(__dirname, "../..");
const isRoot = process.getuid?.() === 0;
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
// pool.end() resolves once Terminate is sent, not once the socket has closed: a server stopped right after
// may still tell an ending client "terminating connection due to administrator command". Harmless; keep it quiet.
const poolOpts = { logger: quiet };

async function freePort(): Promise<number> {
	const srv = createServer();
	await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
	const { port } = srv.address() as { port: number };
	await new Promise((resolve) => srv.close(resolve));
	return port;
}

/** Running, not a zombie awaiting its reaper. */
async function running(pid: number): Promise<boolean> {
	const st = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
	return st !== "" && !/^\d+ \(.*\) Z/.test(st);
}

async function postmasterPid(dataDir: string): Promise<number> {
	return Number((await readFile(path.join(dataDir, "postmaster.pid"), "utf8")).split("\n")[0]);
}

async function countTrades(url: string): Promise<number> {
	const pool = createPool(url, { max: 1, ...poolOpts });
	try {
		return (await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM trades")).rows[0].n;
	} finally {
		await pool.end();
	}
}

describe("startEmbeddedPostgres", () => {
	let root: string;
	let dataDir: string;
	let port: number;
	let pg: EmbeddedPostgres | undefined;
	let child: ChildProcess | undefined;
	let orphan: number | undefined;

	beforeAll(async () => {
		root = await mkdtemp(path.join(tmpdir(), "mdp-embedded-"));
		// mkdtemp makes it 0700: the postgres OS user (we run as root) must be able to pass through it.
		await chmod(root, 0o755);
		dataDir = path.join(root, "data", "pg"); // both levels created by startEmbeddedPostgres
		port = await freePort();
	});
	afterAll(async () => {
		await pg?.stop();
		if (child?.pid && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
		// The server this file orphaned on purpose, should the test have failed before it was shut down.
		if (orphan && (await running(orphan))) process.kill(orphan, "SIGINT");
		await rm(root, { recursive: true, force: true });
	});

	it("initialises on first start, keeps the data across a restart", async () => {
		pg = await startEmbeddedPostgres({ dataDir, port, logger: quiet });
		expect(pg.url).toBe(`postgres://postgres:marketdata@127.0.0.1:${port}/marketdata`);
		if (isRoot) {
			const owner = (await stat(path.dirname(dataDir))).uid;
			expect((await stat(dataDir)).uid).toBe(owner);
			expect(owner).not.toBe(0);
		}
		const pool = createPool(pg.url, { max: 2, ...poolOpts });
		try {
			const first = await migrate(pool);
			expect(first.applied).toContain("001_schema.sql");
			await pool.query(
				`INSERT INTO trades (venue, symbol, time, trade_id, price, qty, side, recv_time)
				 VALUES ('kraken', 'BTC-USD-SPOT', now(), 1, '42000.1', '0.5', 'b', now())`,
			);
		} finally {
			await pool.end();
		}
		await pg.stop();
		await pg.stop(); // idempotent
		await expect(countTrades(pg.url)).rejects.toThrow();

		pg = await startEmbeddedPostgres({ dataDir, port, logger: quiet });
		expect(await countTrades(pg.url)).toBe(1);
		const again = createPool(pg.url, { max: 1, ...poolOpts });
		try {
			expect((await migrate(again)).applied).toEqual([]);
		} finally {
			await again.end();
		}
		await pg.stop();
		pg = undefined;
	});

	it("starts over a postmaster.pid naming a live process that is not our server", async () => {
		// A live process of the server's own OS user, as after a reboot that reused the PID: PostgreSQL alone
		// refuses to start ("lock file already exists").
		const owner = await stat(dataDir);
		const sleeper = spawn("sleep", ["60"], isRoot ? { uid: owner.uid, gid: owner.gid } : {});
		try {
			await writeFile(path.join(dataDir, "postmaster.pid"), `${sleeper.pid}\n${dataDir}\n0\n${port}\n`);
			pg = await startEmbeddedPostgres({ dataDir, port, logger: quiet });
			expect(await countTrades(pg.url)).toBe(1);
			expect(await postmasterPid(dataDir)).not.toBe(sleeper.pid);
			expect(await running(sleeper.pid!)).toBe(true); // not ours to stop
			await pg.stop();
			pg = undefined;
		} finally {
			sleeper.kill();
		}
	});

	it("shuts down a server orphaned by a SIGKILLed owner and starts afresh", async () => {
		const script = path.join(root, "owner.ts");
		await writeFile(
			script,
			`import { startEmbeddedPostgres } from ${JSON.stringify(path.join(REPO, "lib/store/embedded"))};
			startEmbeddedPostgres({ dataDir: ${JSON.stringify(dataDir)}, port: ${port} }).then(
				() => console.log("ready"),
				(err) => { console.error(err); process.exit(1); },
			);
			setInterval(() => undefined, 1000);\n`,
		);
		child = spawn(process.execPath, ["--import", "tsx", script], { cwd: REPO, stdio: ["ignore", "pipe", "inherit"] });
		const lines = createInterface({ input: child.stdout! });
		await new Promise<void>((resolve, reject) => {
			lines.on("line", (l) => l.includes("ready") && resolve());
			child!.once("exit", (code) => reject(new Error(`owner exited with ${code} before it was ready`)));
		});
		orphan = await postmasterPid(dataDir);
		const exited = new Promise((resolve) => child!.once("exit", resolve));
		child.kill("SIGKILL");
		await exited;
		expect(await running(orphan)).toBe(true); // the server outlived its owner, holding port and data

		const logs: string[] = [];
		pg = await startEmbeddedPostgres({ dataDir, port, logger: { ...quiet, warn: (m: unknown) => void logs.push(String(m)) } });
		expect(logs.join("\n")).toMatch(new RegExp(`pid ${orphan}\\) from an earlier run`));
		expect(await running(orphan)).toBe(false);
		expect(await postmasterPid(dataDir)).not.toBe(orphan);
		expect(await countTrades(pg.url)).toBe(1);
		await pg.stop();
		pg = undefined;
	});

	(isRoot ? it : it.skip)("explains when the postgres OS user cannot reach the data directory", async () => {
		const closed = await mkdtemp(path.join(tmpdir(), "mdp-embedded-closed-")); // 0700, owned by root
		try {
			await expect(startEmbeddedPostgres({ dataDir: path.join(closed, "pg"), port, logger: quiet })).rejects.toThrow(
				new RegExp(`cannot reach .*${path.basename(closed)} is mode 700`),
			);
		} finally {
			await rm(closed, { recursive: true, force: true });
		}
	});
});
