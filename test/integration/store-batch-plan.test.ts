// planBatch (pure): the statement grouping behind group commit must keep per-row write order while
// collapsing independent operations into one statement per kind.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Task, TaskEvent } from "../../src/core/types.js";
import { planBatch, type RowOp } from "../../src/store/batch-plan.js";

const taskOf = (id: string) => ({ id }) as Task;
const insert = (id: string): RowOp => ({ kind: "insert_task", task: taskOf(id), queuedBy: "" });
const update = (id: string, state: "ASSIGNED" | "RUNNING"): RowOp => ({
  kind: "update_task",
  taskId: id,
  state,
  updatedAtMs: 0,
  currentAttemptId: null,
  attemptCount: 0,
  result: null,
  retriesUsed: 0,
  requeues: 0,
  notBeforeMs: null,
});
const evt = (id: string): RowOp => ({ kind: "append_event", event: { taskId: id } as TaskEvent });
const shape = (ops: RowOp[]) => planBatch(ops).map((g) => `${g.kind}x${g.ops.length}`);

test("independent tasks: one statement per kind, inserts before events", () => {
  assert.equal(shape([insert("a"), evt("a"), insert("b"), evt("b"), update("c", "RUNNING"), evt("c")]), ["insert_taskx2", "update_taskx1", "append_eventx3"]);
});

test("two updates of one row go to successive statements, in order", () => {
  const groups = planBatch([update("a", "ASSIGNED"), evt("a"), update("b", "ASSIGNED"), update("a", "RUNNING"), evt("a")]);
  assert.equal(
    groups.map((g) => g.kind),
    ["update_task", "append_event", "update_task"],
  );
  assert.equal(
    groups[0].ops.map((op) => (op as { state: string }).state),
    ["ASSIGNED", "ASSIGNED"],
  );
  assert.equal(
    groups[2].ops.map((op) => (op as { state: string }).state),
    ["RUNNING"],
  );
  // Both events of "a" share one statement, which inserts them in array order.
  assert.is(groups[1].ops.length, 2);
});

test("a worker status change before a re-registration stays before it", () => {
  const w = { id: "w" } as never;
  const groups = planBatch([
    { kind: "update_worker_status", workerId: "w", status: "OFFLINE", lastSeenAtMs: 1 },
    { kind: "upsert_worker", worker: w },
  ]);
  assert.equal(
    groups.map((g) => g.kind),
    ["update_worker_status", "upsert_worker"],
  );
});

test.run();
