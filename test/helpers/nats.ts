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

/** How many messages a stream holds right now. */
export async function streamMessages(stream: string, servers = "nats://127.0.0.1:4222"): Promise<number> {
	const nc = await connect({ servers });
	try {
		return (await (await nc.jetstreamManager()).streams.info(stream)).state.messages;
	} finally {
		await nc.close();
	}
}
