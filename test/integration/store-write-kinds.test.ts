// Each write kind's declared rows (write-kinds.ts, `rows`) against what its statement really does to
// the database. Batch planning is correct only if an entry names every row its statement writes
// and every row it needs to exist; this test fails when one is missing.
//
// How: for every kind, sample operations (the `samples` table must have one for every kind, or this
// file does not compile) each run through the kind's own `statements` builder on a real database
// (PGlite; Postgres too with TASKGRID_TEST_PG_URL), inside a transaction that is then rolled back.
// Just before and just after, in that same transaction, every row of every table of the schema is
// read as (primary key, xmin, row as json). xmin is the id of the transaction that wrote a row
// version, and Postgres never updates a row in place: an INSERT, and any UPDATE (even one writing
// equal values, or an upsert's DO UPDATE), leaves a row version whose xmin is this transaction's.
// So a row whose key is new was inserted, one whose xmin changed was updated, one that vanished
// was deleted: exactly the rows written, found without triggers, without help from the builders
// (no RETURNING needed), and in every table, including ones a kind is not expected to touch.
// Tables and primary keys, and foreign keys, come from the catalog, not from a list in this file.
//
// Checks, per sample: an inserted row is declared in `inserts` (or lies in the entry's `appendsTo`
// table, whose keys the database assigns); an updated row in `inserts` or `updates`; nothing is
// deleted (RowsTouched cannot declare it); every foreign key of an inserted row, or of a row whose
// key columns changed, points at a row in `references` or `inserts`; and the sample wrote at least
// one row (a sample that writes nothing proves nothing). Declaring more than is written is allowed:
// it costs batching, never correctness. The last test feeds deliberately incomplete declarations
// and checks that these comparisons catch them.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { randomUUID } from "node:crypto";
import type { Attempt, Task } from "../../src/core/types.js";
import type { LearningStats } from "../../src/core/rts/learning.js";
import { openKnex, type OpenedKnex } from "../../src/store/index.js";
import { migrateToLatest } from "../../src/store/migrations/index.js";
import { queryRows } from "../../src/store/sql-util.js";
import type { BatchStatement } from "../../src/store/batch-statement.js";
import { inScriptTransaction, type ScriptSession } from "../../src/store/write-script.js";
import { insertArrayElements } from "../../src/store/arrays-sql.js";
import { rowKey, WRITE_KINDS, writeKind, type RowOp, type RowOpKind, type RowOpOf, type RowsTouched, type Table } from "../../src/store/write-kinds.js";
import { backends, type TestDatabase } from "../helpers/db.js";
import { event, task, taskUpdate, tick, worker } from "../helpers/store-rows.js";

// ---- Fixtures (committed once) and one or more sample operations per kind ----

const fixtureTask: Task = task();
const fixtureWorker = worker(`w-${randomUUID()}`);
const attemptOf = (t: Task, id = randomUUID()): Attempt => ({
  id,
  taskId: t.id,
  number: 1,
  workerId: fixtureWorker.id,
  gpuIndexes: [0],
  assignedAtMs: tick(),
  startedAtMs: null,
  finishedAtMs: null,
  result: null,
  decision: null,
});
const fixtureAttempt = attemptOf(fixtureTask);
const learning = (workerId: string): LearningStats => ({
  kind: "train",
  workerId,
  runtimeRatio: 1.5,
  successes: 3,
  failures: 1,
  predictionError: 0.1,
  samples: 4,
  updatedAtMs: tick(),
});
const fixtureLearning = learning(fixtureWorker.id);
const fixtureUsage = { project: `p-${randomUUID()}`, usage: 3, atMs: tick() };
/** A job array of 10 indexes with its first element: its record is the submission's (insertArrayElements). */
const fixtureArrayHead: Task = { ...task(), arrayId: `a-${randomUUID()}`, arrayIndex: 0 };
const fixtureArrayRecord = insertArrayElements({ template: fixtureArrayHead, total: 10, elements: [], actor: "alice" });

/** Samples of every kind; the ones on fixture rows update them, the others insert new rows. */
const samples: { [K in RowOpKind]: RowOpOf<K>[] } = {
  insert_task: [
    { kind: "insert_task", task: task(), queuedBy: "alice" },
    { kind: "insert_task", task: task({}, { state: "SUCCEEDED" }), queuedBy: "alice", endedBy: "agent" },
  ],
  upsert_worker: [
    { kind: "upsert_worker", worker: worker(`w-${randomUUID()}`) },
    { kind: "upsert_worker", worker: { ...fixtureWorker, hostname: "renamed.local" } },
  ],
  insert_attempt: [
    { kind: "insert_attempt", attempt: attemptOf(fixtureTask) },
    { kind: "insert_attempt", attempt: { ...attemptOf(fixtureTask), borrowed: true } },
    { kind: "insert_attempt", attempt: attemptOf(fixtureTask), assignedBy: "alice", running: { atMs: tick(), by: "agent" } },
  ],
  update_attempt: [
    { kind: "update_attempt", attemptId: fixtureAttempt.id, startedAtMs: tick() },
    { kind: "update_attempt", attemptId: fixtureAttempt.id, finishedAtMs: tick(), result: null },
    { kind: "update_attempt", attemptId: fixtureAttempt.id, startedAtMs: tick(), running: { atMs: tick(), by: "agent" } },
  ],
  update_task: [
    {
      kind: "update_task",
      taskId: fixtureTask.id,
      state: "ASSIGNED",
      updatedAtMs: tick(),
      currentAttemptId: fixtureAttempt.id,
      attemptCount: 1,
      result: null,
      retriesUsed: 0,
      requeues: 0,
      notBeforeMs: null,
    },
    taskUpdate(fixtureTask.id, "SUCCEEDED", { endedBy: "agent" }),
  ],
  update_progress: [{ kind: "update_progress", taskId: fixtureTask.id, progress: 40, progressMessage: "x", updatedAtMs: tick() }],
  update_worker_status: [{ kind: "update_worker_status", workerId: fixtureWorker.id, status: "SUSPECT", lastSeenAtMs: tick() }],
  upsert_learning: [
    { kind: "upsert_learning", stats: learning(`w-${randomUUID()}`) },
    { kind: "upsert_learning", stats: { ...fixtureLearning, samples: 5 } },
  ],
  record_deadline_miss: [{ kind: "record_deadline_miss", taskId: fixtureTask.id, workerId: fixtureWorker.id }],
  upsert_project_usage: [
    { kind: "upsert_project_usage", usage: { project: `p-${randomUUID()}`, usage: 12.5, atMs: tick() } },
    { kind: "upsert_project_usage", usage: { ...fixtureUsage, usage: 99 } },
  ],
  append_event: [{ kind: "append_event", event: event(fixtureTask, "ASSIGNED", { attemptId: fixtureAttempt.id, workerId: fixtureWorker.id }) }],
  create_array_elements: [
    {
      kind: "create_array_elements",
      template: fixtureArrayHead,
      actor: "alice",
      fromCreated: 1,
      elements: [
        { id: randomUUID(), index: 1 },
        { id: randomUUID(), index: 2 },
      ],
    },
  ],
  set_task_hold: [
    { kind: "set_task_hold", taskId: fixtureTask.id, hold: true },
    { kind: "set_task_hold", taskId: fixtureTask.id, hold: false },
  ],
  set_array_hold: [{ kind: "set_array_hold", arrayId: fixtureArrayHead.arrayId ?? "", hold: true }],
  cancel_array: [{ kind: "cancel_array", arrayId: fixtureArrayHead.arrayId ?? "", canceledAtMs: tick(), reason: "enough" }],
};

const fixtures: RowOp[] = [
  { kind: "insert_task", task: fixtureTask, queuedBy: "" },
  { kind: "insert_task", task: fixtureArrayHead, queuedBy: "alice" },
  { kind: "upsert_worker", worker: fixtureWorker },
  { kind: "insert_attempt", attempt: fixtureAttempt },
  { kind: "upsert_learning", stats: fixtureLearning },
  { kind: "upsert_project_usage", usage: fixtureUsage },
];

// ---- The schema, from the catalog ----

interface Schema {
  /** Table -> its primary-key columns, in key order. */
  primaryKeys: Map<string, string[]>;
  foreignKeys: { table: string; columns: string[]; refTable: string; refColumns: string[] }[];
}

const SCHEMA_OID = `(SELECT oid FROM pg_namespace WHERE nspname = current_schema())`;

async function readSchema(conn: OpenedKnex): Promise<Schema> {
  const tables = await queryRows<{ table: string; pk: string | null }>(
    conn.knex,
    `SELECT c.relname AS table,
       (SELECT json_agg(a.attname ORDER BY k.ord) FROM pg_index i
          CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
        WHERE i.indrelid = c.oid AND i.indisprimary)::text AS pk
     FROM pg_class c WHERE c.relkind = 'r' AND c.relnamespace = ${SCHEMA_OID}`,
  );
  const primaryKeys = new Map<string, string[]>();
  for (const { table, pk } of tables) {
    // Rows are matched by primary key: a table without one could not be checked.
    if (pk === null) throw new Error(`table ${table} has no primary key; teach this test how to name its rows`);
    primaryKeys.set(table, JSON.parse(pk) as string[]);
  }
  const keys = await queryRows<{ table: string; columns: string; ref_table: string; ref_columns: string }>(
    conn.knex,
    `SELECT c.relname AS table, r.relname AS ref_table,
       (SELECT json_agg(a.attname ORDER BY k.ord) FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum)::text AS columns,
       (SELECT json_agg(a.attname ORDER BY k.ord) FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum)::text AS ref_columns
     FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_class r ON r.oid = con.confrelid
     WHERE con.contype = 'f' AND c.relnamespace = ${SCHEMA_OID}`,
  );
  const foreignKeys = keys.map((k) => ({
    table: k.table,
    columns: JSON.parse(k.columns) as string[],
    refTable: k.ref_table,
    refColumns: JSON.parse(k.ref_columns) as string[],
  }));
  return { primaryKeys, foreignKeys };
}

// ---- Row snapshots and their difference ----

type Row = Record<string, unknown>;
/** Table -> (row name, see nameOf) -> the row version's xmin and contents. */
type Snapshot = Map<string, Map<string, { xmin: string; row: Row }>>;

/** A database row's name: its row key (write-kinds.ts), the name the entries declare rows by. */
const nameOf = (table: string, pk: readonly unknown[]) => rowKey(table as Table, ...pk.map(String));
/** A row name in a message (JSON shows a composite key's NUL separator). */
const show = (name: string) => JSON.stringify(name);

async function snapshot(session: ScriptSession, schema: Schema): Promise<Snapshot> {
  const tables = [...schema.primaryKeys.keys()];
  const results = await session.run(tables.map((table) => ({ sql: `SELECT xmin::text AS xmin, row_to_json(t)::text AS row FROM "${table}" AS t` })));
  const snap: Snapshot = new Map();
  tables.forEach((table, i) => {
    const pk = schema.primaryKeys.get(table) ?? [];
    const rows = new Map<string, { xmin: string; row: Row }>();
    for (const r of results[i]) {
      const row = JSON.parse(r.row as string) as Row;
      rows.set(
        nameOf(
          table,
          pk.map((column) => row[column]),
        ),
        { xmin: r.xmin as string, row },
      );
    }
    snap.set(table, rows);
  });
  return snap;
}

interface Change {
  kind: "inserted" | "updated" | "deleted";
  table: string;
  name: string;
  before?: Row;
  after?: Row;
}

function changesBetween(before: Snapshot, after: Snapshot): Change[] {
  const changes: Change[] = [];
  for (const [table, rows] of after) {
    const old = before.get(table) ?? new Map();
    for (const [name, now] of rows) {
      const was = old.get(name);
      if (was === undefined) changes.push({ kind: "inserted", table, name, after: now.row });
      else if (was.xmin !== now.xmin) changes.push({ kind: "updated", table, name, before: was.row, after: now.row });
    }
    for (const [name, was] of old) if (!rows.has(name)) changes.push({ kind: "deleted", table, name, before: was.row });
  }
  return changes;
}

/** Everything wrong with `declared` as a description of `changes` (empty when it is right). */
function problemsOf(declared: RowsTouched, changes: readonly Change[], schema: Schema): string[] {
  const inserts = new Set(declared.inserts);
  const updates = new Set(declared.updates);
  const references = new Set(declared.references);
  const problems: string[] = [];
  if (changes.length === 0) problems.push("wrote no row at all: the sample proves nothing");
  for (const change of changes) {
    if (change.kind === "deleted") problems.push(`deleted ${show(change.name)}: RowsTouched cannot declare deletes`);
    else if (change.kind === "inserted" && !inserts.has(change.name) && change.table !== declared.appendsTo) {
      problems.push(`inserted ${show(change.name)}, not declared in inserts (nor its table in appendsTo)`);
    } else if (change.kind === "updated" && !inserts.has(change.name) && !updates.has(change.name)) {
      problems.push(`updated ${show(change.name)}, not declared in inserts or updates`);
    }
    // Postgres checks a foreign key when its row is inserted or its key columns change (MATCH
    // SIMPLE: not when one of them is NULL); the row it points at must then exist.
    for (const fk of schema.foreignKeys) {
      if (fk.table !== change.table || change.after === undefined) continue;
      const values = fk.columns.map((column) => change.after?.[column]);
      if (values.some((v) => v === null || v === undefined)) continue;
      if (change.before !== undefined && fk.columns.every((column) => change.before?.[column] === change.after?.[column])) continue;
      const refPk = schema.primaryKeys.get(fk.refTable) ?? [];
      const positions = refPk.map((column) => fk.refColumns.indexOf(column));
      if (positions.includes(-1) || refPk.length !== fk.refColumns.length) {
        problems.push(`${fk.table} (${fk.columns}) references ${fk.refTable} (${fk.refColumns}), not its primary key: teach this test`);
        continue;
      }
      const target = nameOf(
        fk.refTable,
        positions.map((p) => values[p]),
      );
      if (!references.has(target) && !inserts.has(target)) {
        problems.push(`${change.kind} ${show(change.name)}, whose foreign key needs ${show(target)}, not declared in references or inserts`);
      }
    }
  }
  return problems;
}

/** The sentinel that rolls the probe's transaction back (inScriptTransaction rethrows after ROLLBACK). */
class RolledBack extends Error {
  constructor(readonly changes: Change[]) {
    super("rolled back");
  }
}

/** Runs `statements` in a transaction that is rolled back; returns the rows they wrote. */
async function changesOf(conn: OpenedKnex, schema: Schema, statements: readonly BatchStatement[]): Promise<Change[]> {
  try {
    await inScriptTransaction(conn.knex, conn.dialect, async (session) => {
      const before = await snapshot(session, schema);
      await session.run(statements); // also runs their checks (e.g. "every updated id exists")
      throw new RolledBack(changesBetween(before, await snapshot(session, schema)));
    });
  } catch (error) {
    if (error instanceof RolledBack) return error.changes;
    throw error;
  }
  throw new Error("the probe transaction committed");
}

const statementsOf = (op: RowOp) => [writeKind(op.kind).statements([op])].flat();

// ---- The suite, once per backend ----

for (const backend of backends()) {
  const test = suite(`write kinds [${backend.name}]`);
  let db: TestDatabase;
  let conn: OpenedKnex;
  let schema: Schema;

  test.before(async () => {
    db = await backend.create();
    conn = await openKnex(db.config);
    await migrateToLatest(conn.knex);
    schema = await readSchema(conn);
    await inScriptTransaction(conn.knex, conn.dialect, (session) => session.run([...fixtures.flatMap(statementsOf), ...fixtureArrayRecord]));
  });
  test.after(async () => {
    await conn.close();
    await db.cleanup();
  });

  for (const kind of Object.keys(WRITE_KINDS) as RowOpKind[]) {
    test(`${kind}: declared rows cover every row its statement writes or needs`, async () => {
      const ops: RowOp[] = samples[kind];
      assert.ok(ops.length > 0, "at least one sample");
      for (const op of ops) {
        const changes = await changesOf(conn, schema, statementsOf(op));
        assert.equal(problemsOf(writeKind(kind).rows(op), changes, schema), [], `sample ${JSON.stringify(op)}`);
      }
    });
  }

  test("a foldable kind inserts or updates exactly one row, the one it folds on", () => {
    for (const kind of Object.keys(WRITE_KINDS) as RowOpKind[]) {
      if (writeKind(kind).fold === undefined) continue;
      for (const op of samples[kind]) {
        const rows = writeKind(kind).rows(op);
        assert.is((rows.inserts ?? []).length + (rows.updates ?? []).length, 1, kind);
      }
    }
  });

  test("the comparison catches a missing row and a missing reference", async () => {
    // record_deadline_miss declared without its worker: the counter update is undeclared.
    const miss = samples.record_deadline_miss[0];
    const missChanges = await changesOf(conn, schema, statementsOf(miss));
    const missProblems = problemsOf({ updates: [rowKey("tasks", miss.taskId)] }, missChanges, schema);
    assert.equal(missProblems, [`updated ${show(nameOf("workers", [miss.workerId]))}, not declared in inserts or updates`]);
    // An event declared with nothing at all: the appended row. (Since migration 0013 no table has a
    // foreign key, so no missing reference can be shown; the check above stays for any future one.)
    assert.equal(schema.foreignKeys, []);
    const append = samples.append_event[0];
    assert.equal(problemsOf({}, await changesOf(conn, schema, statementsOf(append)), schema).length, 1);
  });

  test.run();
}
