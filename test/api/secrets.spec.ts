import { spawnSync } from "node:child_process";
import { maskUrl, redactor, secretsOf } from "../../lib/security/secrets";

describe("secrets", () => {
	it("masks the password of a URL and leaves a URL without one alone", () => {
		expect(maskUrl("postgres://mdp:p%40ss@db:5432/mdp?sslmode=require")).toBe("postgres://mdp:***@db:5432/mdp?sslmode=require");
		expect(maskUrl("postgres://db:5432/mdp")).toBe("postgres://db:5432/mdp");
		expect(maskUrl("nats://tok@host:4222")).toBe("nats://tok@host:4222");
	});

	it("finds the configured secrets: URL passwords (as written and decoded), tokens and passwords", () => {
		const s = secretsOf({ DATABASE_URL: "postgres://mdp:p%40ss-word@db/mdp", REDIS_URL: "redis://:r3dis-pass@r:6379", API_TOKEN: "tok-123456789", PULSAR_TOKEN: "pulsar-jwt", NATS_PASSWORD: "natspw!", PORT: "3000", LOG_LEVEL: "info" });
		expect(s.sort()).toEqual(["natspw!", "p%40ss-word", "p@ss-word", "pulsar-jwt", "r3dis-pass", "tok-123456789"].sort());
	});

	it("replaces every secret in a text", () => {
		const r = redactor(["p@ss-word", "tok-123456789"]);
		expect(r('connect postgres://mdp:p@ss-word@db failed; Authorization: Bearer tok-123456789')).toBe("connect postgres://mdp:***@db failed; Authorization: Bearer ***");
	});

	it("keeps a secret out of a process's output whatever prints it", () => {
		const code = `require("./lib/security/secrets").redactProcessOutput(["hunter2-secret"]); console.log("pw=hunter2-secret"); console.error(new Error("bad hunter2-secret").message); process.stdout.write(Buffer.from("raw hunter2-secret\\n"));`;
		const r = spawnSync(process.execPath, ["--import", "tsx", "-e", code], { cwd: `${__dirname}/../..`, encoding: "utf8" });
		expect(r.stdout + r.stderr).not.toContain("hunter2");
		expect(r.stdout).toContain("pw=***");
		expect(r.stderr).toContain("bad ***");
	});
});
