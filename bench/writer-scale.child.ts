/**
 * One tick-writer replica for bench/writer-scale.bench.ts (not a bench itself): the real lib/writer code in
 * its own process, driven by its parent over IPC. It connects once, then runs one TickWriter per `start`
 * command on the shared subscription it is given, so the process start-up is not part of any measurement.
 *   argv: --db URL --stream NAME --prefix SUBJECT_PREFIX
 *   parent -> child: {cmd: "start", subscription} | {cmd: "stop"} | {cmd: "exit"}
 *   child -> parent: {ev: "ready"} | {ev: "started"} | {ev: "committed", inserted} | {ev: "stopped", stats, cpuMs} | {ev: "error", message}
 */
import { JetStreamLog } from "../lib/log/jetstream";
import { createPool } from "../lib/store/pool";
import { TickWriter } from "../lib/writer/tick-writer";
import { argValue } from "./common";

export type ChildCommand = { cmd: "start"; subscription: string } | { cmd: "stop" } | { cmd: "exit" };
export type ChildEvent =
	| { ev: "ready" }
	| { ev: "started" }
	| { ev: "committed"; inserted: number }
	| { ev: "stopped"; stats: TickWriter["stats"]; cpuMs: number }
	| { ev: "error"; message: string };

function send(e: ChildEvent): void {
	process.send?.(e);
}

async function main(): Promise<void> {
	if (!process.send) throw new Error("writer-scale.child.ts runs under bench/writer-scale.bench.ts (needs an IPC channel)");
	const pool = createPool(argValue("--db", ""), { max: 4 });
	const stream = argValue("--stream", "");
	const log = await JetStreamLog.connect({ stream, subjectPrefix: argValue("--prefix", ""), name: `writer-scale-${process.pid}` });
	let writer: TickWriter | null = null;
	let cpuAtStart = process.cpuUsage();

	process.on("message", (m: ChildCommand) => {
		void (async () => {
			try {
				if (m.cmd === "start") {
					// Same shape as services/tick-writer.service.ts: defaults of lib/writer, one shared durable subscription.
					writer = new TickWriter({
						pool,
						log,
						subscription: m.subscription,
						ackTimeoutMs: 60_000,
						consumerName: "tick-writer",
						onCommitted: (r) => send({ ev: "committed", inserted: r.insertedTrades + r.insertedQuotes }),
					});
					cpuAtStart = process.cpuUsage();
					await writer.start();
					send({ ev: "started" });
				} else if (m.cmd === "stop") {
					const w = writer;
					writer = null;
					await w?.stop();
					const cpu = process.cpuUsage(cpuAtStart);
					send({ ev: "stopped", stats: w ? { ...w.stats } : (null as never), cpuMs: (cpu.user + cpu.system) / 1000 });
				} else if (m.cmd === "exit") {
					await writer?.stop();
					await log.close();
					await pool.end();
					process.disconnect();
				}
			} catch (err) {
				send({ ev: "error", message: (err as Error).stack ?? String(err) });
			}
		})();
	});
	process.on("disconnect", () => process.exit(0));
	send({ ev: "ready" });
}

main().catch((err) => {
	console.error(err);
	process.exit(1);
});
