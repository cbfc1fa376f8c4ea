// Which store jobs may run in two transactions at once (apply-batch.ts, conflictKeysOfJob): jobs
// that name a common row, however they touch it, conflict; so do two submissions with one
// idempotency key in one project (a batch beside another cannot see that one's uncommitted claim).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { conflictKeysOfJob, type StoreJob } from "../../src/store/apply-batch.js";
import type { StoreWrite } from "../../src/store/store-types.js";
import { event, request, task, taskUpdate, tick } from "../helpers/store-rows.js";

const conflict = (a: StoreJob, b: StoreJob): boolean => {
  const keys = new Set(conflictKeysOfJob(a));
  return [...conflictKeysOfJob(b)].some((key) => keys.has(key));
};
const writes = (...w: StoreWrite[]): StoreJob => ({ kind: "write", writes: w });
const submit = (...tasks: ReturnType<typeof task>[]): StoreJob => ({ kind: "submit", request: request(...tasks) });
const finished = (taskId: string): StoreWrite => taskUpdate(taskId, "SUCCEEDED");

test("a task's submission, its updates and its events conflict; other tasks do not", () => {
  const t = task();
  const other = task();
  assert.ok(conflict(submit(t), writes(finished(t.id))), "an update of a task being inserted");
  assert.ok(conflict(writes(finished(t.id)), writes(finished(t.id))));
  assert.ok(conflict(writes(finished(t.id)), writes({ kind: "append_event", event: event(t, "RUNNING") })), "an event of a task being updated");
  assert.not.ok(conflict(submit(t), submit(other)));
  assert.not.ok(conflict(writes(finished(t.id)), writes({ kind: "append_event", event: event(other, "RUNNING") })));
});

test("one idempotency key in one project conflicts; in another project it does not", () => {
  const a = task({ idempotencyKey: "k", project: "p" });
  const b = task({ idempotencyKey: "k", project: "p" });
  const c = task({ idempotencyKey: "k", project: "q" });
  assert.ok(conflict(submit(a), submit(b)));
  assert.not.ok(conflict(submit(a), submit(c)));
});

test("workers and learning rows are rows too", () => {
  const status = (workerId: string): StoreWrite => ({ kind: "update_worker_status", workerId, status: "ONLINE", lastSeenAtMs: tick() });
  assert.ok(conflict(writes(status("w1")), writes(status("w1"))));
  assert.not.ok(conflict(writes(status("w1")), writes(status("w2"))));
});

test.run();
