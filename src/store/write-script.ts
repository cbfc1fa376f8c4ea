// Runs a group-commit transaction in ONE round trip: "BEGIN; s1; s2; ...; COMMIT" as one
// simple-protocol query string.
//
// On a busy two-core machine every round trip to the database costs ~0.7 ms of waiting and more at
// the tail (the master, the server and the clients take turns on the cores; a reply waits for the
// master's event loop), and a batch used to make ~6 of them (BEGIN, one per statement, COMMIT),
// then two (the statements, then COMMIT once their results were checked). Semantics are those of
// running the statements one by one in one transaction: Postgres runs them in order, each sees the
// ones before, and a failing one aborts the transaction (the rest of the string, COMMIT included,
// is skipped); the caller is answered only after COMMIT returns.
//
// The checks (an UPDATE must touch every row it names, the leadership fence must hold) are made
// by the database inside the string: each checked statement is wrapped so that taskgrid_expect()
// (migration 0015) raises SQLSTATE TG001 when its condition fails, and COMMIT is never reached. A
// raised check rolls the transaction back and the batch is run again the old way, COMMIT as a trip
// of its own after the checks ran here, which throws the check's typed error (NotFoundError,
// FencedError) exactly as before; a failed check is a bug or a deposed leader, so the rerun is rare.
// A batch holding idempotency keys makes one more trip first (its SELECT decides which rows to
// write). A pipelined batch (group-commit.ts) must wait for its predecessor between its statements
// and its COMMIT (`beforeCommit`): its COMMIT is a trip of its own.
//
// The simple protocol takes no parameters, so each statement carries its one json parameter as an
// escaped string literal (see sqlLiteral).
import type pg from "pg";
import type { Knex } from "knex";
import type { Dialect } from "./connection.js";

/** What a statement's returned rows must satisfy for its batch to commit. */
export interface StatementCheck {
  /** Throws the check's typed error when the rows are wrong; runs here, before COMMIT. */
  verify(rows: readonly Record<string, unknown>[]): void;
  /**
   * The same check as a SQL condition over the statement's rows (an aggregate over `checked`,
   * e.g. `count(*) = 3`), so the database can make it and the statement can share its round trip
   * with COMMIT. Without one, the batch commits in a trip of its own after `verify`.
   */
  condition?: string;
}

/** One statement of a batch with its parameter inlined. */
export interface BatchStatement {
  sql: string;
  check?: StatementCheck;
}

/** The check of a statement that must return exactly `count` rows. */
export function expectRows(count: number, verify: StatementCheck["verify"]): StatementCheck {
  return { verify, condition: `count(*) = ${count}` };
}

/** SQLSTATE raised by taskgrid_expect() (migration 0015) when a check made in the database fails. */
export const CHECK_FAILED_SQLSTATE = "TG001";

/** The statement, wrapped so that the database raises CHECK_FAILED_SQLSTATE when its check fails. */
function checkedInDatabase(statement: BatchStatement): string {
  const condition = statement.check?.condition;
  if (condition === undefined) return statement.sql;
  return `WITH checked AS (${statement.sql}) SELECT taskgrid_expect(${condition}) FROM checked`;
}

/**
 * `sql` holds exactly one `?`, the json parameter (the *-sql.ts templates use `?::json`); the
 * replacement is a function so that `$` sequences in the data are never read as patterns.
 */
export function batchStatement(sql: string, json: string, check?: StatementCheck): BatchStatement {
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
  /**
   * Runs the statements and commits, in one round trip when every check among them has a
   * `condition`. A body's last call: nothing may run after it.
   */
  runAndCommit(statements: readonly BatchStatement[]): Promise<void>;
}

type RawResult = { rows?: Record<string, unknown>[] };

/**
 * Takes a connection from the Knex pool (so PGlite's single connection and pg's pool are shared with
 * reads as before), runs `body` in a transaction and commits. Rolls back and rethrows if anything
 * fails; a body that ran no statement opens no transaction at all. A check the database raised
 * reruns the body with its checks made here, to throw the check's own error.
 */
export async function inScriptTransaction<T>(
  knex: Knex,
  dialect: Dialect,
  body: (session: ScriptSession) => Promise<T>,
  beforeCommit?: () => Promise<void>,
): Promise<T> {
  try {
    return await runScriptTransaction(knex, dialect, body, true, beforeCommit);
  } catch (error) {
    if ((error as { code?: unknown }).code !== CHECK_FAILED_SQLSTATE) throw error;
    return await runScriptTransaction(knex, dialect, body, false, beforeCommit);
  }
}

async function runScriptTransaction<T>(
  knex: Knex,
  dialect: Dialect,
  body: (session: ScriptSession) => Promise<T>,
  checksInDatabase: boolean,
  beforeCommit: (() => Promise<void>) | undefined,
): Promise<T> {
  const client = knex.client as { acquireConnection(): Promise<unknown>; releaseConnection(c: unknown): Promise<unknown> };
  const connection = await client.acquireConnection();
  const send = async (text: string): Promise<RawResult[]> => {
    if (dialect === "pglite") return await (connection as { exec(sql: string): Promise<RawResult[]> }).exec(text);
    const result = (await (connection as pg.Client).query(text)) as unknown as RawResult | RawResult[];
    return Array.isArray(result) ? result : [result];
  };
  let begun = false;
  let committed = false;
  /** The statements' texts, after BEGIN when this is the transaction's first trip. */
  const script = (texts: string[]): string => {
    if (committed) throw new Error("a script transaction ran statements after its commit");
    const first = begun ? texts : ["BEGIN", ...texts];
    begun = true;
    return first.join(";\n");
  };
  const session: ScriptSession = {
    async run(statements) {
      if (statements.length === 0) return [];
      const first = begun ? 0 : 1;
      // On an error Postgres skips the rest of the string and the transaction is aborted: the catch
      // below rolls it back.
      const results = await send(script(statements.map((s) => s.sql)));
      return statements.map((statement, i) => {
        const rows = results[i + first]?.rows ?? [];
        statement.check?.verify(rows);
        return rows;
      });
    },
    async runAndCommit(statements) {
      const inOneTrip = checksInDatabase && statements.every((s) => s.check === undefined || s.check.condition !== undefined);
      if (!inOneTrip) {
        await session.run(statements);
        return;
      }
      if (statements.length === 0) return;
      if (beforeCommit) {
        // The checks still run in the database; COMMIT waits below.
        await send(script(statements.map(checkedInDatabase)));
        return;
      }
      await send(`${script(statements.map(checkedInDatabase))};\nCOMMIT`);
      committed = true;
    },
  };
  try {
    const value = await body(session);
    if (begun && !committed) {
      await beforeCommit?.();
      committed = true;
      await send("COMMIT");
    }
    return value;
  } catch (error) {
    // A failed statement leaves the transaction aborted (or a check failed before COMMIT): undo it
    // so the pooled connection goes back clean. If the connection itself broke, ROLLBACK fails too.
    if (begun && !committed) await send("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    await client.releaseConnection(connection);
  }
}
