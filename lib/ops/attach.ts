import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { ServiceBroker } from "moleculer";

/**
 * Plain `npm start` (no TRANSPORTER) runs the loopback TCP transporter on a random port and writes its
 * address here, readable by its user only, so that `npm run repl -- --attach` can find it.
 */
export interface AttachInfo {
	nodeID: string;
	port: number;
	namespace: string;
	pid: number;
}

export function attachFilePath(dataDir: string): string {
	return path.join(dataDir, "attach.json");
}

export async function writeAttachFile(dataDir: string, broker: ServiceBroker): Promise<AttachInfo> {
	const localNode = (broker.registry as unknown as { nodes: { localNode: { port: number } } }).nodes.localNode;
	const info: AttachInfo = { nodeID: broker.nodeID, port: localNode.port, namespace: broker.namespace, pid: process.pid };
	await mkdir(dataDir, { recursive: true });
	await writeFile(attachFilePath(dataDir), JSON.stringify(info) + "\n", { mode: 0o600 });
	return info;
}

export async function removeAttachFile(dataDir: string): Promise<void> {
	await rm(attachFilePath(dataDir), { force: true });
}

/** The running `npm start` to attach to, or a message saying why there is none. */
export async function readAttachFile(dataDir: string): Promise<AttachInfo> {
	const file = attachFilePath(dataDir);
	let raw: string;
	try {
		raw = await readFile(file, "utf8");
	} catch {
		throw new Error(`no running \`npm start\` to attach to (${file} is missing): start it, or set TRANSPORTER (and NAMESPACE) to join a cluster`);
	}
	const info = JSON.parse(raw) as AttachInfo;
	try {
		process.kill(info.pid, 0);
	} catch {
		throw new Error(`the \`npm start\` that wrote ${file} (pid ${info.pid}) is not running`);
	}
	return info;
}
