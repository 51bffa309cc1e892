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
