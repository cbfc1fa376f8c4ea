// A task's history merges stored events with the ASSIGNED and RUNNING events derived from its
// attempt rows (migrations 0013, 0017): each lands before anything of its own attempt, after its
// predecessor's requeue.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { TaskEvent, TaskState } from "../../src/core/types.js";
import { placeDerived } from "../../src/store/events-sql.js";

const ev = (state: TaskState, timeMs: number, attemptNumber: number) => ({
  event: {
    taskId: "t",
    state,
    progress: 0,
    progressMessage: "",
    timeMs,
    attemptId: attemptNumber ? `a${attemptNumber}` : "",
    workerId: "",
    result: null,
    actor: "",
  } as TaskEvent,
  attemptNumber,
});
const placeAssigned = (stored: ReturnType<typeof ev>[], derived: ReturnType<typeof ev>[]) => placeDerived(stored, derived).map((e) => e.event);
const states = (events: TaskEvent[]) => events.map((e) => `${e.state}${e.attemptId ? `/${e.attemptId}` : ""}@${e.timeMs}`);

test("a retried task: each ASSIGNED after the previous attempt's requeue and before its own RUNNING, even at the same millisecond", () => {
  const stored = [ev("RUNNING", 12, 1), ev("QUEUED", 20, 1), ev("RUNNING", 20, 2), ev("SUCCEEDED", 30, 2)];
  const assigned = [ev("ASSIGNED", 10, 1), ev("ASSIGNED", 20, 2)];
  assert.equal(states(placeAssigned(stored, assigned)), [
    "ASSIGNED/a1@10",
    "RUNNING/a1@12",
    "QUEUED/a1@20",
    "ASSIGNED/a2@20",
    "RUNNING/a2@20",
    "SUCCEEDED/a2@30",
  ]);
});

test("an attempt's own events follow its assignment whatever their clock says (an agent's started time may be earlier)", () => {
  const stored = [ev("RUNNING", 5, 1), ev("FAILED", 9, 1)];
  assert.equal(states(placeAssigned(stored, [ev("ASSIGNED", 10, 1)])), ["ASSIGNED/a1@10", "RUNNING/a1@5", "FAILED/a1@9"]);
});

test("events about no attempt go by time: a pause request before, a cancel after", () => {
  const stored = [ev("PAUSED", 3, 0), ev("CANCELED", 15, 0)];
  assert.equal(states(placeAssigned(stored, [ev("ASSIGNED", 10, 1)])), ["PAUSED@3", "ASSIGNED/a1@10", "CANCELED@15"]);
});

test("derived RUNNING events follow their own ASSIGNED and precede the attempt's stored progress and end", () => {
  const stored = [ev("RUNNING", 14, 1), ev("QUEUED", 20, 1), ev("PAUSED", 25, 2), ev("RUNNING", 26, 2)];
  const derived = [ev("ASSIGNED", 10, 1), ev("ASSIGNED", 20, 2), ev("RUNNING", 21, 2)];
  // Attempt 1 started with progress (its RUNNING stored); attempt 2's start is derived.
  assert.equal(states(placeAssigned(stored, derived)), [
    "ASSIGNED/a1@10",
    "RUNNING/a1@14",
    "QUEUED/a1@20",
    "ASSIGNED/a2@20",
    "RUNNING/a2@21",
    "PAUSED/a2@25",
    "RUNNING/a2@26",
  ]);
});

test("a derived start after its attempt's stored assignment", () => {
  const stored = [ev("QUEUED", 20, 1), ev("ASSIGNED", 21, 2), ev("SUCCEEDED", 30, 2)];
  const derived = [ev("ASSIGNED", 10, 1), ev("RUNNING", 11, 1), ev("RUNNING", 22, 2)];
  assert.equal(states(placeAssigned(stored, derived)), [
    "ASSIGNED/a1@10",
    "RUNNING/a1@11",
    "QUEUED/a1@20",
    "ASSIGNED/a2@21",
    "RUNNING/a2@22",
    "SUCCEEDED/a2@30",
  ]);
});

test("nothing derived, or nothing stored", () => {
  assert.equal(states(placeAssigned([ev("CANCELED", 1, 0)], [])), ["CANCELED@1"]);
  assert.equal(states(placeAssigned([], [ev("ASSIGNED", 1, 1)])), ["ASSIGNED/a1@1"]);
});

test.run();
