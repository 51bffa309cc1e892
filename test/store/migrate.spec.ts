import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadMigrations, splitSqlStatements } from "../../lib/store/migrate";

describe("splitSqlStatements", () => {
	it("splits at top-level semicolons and drops empty and comment-only pieces", () => {
		expect(splitSqlStatements("CREATE TABLE a (x int);\n\n-- trailing comment\n;SELECT 1;  ")).toEqual(["CREATE TABLE a (x int)", "SELECT 1"]);
	});

	it("keeps semicolons inside strings, identifiers, comments and dollar quotes", () => {
		const sql = [
			"INSERT INTO t VALUES ('a;b', 'it''s;', E'x\\';y')",
			'CREATE TABLE "we;ird" (x int)',
			"/* a; /* nested; */ still; */ SELECT 2",
			"DO $$ BEGIN PERFORM 1; END $$",
			"CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $body$ SELECT 1; $body$",
			"SELECT $1::int, a$b FROM t -- not; a split\nWHERE true",
		];
		expect(splitSqlStatements(sql.join(";\n") + ";")).toEqual(sql);
	});

	it("leaves an unterminated final statement whole", () => {
		expect(splitSqlStatements("SELECT 1; SELECT 'x")).toEqual(["SELECT 1", "SELECT 'x"]);
	});
});

describe("loadMigrations", () => {
	let dir: string;
	beforeEach(async () => {
		dir = await mkdtemp(path.join(tmpdir(), "mdp-mig-"));
	});
	afterEach(() => rm(dir, { recursive: true, force: true }));

	it("orders files by number, ignores other files, reads the no-transaction marker, ignores CRLF in checksums", async () => {
		await writeFile(path.join(dir, "010_later.sql"), "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (x);\n");
		await writeFile(path.join(dir, "2_second.sql"), "SELECT 2;\r\n");
		await writeFile(path.join(dir, "001_first.sql"), "SELECT 1;\n");
		await writeFile(path.join(dir, "README.md"), "not a migration");
		await writeFile(path.join(dir, "003_draft.sql.bak"), "SELECT 3;");
		const files = await loadMigrations(dir);
		expect(files.map((f) => [f.version, f.name, f.noTransaction])).toEqual([
			["001", "first", false],
			["2", "second", false],
			["010", "later", true],
		]);
		await writeFile(path.join(dir, "2_second.sql"), "SELECT 2;\n");
		expect((await loadMigrations(dir))[1].checksum).toBe(files[1].checksum);
	});

	it("refuses two files with the same number", async () => {
		await writeFile(path.join(dir, "001_a.sql"), "SELECT 1;");
		await writeFile(path.join(dir, "1_b.sql"), "SELECT 1;");
		await expect(loadMigrations(dir)).rejects.toThrow(/share number/);
	});
});
