import net from "node:net";

/** A TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.unref();
		s.on("error", reject);
		s.listen(0, "127.0.0.1", () => {
			const { port } = s.address() as net.AddressInfo;
			s.close(() => resolve(port));
		});
	});
}

export async function getJson(url: string): Promise<{ status: number; body: any }> {
	const res = await fetch(url);
	return { status: res.status, body: await res.json() };
}
