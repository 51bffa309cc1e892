import http from "node:http";
import type { AddressInfo } from "node:net";

export interface LocalServer {
	url: string;
	close(): Promise<void>;
}

/** An HTTP server on a free 127.0.0.1 port (for fake venues); close() drops open keep-alive connections too. */
export async function listenLocal(handler: http.RequestListener): Promise<LocalServer> {
	const server = http.createServer(handler);
	await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
	return {
		url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
		close() {
			server.closeAllConnections();
			return new Promise<void>((r) => server.close(() => r()));
		},
	};
}

export interface RecordedRequest {
	path: string;
	query: Record<string, string>;
	at: number; // Date.now() when the request arrived
	status: number; // what the fake answered (set by the subclass when it is not 200)
}

/** A fake venue over HTTP that records every request it gets; subclasses answer in `handle`. */
export abstract class RecordingHttpFake {
	readonly requests: RecordedRequest[] = [];
	url = "";
	private server: LocalServer | null = null;

	async start(): Promise<this> {
		this.server = await listenLocal((req, res) => {
			const u = new URL(req.url ?? "/", "http://x");
			const entry: RecordedRequest = { path: u.pathname, query: Object.fromEntries(u.searchParams), at: Date.now(), status: 200 };
			this.requests.push(entry);
			this.handle(entry, res);
		});
		this.url = this.server.url;
		return this;
	}

	async stop(): Promise<void> {
		await this.server?.close();
		this.server = null;
	}

	protected abstract handle(req: RecordedRequest, res: http.ServerResponse): void;
}
