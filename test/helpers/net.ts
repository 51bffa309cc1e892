/** A TCP port that was free a moment ago (lib/net/free-port.ts). */
export { freePort } from "../../lib/net/free-port";

export async function getJson(url: string): Promise<{ status: number; body: any }> {
	const res = await fetch(url);
	return { status: res.status, body: await res.json() };
}
