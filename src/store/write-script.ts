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
// On Postgres the statements go as one pipeline of named prepared statements (their json as a
// parameter, no escaping, parsed once per connection: batch-statement.ts), written to the socket
// together; on PGlite, whose exec takes only a query string, as one script with the json inlined.
// Either way one round trip, and the same semantics: in a pipeline each statement is followed by a
// Sync, which inside BEGIN ends no transaction, and once one fails the rest fail and COMMIT rolls
// back; the first error (in statement order) is the batch's.
import type pg from "pg";
import type { Knex } from "knex";
import { inlineText, parameterized, type BatchStatement } from "./batch-statement.js";
import type { Dialect } from "./connection.js";

/** SQLSTATE raised by taskgrid_expect() (migration 0015) when a check made in the database fails. */
export const CHECK_FAILED_SQLSTATE = "TG001";

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

/** One round trip of a transaction: BEGIN first when `begin`, COMMIT last when `commit`. */
interface Trip {
  begin: boolean;
  statements: readonly BatchStatement[];
  /** Whether the database makes the statements' checks (their conditions). */
  checked: boolean;
  commit: boolean;
}

/** How a connection takes a transaction's trips. */
interface Wire {
  /** Resolves with the statements' results (BEGIN's and COMMIT's left out). */
  trip(trip: Trip): Promise<RawResult[]>;
  command(sql: "COMMIT" | "ROLLBACK"): Promise<void>;
}

/** PGlite: each trip is one script, the json inlined. */
function scriptWire(exec: (text: string) => Promise<RawResult[]>): Wire {
  return {
    async trip({ begin, statements, checked, commit }) {
      const texts = statements.map((s) => inlineText(s, checked));
      if (begin) texts.unshift("BEGIN");
      if (commit) texts.push("COMMIT");
      const results = await exec(texts.join(";\n"));
      const first = begin ? 1 : 0;
      return results.slice(first, first + statements.length);
    },
    async command(sql) {
      await exec(sql);
    },
  };
}

/** Postgres: each trip is one pipeline of prepared statements, written to the socket at once. */
function pipelineWire(client: pg.Client): Wire {
  const socket = (client as unknown as { connection: { stream: { cork(): void; uncork(): void } } }).connection.stream;
  return {
    async trip({ begin, statements, checked, commit }) {
      const queries: Array<string | pg.QueryConfig> = statements.map((s) => parameterized(s, checked));
      if (begin) queries.unshift("BEGIN");
      if (commit) queries.push("COMMIT");
      // Sent as they are queued: the client runs in pipeline mode (connection.ts). Without it they
      // would still run in order, one trip each. A query that throws instead of rejecting becomes a
      // rejection, so every promise made here is settled below (none is left to reject unheard).
      socket.cork();
      const pending = queries.map((q) => {
        try {
          return client.query(q as pg.QueryConfig);
        } catch (error) {
          return Promise.reject(error);
        }
      });
      socket.uncork();
      const settled = await Promise.allSettled(pending);
      const failed = settled.find((r) => r.status === "rejected");
      if (failed !== undefined) throw failed.reason;
      const first = begin ? 1 : 0;
      return settled.slice(first, first + statements.length).map((r) => (r as PromiseFulfilledResult<pg.QueryResult>).value);
    },
    async command(sql) {
      await client.query(sql);
    },
  };
}

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
  const wire =
    dialect === "pglite" ? scriptWire((text) => (connection as { exec(sql: string): Promise<RawResult[]> }).exec(text)) : pipelineWire(connection as pg.Client);
  let begun = false;
  let committed = false;
  /** Sends the statements, after BEGIN when this is the transaction's first trip. */
  const trip = (statements: readonly BatchStatement[], checked: boolean, commit: boolean): Promise<RawResult[]> => {
    if (committed) throw new Error("a script transaction ran statements after its commit");
    const begin = !begun;
    begun = true;
    return wire.trip({ begin, statements, checked, commit });
  };
  const session: ScriptSession = {
    async run(statements) {
      if (statements.length === 0) return [];
      // On an error the transaction is aborted: the catch below rolls it back.
      const results = await trip(statements, false, false);
      return statements.map((statement, i) => {
        const rows = results[i]?.rows ?? [];
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
        await trip(statements, true, false);
        return;
      }
      await trip(statements, true, true);
      committed = true;
    },
  };
  try {
    const value = await body(session);
    if (begun && !committed) {
      await beforeCommit?.();
      committed = true;
      await wire.command("COMMIT");
    }
    return value;
  } catch (error) {
    // A failed statement leaves the transaction aborted (or a check failed before COMMIT): undo it
    // so the pooled connection goes back clean. If the connection itself broke, ROLLBACK fails too.
    if (begun && !committed) await wire.command("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    await client.releaseConnection(connection);
  }
}
