// coalesceWrites (pure): successive writes of one row in a batch fold into one write with the same
// outcome, never across another write of that row, and never by mutating the caller's objects.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Attempt, Task, TaskEvent, TaskResult } from "../../src/core/types.js";
import type { LearningStats } from "../../src/core/rts/learning.js";
import type { RowOp } from "../../src/store/batch-plan.js";
import { coalesceWrites } from "../../src/store/coalesce-writes.js";
import { task, worker } from "../helpers/store-rows.js";

const ok: TaskResult = { outcome: "SUCCEEDED", exitCode: 0, signal: "", outputTail: "", durationMs: 1, message: "" };
const update = (taskId: string, state: "ASSIGNED" | "RUNNING" | "SUCCEEDED", updatedAtMs: number, result: TaskResult | null = null): RowOp => ({
  kind: "update_task",
  taskId,
  state,
  updatedAtMs,
  currentAttemptId: "a1",
  attemptCount: 1,
  result,
  retriesUsed: 0,
  requeues: 0,
  notBeforeMs: null,
});
const evt = (taskId: string, state: string): RowOp => ({ kind: "append_event", event: { taskId, state } as TaskEvent });
const attempt = (): Attempt => ({
  id: "a1",
  taskId: "t1",
  number: 1,
  workerId: "w",
  gpuIndexes: [],
  assignedAtMs: 1,
  startedAtMs: null,
  finishedAtMs: null,
  result: null,
  decision: null,
});
const learning = (workerId: string, samples: number): RowOp => ({ kind: "upsert_learning", stats: { kind: "k", workerId, samples } as LearningStats });

test("updates of one task fold into the last; events all stay, in order", () => {
  const ops = [
    update("t1", "ASSIGNED", 1),
    evt("t1", "ASSIGNED"),
    update("t1", "RUNNING", 2),
    evt("t1", "RUNNING"),
    update("t1", "SUCCEEDED", 3, ok),
    evt("t1", "SUCCEEDED"),
  ];
  const out = coalesceWrites(ops);
  assert.equal(out, [ops[4], ops[1], ops[3], ops[5]]);
});

test("an update folds into the insert of its task (a new object; the input is untouched)", () => {
  const t: Task = task();
  const insert: RowOp = { kind: "insert_task", task: t, queuedBy: "" };
  const out = coalesceWrites([insert, evt(t.id, "QUEUED"), update(t.id, "ASSIGNED", 99)]);
  assert.is(out.length, 2);
  const folded = out[0] as Extract<RowOp, { kind: "insert_task" }>;
  assert.is(folded.kind, "insert_task");
  assert.equal(folded.task, { ...t, state: "ASSIGNED", updatedAtMs: 99, currentAttemptId: "a1", attemptCount: 1, result: null });
  assert.is(t.state, "QUEUED");
  assert.is((insert as { task: Task }).task, t);
});

test("attempt updates fold into its insert, field by field (undefined keeps, null sets)", () => {
  const a = attempt();
  const out = coalesceWrites([
    { kind: "insert_attempt", attempt: a },
    { kind: "update_attempt", attemptId: "a1", startedAtMs: 5 },
    { kind: "update_attempt", attemptId: "a1", finishedAtMs: 7, result: ok },
  ]);
  assert.equal(out, [{ kind: "insert_attempt", attempt: { ...a, startedAtMs: 5, finishedAtMs: 7, result: ok } }]);
  assert.is(a.startedAtMs, null); // the live attempt object is not changed
  const partial = coalesceWrites([
    { kind: "update_attempt", attemptId: "a2", startedAtMs: 5, finishedAtMs: 6 },
    { kind: "update_attempt", attemptId: "a2", finishedAtMs: null, result: ok },
  ]);
  assert.equal(partial, [{ kind: "update_attempt", attemptId: "a2", startedAtMs: 5, finishedAtMs: null, result: ok }]);
});

test("another write of the row in between stops the fold", () => {
  const progress: RowOp = { kind: "update_progress", taskId: "t1", progress: 50, progressMessage: "", updatedAtMs: 2 };
  const miss: RowOp = { kind: "record_deadline_miss", taskId: "t1", workerId: "w" };
  const a = [update("t1", "RUNNING", 1), progress, update("t1", "SUCCEEDED", 3)];
  assert.equal(coalesceWrites(a), a);
  const b = [update("t1", "RUNNING", 1), miss, update("t1", "SUCCEEDED", 3)];
  assert.equal(coalesceWrites(b), b);
  // Other rows' writes do not stop it.
  const c = [update("t1", "RUNNING", 1), update("t2", "RUNNING", 2), update("t1", "SUCCEEDED", 3)];
  assert.equal(coalesceWrites(c), [c[2], c[1]]);
});

test("learning rows: the latest statistics per (kind, worker) win", () => {
  const ops = [learning("w1", 1), learning("w2", 1), learning("w1", 2), learning("w1", 3)];
  assert.equal(coalesceWrites(ops), [ops[3], ops[1]]);
});

test("worker status changes fold into each other and into the worker's upsert", () => {
  const w = worker("w9", { status: "OFFLINE", lastSeenAtMs: 5 });
  const out = coalesceWrites([
    { kind: "upsert_worker", worker: w },
    { kind: "update_worker_status", workerId: "w9", status: "SUSPECT", lastSeenAtMs: 10 },
    { kind: "update_worker_status", workerId: "w9", status: "ONLINE", lastSeenAtMs: 11 },
  ]);
  assert.equal(out, [{ kind: "upsert_worker", worker: { ...w, status: "ONLINE", lastSeenAtMs: 11 } }]);
  assert.is(w.status, "OFFLINE");
  assert.is(w.lastSeenAtMs, 5);
});

test.run();
