import { connect } from "nats";

/** Delete a JetStream stream if it exists (tests and benchmarks clean up the streams they made). */
export async function deleteStream(stream: string, servers = "nats://127.0.0.1:4222"): Promise<void> {
	const nc = await connect({ servers });
	try {
		await (await nc.jetstreamManager()).streams.delete(stream).catch(() => undefined);
	} finally {
		await nc.close();
	}
}
