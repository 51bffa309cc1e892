/**
 * The pure half of `npm run bench`: recognising a bench's result lines in its output and laying the
 * results out as one table. bench/run.ts runs the processes; this file only reads and formats.
 */
import { passes, type BenchResult } from "./common";

/** A bench script's outcome as the runner records it: its result lines, or why there are none. */
export interface ScriptOutcome {
	script: string;
	results: BenchResult[];
	/** set when the script exited non-zero, was killed, or printed no result line */
	error?: string;
	wallMs: number;
}

const REQUIRED = ["bench", "ratio", "goal", "better"] as const;

/**
 * The result carried by one output line, or null when the line is not a result line. A line that
 * looks like one (a JSON object with a `bench` field) but lacks a numeric ratio/goal or a valid
 * `better` throws, so a bench that prints a broken result fails loudly instead of vanishing.
 */
export function parseResultLine(line: string): BenchResult | null {
	const t = line.trim();
	if (!t.startsWith("{") || !t.includes('"bench"')) return null;
	let o: Record<string, unknown>;
	try {
		o = JSON.parse(t);
	} catch {
		return null;
	}
	if (typeof o !== "object" || o === null || typeof o.bench !== "string") return null;
	if (!("ratio" in o) && !("goal" in o)) return null; // an older detail line, not a result
	for (const k of REQUIRED) if (!(k in o)) throw new Error(`result line of ${o.bench} lacks "${k}": ${t}`);
	if (typeof o.ratio !== "number" || !Number.isFinite(o.ratio)) throw new Error(`result line of ${o.bench}: ratio is not a finite number: ${t}`);
	if (typeof o.goal !== "number" || !Number.isFinite(o.goal)) throw new Error(`result line of ${o.bench}: goal is not a finite number: ${t}`);
	if (o.better !== "higher" && o.better !== "lower") throw new Error(`result line of ${o.bench}: better must be "higher" or "lower": ${t}`);
	return { figure: "", baseline: "", ...o } as BenchResult;
}

function pad(s: string, w: number, right = false): string {
	return right ? s.padStart(w) : s.padEnd(w);
}

/** The one table: bench, figure, baseline, ratio, goal, pass; a failed script is a row with its error. */
export function renderTable(outcomes: ScriptOutcome[]): string {
	const head = ["bench", "figure", "baseline", "ratio", "goal", "pass"];
	const rows: string[][] = [];
	for (const o of outcomes) {
		for (const r of o.results) {
			const goal = `${r.better === "higher" ? ">=" : "<="} ${r.goal}`;
			rows.push([r.bench, String(r.figure ?? ""), String(r.baseline ?? ""), r.ratio.toFixed(3), goal, passes(r) ? "yes" : "NO"]);
		}
		if (o.error) rows.push([o.script, `error: ${o.error}`, "", "", "", "NO"]);
	}
	const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
	const line = (cells: string[]) => cells.map((c, i) => pad(c, widths[i], i === 3)).join("  ").trimEnd();
	return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** Every goal met and every script produced its results. */
export function allPass(outcomes: ScriptOutcome[]): boolean {
	return outcomes.every((o) => !o.error && o.results.length > 0 && o.results.every(passes));
}
