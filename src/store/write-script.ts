// Runs a group-commit transaction in two round trips instead of one per statement.
//
// On a busy two-core machine every round trip to the database costs ~0.7 ms of waiting (the master,
// the server and the clients take turns on the cores), and a batch used to make ~6 of them (BEGIN,
// one per statement, COMMIT). Here the batch's statements are sent as ONE simple-protocol query
// string, "BEGIN; s1; s2; ...", their results are checked, and COMMIT follows as a second trip.
// Semantics are those of running the statements one by one in one transaction: Postgres runs them
// in order, each sees the ones before, and a failing one aborts the transaction (the rest of the
// string is skipped); the caller is answered only after COMMIT returns. A batch holding idempotency
// keys makes one more trip first (its SELECT decides which rows to write). COMMIT stays a trip of
// its own: the checks (ids an UPDATE returned) must pass before it; sending it with the statements
// when a batch has nothing to check made no measurable difference.
//
// The simple protocol takes no parameters, so each statement carries its one json parameter as an
// escaped string literal (see sqlLiteral).
import type pg from "pg";
import type { Knex } from "knex";
import type { Dialect } from "./connection.js";

/** One statement of a batch with its parameter inlined; `check` sees its rows before COMMIT. */
export interface BatchStatement {
  sql: string;
  check?: (rows: readonly Record<string, unknown>[]) => void;
}

/**
 * `sql` holds exactly one `?`, the json parameter (the *-sql.ts templates use `?::json`); the
 * replacement is a function so that `$` sequences in the data are never read as patterns.
 */
export function batchStatement(sql: string, json: string, check?: BatchStatement["check"]): BatchStatement {
  const literal = sqlLiteral(json);
  return { sql: sql.replace("?", () => literal), check };
}

/**
 * The same text as pg's escapeLiteral (libpq's rules: quotes doubled; with a backslash, an E''
 * string with backslashes doubled, so the result does not depend on standard_conforming_strings),
 * but with two native replaces: pg's character loop costs ~25x more on a batch's megabytes of json.
 */
export function sqlLiteral(text: string): string {
  const quoted = `'${text.replace(/'/g, "''")}'`;
  return text.includes("\\") ? ` E${quoted.replace(/\\/g, "\\\\")}` : quoted;
}

/** What a batch runs statements through: a transaction begun by the first call. */
export interface ScriptSession {
  /** Runs the statements in order in one round trip; resolves with each one's rows after its check. */
  run(statements: readonly BatchStatement[]): Promise<Record<string, unknown>[][]>;
}

type RawResult = { rows?: Record<string, unknown>[] };

/**
 * Takes a connection from the Knex pool (so PGlite's single connection and pg's pool are shared with
 * reads as before), runs `body` in a transaction and commits. Rolls back and rethrows if anything
 * fails; a body that ran no statement opens no transaction at all.
 */
export async function inScriptTransaction<T>(knex: Knex, dialect: Dialect, body: (session: ScriptSession) => Promise<T>): Promise<T> {
  const client = knex.client as { acquireConnection(): Promise<unknown>; releaseConnection(c: unknown): Promise<unknown> };
  const connection = await client.acquireConnection();
  const send = async (text: string): Promise<RawResult[]> => {
    if (dialect === "pglite") return await (connection as { exec(sql: string): Promise<RawResult[]> }).exec(text);
    const result = (await (connection as pg.Client).query(text)) as unknown as RawResult | RawResult[];
    return Array.isArray(result) ? result : [result];
  };
  let begun = false;
  const session: ScriptSession = {
    async run(statements) {
      if (statements.length === 0) return [];
      const texts = statements.map((s) => s.sql);
      const first = begun ? 0 : 1;
      if (!begun) texts.unshift("BEGIN");
      begun = true;
      // On an error Postgres skips the rest of the string and the transaction is aborted: the catch
      // below rolls it back.
      const results = await send(texts.join(";\n"));
      return statements.map((statement, i) => {
        const rows = results[i + first]?.rows ?? [];
        statement.check?.(rows);
        return rows;
      });
    },
  };
  try {
    const value = await body(session);
    if (begun) await send("COMMIT");
    return value;
  } catch (error) {
    // A failed statement leaves the transaction aborted (or a check failed before COMMIT): undo it
    // so the pooled connection goes back clean. If the connection itself broke, ROLLBACK fails too.
    if (begun) await send("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    await client.releaseConnection(connection);
  }
}
