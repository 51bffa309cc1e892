import net from "node:net";

/** Ports this process has handed out: the kernel may give a closed probe's port to the next probe again. */
const handedOut = new Set<number>();

/**
 * A TCP port that was free a moment ago on every address (a service given it may listen on all of them), and
 * not handed out before by this process. Another process can still take it before it is used; the caller of a
 * child process that must listen on it handles that (see lib/ops/rehearsal.ts).
 */
export async function freePort(): Promise<number> {
	for (;;) {
		const port = await new Promise<number>((resolve, reject) => {
			const s = net.createServer();
			s.unref();
			s.once("error", reject);
			s.listen(0, () => {
				const { port } = s.address() as net.AddressInfo;
				s.close(() => resolve(port));
			});
		});
		if (!handedOut.has(port)) {
			handedOut.add(port);
			return port;
		}
	}
}
