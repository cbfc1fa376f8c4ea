// Helpers shared by the *-sql.ts modules: running raw SQL on either backend and normalising the
// values drivers hand back.
import type { Knex } from "knex";
import { NotFoundError } from "../core/errors.js";
import { expectRows, type StatementCheck } from "./batch-statement.js";

/** Anything that can run a query: the Knex instance or an open transaction. */
export type Db = Knex | Knex.Transaction;

/** Runs raw SQL (`?` placeholders) and returns its rows; both pg and knex-pglite expose `.rows`. */
export async function queryRows<Row>(db: Db, sql: string, bindings: readonly unknown[] = []): Promise<Row[]> {
  const result = (await db.raw(sql, bindings as Knex.RawBinding[])) as { rows?: Row[] };
  return result.rows ?? [];
}

/**
 * bigint columns arrive as numbers when the connection's int8 parser is set (see connection.ts),
 * but may be strings or BigInts on other setups; every epoch-ms value is < 2^53, so Number is exact.
 */
export function toNumber(value: unknown): number {
  return typeof value === "number" ? value : Number(value);
}

export function toNumberOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : toNumber(value);
}

/**
 * Multi-row writes pass their rows as ONE json parameter expanded with json_to_recordset: one
 * statement per batch regardless of size, no 65,535-parameter limit, and the same SQL text each
 * time (so the server can reuse its plan).
 *
 * A jsonb column is declared `json` in the recordset and cast (`x.spec::jsonb`) where it is used:
 * json_to_recordset's own conversion of a field to jsonb cost ~4x what the cast (jsonb_in of the
 * same text) does; measured on 2,500 task rows, the insert took half the server time (issue 18).
 */
export function jsonParam(rows: readonly object[]): string {
  return JSON.stringify(rows);
}

/**
 * Batched UPDATEs return the ids they touched; a missing row means the caller's view of the
 * database is wrong (a bug upstream), so the whole write fails loudly instead of silently no-oping.
 */
export function assertAllUpdated(entity: "task" | "worker" | "attempt", wanted: readonly string[], touched: readonly { id: string }[]): void {
  if (touched.length === wanted.length) return;
  const seen = new Set(touched.map((row) => row.id));
  const missing = wanted.find((id) => !seen.has(id));
  if (missing !== undefined) throw new NotFoundError(entity, missing);
}

/** The check of a batched UPDATE ... RETURNING id that must touch every one of `ids` (distinct). */
export function everyRowUpdated(entity: "task" | "worker" | "attempt", ids: readonly string[]): StatementCheck {
  return expectRows(ids.length, (touched) => assertAllUpdated(entity, ids, touched as { id: string }[]));
}
