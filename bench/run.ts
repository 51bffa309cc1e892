/**
 * `npm run bench`: every benchmark of issue 12, one after another (never in parallel: they would
 * measure each other), then one table of bench, figure, baseline, ratio, goal and pass. Each result
 * is also printed as the JSON line its bench wrote ({"bench","ratio","goal","better",...}).
 *   npm run bench                      full sizes (the figures of bench/README.md)
 *   npm run bench -- --quick           sizes that finish in under 10 minutes on 2 cores
 *   npm run bench -- --only kraken-parse,cascade   a subset, by script name
 *   npm run bench -- --runs 5          runs per bench whose median is reported (default 3)
 *   npm run bench -- --strict          exit 1 when a goal is missed (otherwise only a failing script does)
 *   npm run bench -- --out FILE        also write the result lines to FILE (JSON lines)
 * The benches' own progress lines go to stderr, prefixed with the script name; stdout has the result
 * lines as they come and the table at the end.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { argValue } from "./common";
import { allPass, parseResultLine, renderTable, type ScriptOutcome } from "./table";

/** The scripts, cheapest first, so a quick run shows the CPU-bound figures early. */
export const BENCH_SCRIPTS = [
	"kraken-parse",
	"pulsar-publish",
	"tick-writer",
	"writer-rss",
	"writer-scale",
	"backfill",
	"klines",
	"cascade",
	"candle-query",
	"idle-rss",
] as const;

function runScript(script: string, args: string[]): Promise<ScriptOutcome> {
	const file = path.join(__dirname, `${script}.bench.ts`);
	const started = performance.now();
	return new Promise((resolve) => {
		const outcome: ScriptOutcome = { script, results: [], wallMs: 0 };
		if (!fs.existsSync(file)) {
			resolve({ ...outcome, error: `no such bench: ${path.relative(process.cwd(), file)}` });
			return;
		}
		const child = spawn(process.execPath, ["--import", "tsx", file, ...args], { stdio: ["ignore", "pipe", "pipe"], env: process.env });
		const prefix = `[${script}] `;
		const onLines = (buf: { rest: string }, chunk: Buffer, isStdout: boolean) => {
			buf.rest += chunk.toString("utf8");
			let nl: number;
			while ((nl = buf.rest.indexOf("\n")) >= 0) {
				const line = buf.rest.slice(0, nl);
				buf.rest = buf.rest.slice(nl + 1);
				handle(line, isStdout);
			}
		};
		const handle = (line: string, isStdout: boolean) => {
			if (isStdout) {
				try {
					const r = parseResultLine(line);
					if (r) {
						outcome.results.push(r);
						process.stdout.write(line.trim() + "\n");
						return;
					}
				} catch (err) {
					outcome.error = (err as Error).message;
				}
			}
			process.stderr.write(prefix + line + "\n");
		};
		const out = { rest: "" };
		const err = { rest: "" };
		child.stdout.on("data", (c: Buffer) => onLines(out, c, true));
		child.stderr.on("data", (c: Buffer) => onLines(err, c, false));
		child.on("close", (code, signal) => {
			if (out.rest) handle(out.rest, true);
			if (err.rest) handle(err.rest, false);
			outcome.wallMs = performance.now() - started;
			if (code !== 0) outcome.error = outcome.error ?? `exited with ${signal ?? `code ${code}`}`;
			else if (!outcome.results.length) outcome.error = outcome.error ?? "printed no result line";
			resolve(outcome);
		});
	});
}

async function main(): Promise<void> {
	const quick = process.argv.includes("--quick");
	const strict = process.argv.includes("--strict");
	const only = argValue("--only", "");
	const runs = argValue("--runs", "");
	const outFile = argValue("--out", "");
	const chosen = only ? only.split(",").map((s) => s.trim()).filter(Boolean) : [...BENCH_SCRIPTS];
	const unknown = chosen.filter((s) => !(BENCH_SCRIPTS as readonly string[]).includes(s));
	if (unknown.length) {
		console.error(`unknown bench ${unknown.join(", ")}; the benches are: ${BENCH_SCRIPTS.join(", ")}`);
		process.exit(2);
	}
	const args = [...(quick ? ["--quick"] : []), ...(runs ? ["--runs", runs] : [])];
	const cpu = os.cpus();
	const machine = `${cpu.length} x ${cpu[0]?.model ?? "?"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}, node ${process.version}`;
	process.stderr.write(`npm run bench${quick ? " --quick" : ""}: ${chosen.length} benches on ${machine}\n`);
	const t0 = performance.now();
	const outcomes: ScriptOutcome[] = [];
	for (const script of chosen) {
		process.stderr.write(`\n== ${script} ==\n`);
		const o = await runScript(script, args);
		process.stderr.write(`== ${script}: ${(o.wallMs / 1000).toFixed(1)} s${o.error ? `, ERROR: ${o.error}` : ""} ==\n`);
		outcomes.push(o);
	}
	const totalS = (performance.now() - t0) / 1000;
	console.log("");
	console.log(renderTable(outcomes));
	console.log(`\n${quick ? "quick" : "full"} run, ${chosen.length} benches in ${totalS.toFixed(0)} s (${outcomes.map((o) => `${o.script} ${(o.wallMs / 1000).toFixed(0)} s`).join(", ")}); ${machine}; ${new Date().toISOString()}`);
	if (outFile) fs.writeFileSync(outFile, outcomes.flatMap((o) => o.results.map((r) => JSON.stringify(r))).join("\n") + "\n");
	const scriptFailed = outcomes.some((o) => o.error);
	if (scriptFailed || (strict && !allPass(outcomes))) process.exit(1);
}

if (require.main === module) {
	main().catch((err) => {
		console.error(err);
		process.exit(1);
	});
}
