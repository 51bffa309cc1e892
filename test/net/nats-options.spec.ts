import { describeNatsServers, natsConnectOptions } from "../../lib/net/nats-options";

describe("natsConnectOptions", () => {
	it("takes user and password out of the URL, percent-decoded, and keeps them out of the server list", () => {
		const o = natsConnectOptions("nats://mdp:p%40ss@10.0.0.1:4223, nats://10.0.0.2");
		expect(o).toEqual({ servers: ["10.0.0.1:4223", "10.0.0.2:4222"], user: "mdp", pass: "p@ss" });
	});

	it("reads a user without a password as a token", () => {
		expect(natsConnectOptions("nats://s3cr3t@h:4222")).toEqual({ servers: ["h:4222"], token: "s3cr3t" });
	});

	it("lets the environment's credentials win over the URL's", () => {
		expect(natsConnectOptions("nats://a:b@h", { user: "u", password: "p" })).toEqual({ servers: ["h:4222"], user: "u", pass: "p" });
		expect(natsConnectOptions("nats://a:b@h", { token: "t" })).toEqual({ servers: ["h:4222"], token: "t" });
	});

	it("turns TLS on for tls:// and with a CA file", () => {
		expect(natsConnectOptions("tls://h:4443").tls).toEqual({});
		expect(natsConnectOptions("nats://h", { tlsCaFile: "/etc/ca.pem" }).tls).toEqual({ caFile: "/etc/ca.pem" });
	});

	it("describes servers without secrets", () => {
		expect(describeNatsServers("nats://u:secret@h:1,nats://tok@g:2")).toBe("nats://h:1,nats://g:2");
	});
});
