import type { Pool } from "pg";

/**
 * A moleculer-db adapter over one PostgreSQL table (through pg), the catalog's persistence. moleculer-db
 * ships only an in-memory adapter; this one speaks the same interface (find / findOne / findById /
 * findByIds / count / insert / insertMany / updateMany / updateById / removeMany / removeById / clear /
 * entityToObject) with entities as camelCase objects, and keeps the SQL here in lib/.
 *
 * Queries: `{field: value}` equality, `{field: {$in: [...]}}`, `{field: {$ne | $gt | $gte | $lt | $lte: v}}`,
 * `{$or: [{...}, ...]}`; `search` with `searchFields` is a case-insensitive substring match; `sort` is a
 * field list ("venue -symbol" or an array); `limit` / `offset`. Updates are `{$set: {...}}` (or a plain object).
 */
export interface PgColumn {
	column: string;
	kind?: "text" | "int" | "bool" | "numeric" | "json" | "time";
	/** Computed by the database (a generated column): never written. */
	readOnly?: boolean;
}

export interface PgTableSpec {
	table: string;
	idField: string;
	fields: Record<string, PgColumn>;
}

type Row = Record<string, unknown>;
type Query = Record<string, unknown>;

export class PgDbAdapter {
	private pool: Pool | null = null;
	private broker: unknown = null;

	/** `poolOf` gets the broker moleculer-db hands to init() (null when used outside a service). */
	constructor(
		readonly spec: PgTableSpec,
		private readonly poolOf: (broker: unknown) => Pool,
	) {}

	// moleculer-db lifecycle: the pool belongs to the process runtime, so connect/disconnect only take/release our reference.
	init(broker: unknown): void {
		this.broker = broker;
	}
	async connect(): Promise<void> {
		this.pool = this.poolOf(this.broker);
	}
	async disconnect(): Promise<void> {
		this.pool = null;
	}

	private db(): Pool {
		return this.pool ?? this.poolOf(this.broker);
	}

	private col(field: string): PgColumn {
		const c = this.spec.fields[field];
		if (!c) throw new Error(`${this.spec.table}: unknown field ${JSON.stringify(field)}`);
		return c;
	}

	private cast(c: PgColumn): string {
		return c.kind === "json" ? "::jsonb" : c.kind === "time" ? "::timestamptz" : c.kind === "numeric" ? "::numeric" : "";
	}

	private param(c: PgColumn, v: unknown, values: unknown[]): string {
		values.push(c.kind === "json" ? JSON.stringify(v ?? null) : v);
		return `$${values.length}${this.cast(c)}`;
	}

	private where(query: Query | undefined, values: unknown[]): string {
		if (!query) return "TRUE";
		const parts: string[] = [];
		for (const [k, v] of Object.entries(query)) {
			if (k === "$or") {
				if (!Array.isArray(v) || !v.length) throw new Error("$or takes a non-empty list");
				parts.push(`(${v.map((q) => this.where(q as Query, values)).join(" OR ")})`);
				continue;
			}
			const c = this.col(k);
			if (v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Date)) {
				for (const [op, x] of Object.entries(v)) {
					if (op === "$in") {
						values.push(x);
						parts.push(`${c.column} = ANY($${values.length})`);
					} else if (op === "$ne") parts.push(x === null ? `${c.column} IS NOT NULL` : `${c.column} IS DISTINCT FROM ${this.param(c, x, values)}`);
					else {
						const sqlOp = { $gt: ">", $gte: ">=", $lt: "<", $lte: "<=" }[op];
						if (!sqlOp) throw new Error(`unsupported operator ${op}`);
						parts.push(`${c.column} ${sqlOp} ${this.param(c, x, values)}`);
					}
				}
			} else parts.push(v === null ? `${c.column} IS NULL` : `${c.column} = ${this.param(c, v, values)}`);
		}
		return parts.length ? parts.join(" AND ") : "TRUE";
	}

	private filterSql(params: { query?: Query; search?: string; searchFields?: string | string[] }, values: unknown[]): string {
		let w = this.where(params.query, values);
		if (typeof params.search === "string" && params.search !== "") {
			const fields = params.searchFields ? (typeof params.searchFields === "string" ? params.searchFields.split(/\s+/) : params.searchFields) : Object.keys(this.spec.fields);
			values.push(`%${params.search.replace(/[\\%_]/g, (m) => "\\" + m)}%`);
			w += ` AND (${fields.map((f) => `${this.col(f).column}::text ILIKE $${values.length}`).join(" OR ")})`;
		}
		return w;
	}

	private select(): string {
		return Object.entries(this.spec.fields)
			.map(([f, c]) => (c.kind === "time" ? `to_char(${c.column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "${f}"` : c.kind === "numeric" ? `${c.column}::text AS "${f}"` : `${c.column} AS "${f}"`))
			.join(", ");
	}

	async find(params: { query?: Query; search?: string; searchFields?: string | string[]; sort?: string | string[]; limit?: number | string; offset?: number | string } = {}): Promise<Row[]> {
		const values: unknown[] = [];
		let sql = `SELECT ${this.select()} FROM ${this.spec.table} WHERE ${this.filterSql(params, values)}`;
		const sort = typeof params.sort === "string" ? params.sort.split(/[\s,]+/).filter(Boolean) : params.sort;
		if (sort?.length) sql += ` ORDER BY ${sort.map((s) => (s.startsWith("-") ? `${this.col(s.slice(1)).column} DESC` : `${this.col(s).column} ASC`)).join(", ")}`;
		if (params.limit !== undefined && params.limit !== null) sql += ` LIMIT ${Math.max(0, Math.floor(Number(params.limit)))}`;
		if (params.offset) sql += ` OFFSET ${Math.max(0, Math.floor(Number(params.offset)))}`;
		return (await this.db().query(sql, values)).rows;
	}

	async findOne(query: Query): Promise<Row | null> {
		return (await this.find({ query, limit: 1 }))[0] ?? null;
	}

	async findById(id: unknown): Promise<Row | null> {
		return this.findOne({ [this.spec.idField]: id });
	}

	async findByIds(ids: unknown[]): Promise<Row[]> {
		return this.find({ query: { [this.spec.idField]: { $in: ids } } });
	}

	async count(params: { query?: Query; search?: string; searchFields?: string | string[] } = {}): Promise<number> {
		const values: unknown[] = [];
		const r = await this.db().query<{ n: number }>(`SELECT count(*)::int AS n FROM ${this.spec.table} WHERE ${this.filterSql(params, values)}`, values);
		return r.rows[0].n;
	}

	async insert(entity: Row): Promise<Row> {
		return (await this.insertMany([entity]))[0];
	}

	/** One INSERT per 500 entities; returns the stored rows. */
	async insertMany(entities: Row[]): Promise<Row[]> {
		const out: Row[] = [];
		const fields = Object.entries(this.spec.fields).filter(([, c]) => !c.readOnly);
		for (let i = 0; i < entities.length; i += 500) {
			const chunk = entities.slice(i, i + 500);
			const values: unknown[] = [];
			const rows = chunk.map((e) => `(${fields.map(([f, c]) => (e[f] === undefined ? "DEFAULT" : this.param(c, e[f], values))).join(", ")})`);
			const r = await this.db().query(`INSERT INTO ${this.spec.table} (${fields.map(([, c]) => c.column).join(", ")}) VALUES ${rows.join(", ")} RETURNING ${this.select()}`, values);
			out.push(...r.rows);
		}
		return out;
	}

	private setSql(update: Row, values: unknown[]): string {
		const set = (update.$set && typeof update.$set === "object" ? update.$set : update) as Row;
		const parts = Object.entries(set).map(([f, v]) => {
			const c = this.col(f);
			if (c.readOnly) throw new Error(`${f} cannot be written`);
			return `${c.column} = ${this.param(c, v, values)}`;
		});
		if (!parts.length) throw new Error("empty update");
		return parts.join(", ");
	}

	async updateMany(query: Query, update: Row): Promise<number> {
		const values: unknown[] = [];
		const set = this.setSql(update, values);
		const r = await this.db().query(`UPDATE ${this.spec.table} SET ${set} WHERE ${this.where(query, values)}`, values);
		return r.rowCount ?? 0;
	}

	async updateById(id: unknown, update: Row): Promise<Row | null> {
		const values: unknown[] = [];
		const set = this.setSql(update, values);
		values.push(id);
		const r = await this.db().query(`UPDATE ${this.spec.table} SET ${set} WHERE ${this.col(this.spec.idField).column} = $${values.length} RETURNING ${this.select()}`, values);
		return r.rows[0] ?? null;
	}

	async removeMany(query: Query): Promise<number> {
		const values: unknown[] = [];
		const r = await this.db().query(`DELETE FROM ${this.spec.table} WHERE ${this.where(query, values)}`, values);
		return r.rowCount ?? 0;
	}

	async removeById(id: unknown): Promise<Row | null> {
		const r = await this.db().query(`DELETE FROM ${this.spec.table} WHERE ${this.col(this.spec.idField).column} = $1 RETURNING ${this.select()}`, [id]);
		return r.rows[0] ?? null;
	}

	async clear(): Promise<number> {
		return this.removeMany({});
	}

	entityToObject(entity: Row): Row {
		return entity;
	}

	beforeSaveTransformID(entity: Row): Row {
		return entity;
	}

	afterRetrieveTransformID(entity: Row): Row {
		return entity;
	}
}

/** The catalog table (sql/001 + sql/008 `symbols`) as moleculer-db entities (the REST field names). */
export const SYMBOLS_TABLE: PgTableSpec = {
	table: "symbols",
	idField: "id",
	fields: {
		id: { column: "id", readOnly: true },
		venue: { column: "venue" },
		venueSymbol: { column: "venue_symbol" },
		symbol: { column: "symbol" },
		assetClass: { column: "asset_class" },
		base: { column: "base" },
		quote: { column: "quote" },
		settle: { column: "settle" },
		type: { column: "kind" },
		expiry: { column: "expiry", kind: "time" },
		tickSize: { column: "price_increment", kind: "numeric" },
		lotSize: { column: "qty_increment", kind: "numeric" },
		pricePrecision: { column: "price_precision", kind: "int" },
		qtyPrecision: { column: "qty_precision", kind: "int" },
		status: { column: "status" },
		active: { column: "active", kind: "bool" },
		description: { column: "description" },
		meta: { column: "meta", kind: "json" },
		changedAt: { column: "changed_at", kind: "json" },
		updatedAt: { column: "updated_at", kind: "time" },
		createdAt: { column: "created_at", kind: "time" },
	},
};
