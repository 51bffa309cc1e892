import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export interface TestCerts {
	dir: string;
	caFile: string;
	certFile: string;
	keyFile: string;
}

/** A throwaway CA and a server certificate for 127.0.0.1 and localhost, made with openssl. */
export function makeTestCerts(): TestCerts {
	const dir = mkdtempSync(path.join(tmpdir(), "mdp-tls-"));
	const f = (n: string) => path.join(dir, n);
	const ssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "ignore" });
	ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=mdp test CA", "-keyout", f("ca.key"), "-out", f("ca.pem"));
	ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", f("server.key"), "-out", f("server.csr"));
	writeFileSync(f("san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
	ssl("x509", "-req", "-in", f("server.csr"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial", "-days", "2", "-extfile", f("san.ext"), "-out", f("server.pem"));
	return { dir, caFile: f("ca.pem"), certFile: f("server.pem"), keyFile: f("server.key") };
}
