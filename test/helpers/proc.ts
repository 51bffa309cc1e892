import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";

const ROOT = path.resolve(__dirname, "../..");


export interface Child {
	proc: ChildProcess;
	output(): string;
	/** Resolves when the process has printed a line matching re (rejects if it exits first or on timeout). */
	waitForOutput(re: RegExp, timeoutMs?: number): Promise<void>;
	kill(signal?: NodeJS.Signals): Promise<void>;
	/** Write to its standard input (started with `stdin: true`); `end()` closes it. */
	write(text: string): void;
	end(): void;
	/** Resolves with the exit code once it has exited. */
	exited(): Promise<number | null>;
}

/** Run `npm start`'s entry point (bin/start.ts) as a real child process with the given environment. */
export function startService(env: Record<string, string>, opts: { args?: string[]; stdin?: boolean; /** its own process group (killed whole by its pgid) */ detached?: boolean } = {}): Child {
	// node --import tsx, not the tsx CLI: the CLI runs the program in a grandchild that a SIGKILL would not reach.
	const proc = spawn(process.execPath, ["--import", "tsx", "bin/start.ts", ...(opts.args ?? [])], {
		cwd: ROOT,
		env: { ...process.env, LOG_LEVEL: "info", ...env },
		stdio: [opts.stdin ? "pipe" : "ignore", "pipe", "pipe"],
		detached: opts.detached ?? false,
	});
	let out = "";
	const listeners = new Set<() => void>();
	const onData = (b: Buffer) => {
		out += b.toString();
		if (out.length > 200_000) out = out.slice(-100_000);
		for (const l of listeners) l();
	};
	proc.stdout!.on("data", onData);
	proc.stderr!.on("data", onData);
	const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
	return {
		proc,
		output: () => out,
		waitForOutput(re, timeoutMs = 30_000) {
			return new Promise((resolve, reject) => {
				const check = () => {
					if (re.test(out)) return done(resolve);
				};
				const timer = setTimeout(() => done(() => reject(new Error(`timed out waiting for ${re} in child output:\n${out.slice(-3000)}`))), timeoutMs);
				const onExit = () => done(() => reject(new Error(`child exited (${proc.exitCode}) before printing ${re}:\n${out.slice(-3000)}`)));
				const done = (f: () => void) => {
					clearTimeout(timer);
					listeners.delete(check);
					proc.off("exit", onExit);
					f();
				};
				listeners.add(check);
				proc.once("exit", onExit);
				check();
			});
		},
		async kill(signal = "SIGKILL") {
			if (proc.exitCode === null && proc.signalCode === null) {
				proc.kill(signal);
				await exited;
			}
		},
		write: (text) => void proc.stdin!.write(text),
		end: () => void proc.stdin!.end(),
		exited: () => exited,
	};
}

export interface CliResult {
	code: number | null;
	stdout: string;
	stderr: string;
	/** stdout and stderr, in arrival order */
	out: string;
}

/** Run a command-line entry point (`bin/<name>.ts`) as a real process to its end, no stdin, no TTY. */
export function runCli(script: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
	return new Promise((resolve, reject) => {
		const proc = spawn(process.execPath, ["--import", "tsx", script, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
		const r: CliResult = { code: null, stdout: "", stderr: "", out: "" };
		proc.stdout!.on("data", (b: Buffer) => ((r.stdout += b), (r.out += b)));
		proc.stderr!.on("data", (b: Buffer) => ((r.stderr += b), (r.out += b)));
		proc.on("error", reject);
		proc.on("close", (code) => resolve({ ...r, code }));
	});
}
