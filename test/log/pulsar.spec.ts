import { PulsarWsLog } from "../../lib/log/pulsar/websocket";
import { FakePulsar } from "../helpers/pulsar-ws-server";
import { logContract } from "./contract";

/** The contract on the WebSocket driver, against the fake broker in test/helpers/pulsar-ws-server.ts. */
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

logContract("pulsar (websocket, fake broker)", async () => {
	const broker = await FakePulsar.start({ token: "contract-token" });
	const log = await PulsarWsLog.connect({ url: broker.url, token: "contract-token", discoveryIntervalMs: 500, logger: quiet });
	return {
		log,
		asyncDispatch: true,
		async cleanup() {
			await log.close();
			await broker.close();
		},
	};
});
