import type { JobStatus } from "./jobs";

/** "3h05m", "4m07s", "12s" */
export function formatDuration(seconds: number): string {
	const s = Math.max(0, Math.round(seconds));
	if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
	if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
	return `${s}s`;
}

const int = (n: number) => Math.round(n).toLocaleString("en-US");

/** One line of progress: hours done of total (failed, waiting for publication), ticks, rate and ETA. */
export function progressText(job: JobStatus): string {
	const p = job.progress;
	const failed = p.hoursFailed > 0 ? `, ${p.hoursFailed} failed` : "";
	const waiting = p.hoursWaiting > 0 ? `, ${p.hoursWaiting} waiting for Dukascopy to publish them` : "";
	const eta = p.etaSeconds === null ? "" : `, ETA ${formatDuration(p.etaSeconds)}`;
	return `${p.hoursDone}/${p.hoursTotal} hours${failed}${waiting}, ${int(p.ticks)} ticks, ${int(p.ticksPerSec)} ticks/s${eta}`;
}

/** A bar for a terminal: "[########------------]  40% 12/30 hours, ..." fitted into `columns`. */
export function progressBar(job: JobStatus, columns = 80): string {
	const p = job.progress;
	const frac = p.hoursTotal === 0 ? 1 : (p.hoursDone + p.hoursFailed) / p.hoursTotal;
	const text = ` ${String(Math.floor(frac * 100)).padStart(3)}% ${progressText(job)}`;
	const width = Math.max(10, Math.min(40, columns - text.length - 3));
	const filled = Math.round(frac * width);
	return `[${"#".repeat(filled)}${"-".repeat(width - filled)}]${text}`;
}
