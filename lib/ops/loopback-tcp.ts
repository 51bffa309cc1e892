import net from "node:net";
import { Transporters } from "moleculer";

type Listen = (this: net.Server, opts: net.ListenOptions, ...rest: unknown[]) => net.Server;
const TcpBase = Transporters.TCP as unknown as new (opts: object) => { startTcpServer(): Promise<number> };

/**
 * Moleculer's TCP transporter kept on 127.0.0.1: the local `npm start` (no TRANSPORTER) listens on a
 * random loopback port so that `npm run repl -- --attach` can join it, and nothing off the machine can.
 * Discovery is by the static address list (no UDP); every node is reached at 127.0.0.1.
 */
export class LoopbackTcpTransporter extends TcpBase {
	constructor(opts: { urls?: string[]; port?: number }) {
		super({ udpDiscovery: false, port: opts.port ?? 0, urls: opts.urls ?? null, useHostname: false });
	}

	override startTcpServer(): Promise<number> {
		// The base class binds every interface and offers no host option: pin the host of the one
		// server it creates, synchronously, inside this call.
		const original = net.Server.prototype.listen as unknown as Listen;
		(net.Server.prototype as unknown as { listen: Listen }).listen = function (this: net.Server, opts, ...rest) {
			return original.call(this, { ...opts, host: "127.0.0.1" }, ...rest);
		};
		try {
			return super.startTcpServer();
		} finally {
			(net.Server.prototype as unknown as { listen: Listen }).listen = original;
		}
	}

	getNodeAddress(): string {
		return "127.0.0.1";
	}
}
