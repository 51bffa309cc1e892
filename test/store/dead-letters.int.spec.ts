import { trimDeadLetters } from "../../lib/store/dead-letters";
import { migrate } from "../../lib/store/migrate";
import { freshDatabase, type TestDb } from "../helpers/db";

describe("dead_letters retention", () => {
	let db: TestDb;
	beforeAll(async () => {
		db = await freshDatabase("deadletters");
		await migrate(db.pool);
	});
	afterAll(async () => {
		await db?.drop();
	});

	it("keeps the newest maxRows rows and reports how many remain", async () => {
		await db.pool.query(
			`INSERT INTO dead_letters (consumer, topic, message_id, reason, payload)
			 SELECT 'tick-writer', 't', g::text, 'bad', '\\x00'::bytea FROM generate_series(1, 25) g`,
		);
		expect(await trimDeadLetters(db.pool, 10)).toEqual({ deleted: 15, remaining: 10 });
		const { rows } = await db.pool.query("SELECT min(message_id::int) AS lo, max(message_id::int) AS hi FROM dead_letters");
		expect(rows[0]).toEqual({ lo: 16, hi: 25 });
		expect(await trimDeadLetters(db.pool, 10)).toEqual({ deleted: 0, remaining: 10 });
		expect(await trimDeadLetters(db.pool, 100)).toEqual({ deleted: 0, remaining: 10 });
		await expect(trimDeadLetters(db.pool, 0)).rejects.toThrow(RangeError);
	});
});
