// A group-commit batch goes to the database in one round trip, COMMIT included, with its checks made
// by the database (src/store/write-script.ts, migration 0015). Counted here: the round trips each
// batch takes, and what a failed check leaves behind (nothing committed, the check's typed error).
// Once per backend (PGlite; Postgres too with TASKGRID_TEST_PG_URL).
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { randomUUID } from "node:crypto";
import type { Knex } from "knex";
import { NotFoundError } from "../../src/core/errors.js";
import { openKnex, type OpenedKnex } from "../../src/store/index.js";
import { migrateToLatest } from "../../src/store/migrations/index.js";
import { queryRows } from "../../src/store/sql-util.js";
import { upsertWorkers, updateWorkerStatuses } from "../../src/store/workers-sql.js";
import type { BatchStatement } from "../../src/store/batch-statement.js";
import { inScriptTransaction } from "../../src/store/write-script.js";
import { backends, type TestDatabase } from "../helpers/db.js";
import { worker } from "../helpers/store-rows.js";

/** Where the connections' round trips are recorded while a test counts them. */
let sink: string[] | null = null;
/** Writes to the Postgres connections' sockets while a test counts (a pipeline goes in one). */
let socketWrites = 0;
const patched = new WeakSet<object>();
/** The trip being recorded: queries issued in one synchronous burst are one pipeline, one trip. */
let burst: string[] | null = null;

function record(text: string): void {
  if (sink === null) return;
  if (burst === null) {
    const trip: string[] = (burst = []);
    const into = sink;
    queueMicrotask(() => {
      into.push(trip.join(";\n"));
      burst = null;
    });
  }
  burst.push(text);
}

/**
 * Records the round trips on the connections the Knex pool hands out: a script (PGlite's exec, a
 * query string) as it is, a pipeline (Postgres: prepared statements sent together) as its texts
 * joined the same way.
 */
function countTrips(knex: Knex): { texts: string[]; socketWrites(): number; stop(): void } {
  const texts: string[] = [];
  sink = texts;
  const writesBefore = socketWrites;
  const client = knex.client as { acquireConnection(): Promise<Record<string, unknown>> };
  const acquire = client.acquireConnection.bind(client);
  client.acquireConnection = async () => {
    const connection = await acquire();
    if (patched.has(connection)) return connection;
    patched.add(connection);
    const socket = (connection.connection as { stream?: Record<string, unknown> } | undefined)?.stream;
    for (const method of ["_write", "_writev"]) {
      const original = socket?.[method];
      if (socket === undefined || typeof original !== "function") continue;
      socket[method] = (...args: unknown[]) => {
        if (sink !== null) socketWrites++;
        return (original as (...a: unknown[]) => unknown).apply(socket, args);
      };
    }
    for (const method of ["query", "exec"]) {
      const original = connection[method];
      if (typeof original !== "function") continue;
      connection[method] = (query: unknown, ...rest: unknown[]) => {
        if (typeof query === "string") record(query);
        else if (typeof (query as { text?: unknown })?.text === "string") record((query as { text: string }).text);
        return (original as (...a: unknown[]) => unknown).call(connection, query, ...rest);
      };
    }
    return connection;
  };
  return {
    texts,
    socketWrites: () => socketWrites - writesBefore,
    stop: () => {
      sink = null;
      client.acquireConnection = acquire;
    },
  };
}

for (const backend of backends()) {
  const test = suite(`one-trip write batches [${backend.name}]`);
  let db: TestDatabase;
  let conn: OpenedKnex;

  test.before(async () => {
    db = await backend.create();
    conn = await openKnex(db.config);
    await migrateToLatest(conn.knex);
  });
  test.after(async () => {
    await conn.close();
    await db.cleanup();
  });

  /** On a connection of its own, outside the pool (Postgres only). */
  const outsideStatusOf = async (id: string): Promise<string | null> => {
    const other = await openKnex(db.config);
    try {
      return (await queryRows<{ status: string }>(other.knex, "SELECT status FROM workers WHERE id = ?", [id]))[0]?.status ?? null;
    } finally {
      await other.close();
    }
  };
  const statusOf = async (id: string) => (await queryRows<{ status: string }>(conn.knex, "SELECT status FROM workers WHERE id = ?", [id]))[0]?.status ?? null;
  const run = async (statements: BatchStatement[], beforeCommit?: () => Promise<void>) => {
    const trips = countTrips(conn.knex);
    try {
      const error = await inScriptTransaction(conn.knex, conn.dialect, (session) => session.runAndCommit(statements), beforeCommit).then(
        () => null,
        (e: unknown) => e,
      );
      return { error, texts: trips.texts.filter((t) => !t.startsWith("SELECT status")), socketWrites: trips.socketWrites() };
    } finally {
      trips.stop();
    }
  };

  test("a batch whose checks the database makes commits in one round trip", async () => {
    const w = worker(`w-${randomUUID()}`);
    await run([upsertWorkers([w])]);
    const { error, texts, socketWrites } = await run([updateWorkerStatuses([{ workerId: w.id, status: "DRAINING", lastSeenAtMs: 1 }])]);
    assert.is(error, null);
    assert.is(texts.length, 1, texts.join("\n---\n"));
    // Postgres: BEGIN, the statement and COMMIT are a pipeline written to the socket at once.
    if (conn.dialect === "postgres") assert.is(socketWrites, 1);
    assert.match(texts[0], /^BEGIN;/);
    assert.match(texts[0], /taskgrid_expect\(count\(\*\) = (1|\$2)\)/);
    assert.match(texts[0], /COMMIT$/);
    assert.is(await statusOf(w.id), "DRAINING");
  });

  test("Postgres plans the batches' prepared statements at each execution, with the tables as they are", async () => {
    // A generic plan kept from a connection's first batches (tasks still few) scanned the whole
    // table per UPDATE ... FROM json_to_recordset later on (connection.ts).
    if (conn.dialect !== "postgres") return;
    const rows = await queryRows<{ plan_cache_mode: string }>(conn.knex, "SHOW plan_cache_mode");
    assert.is(rows[0].plan_cache_mode, "force_custom_plan");
  });

  test("a failed check commits nothing and throws the check's own error", async () => {
    const w = worker(`w-${randomUUID()}`);
    const { error, texts } = await run([
      upsertWorkers([w]),
      updateWorkerStatuses([{ workerId: `missing-${randomUUID()}`, status: "OFFLINE", lastSeenAtMs: 1 }]),
    ]);
    assert.instance(error, NotFoundError);
    // The one-trip try raised in the database and was rolled back; the rerun ran the statements,
    // failed the check here (before any COMMIT) and rolled back too.
    assert.equal(
      texts.map((t) => (t.startsWith("BEGIN;") ? (t.endsWith("COMMIT") ? "one trip" : "statements") : t)),
      ["one trip", "ROLLBACK", "statements", "ROLLBACK"],
    );
    assert.is(await statusOf(w.id), null, "the worker inserted in the same batch was not committed");
  });

  test("a check the database cannot make keeps COMMIT a trip of its own, after it", async () => {
    const w = worker(`w-${randomUUID()}`);
    const seen: number[] = [];
    const upsert = upsertWorkers([w]);
    const { error, texts } = await run([
      upsert,
      { sql: "SELECT count(*)::int AS n FROM workers", check: { verify: (rows) => void seen.push(Number(rows[0].n)) } },
    ]);
    assert.is(error, null);
    assert.is(texts.length, 2);
    assert.is(texts[1], "COMMIT");
    assert.ok(seen[0] >= 1, "the check saw the statement's rows before COMMIT");
    assert.is(await statusOf(w.id), w.status);
  });

  test("a pipelined batch runs its checked statements, waits before COMMIT, then commits", async () => {
    const w = worker(`w-${randomUUID()}`);
    await run([upsertWorkers([w])]);
    let statusWhileWaiting: string | null = null;
    const { error, texts } = await run([updateWorkerStatuses([{ workerId: w.id, status: "DRAINING", lastSeenAtMs: 1 }])], async () => {
      // Its predecessor is still committing: this batch's change is not visible yet (PGlite's one
      // connection is this transaction's own, so only Postgres can look from outside).
      if (conn.dialect === "postgres") statusWhileWaiting = await outsideStatusOf(w.id);
    });
    assert.is(error, null);
    assert.equal(
      texts.map((t) => (t.startsWith("BEGIN;") ? (t.endsWith("COMMIT") ? "one trip" : "statements") : t)),
      ["statements", "COMMIT"],
    );
    assert.match(texts[0], /taskgrid_expect\(count\(\*\) = (1|\$2)\)/, "the check is still made by the database");
    if (conn.dialect === "postgres") assert.is(statusWhileWaiting, w.status);
    assert.is(await statusOf(w.id), "DRAINING");
  });

  test("a pipelined batch whose check fails never reaches its wait, and commits nothing", async () => {
    let waited = false;
    const { error, texts } = await run([updateWorkerStatuses([{ workerId: `missing-${randomUUID()}`, status: "OFFLINE", lastSeenAtMs: 1 }])], async () => {
      waited = true;
    });
    assert.instance(error, NotFoundError);
    assert.not.ok(waited);
    assert.not.ok(texts.includes("COMMIT"), texts.join("\n---\n"));
  });

  test.run();
}
