import { test } from "uvu";
import * as assert from "uvu/assert";
import { FailedPreconditionError } from "../../src/core/errors.js";
import { assertTransition, canTransition } from "../../src/core/transitions.js";
import { TASK_STATES, type TaskState } from "../../src/core/types.js";

const legal: Array<[TaskState, TaskState]> = [
  ["QUEUED", "ASSIGNED"],
  ["QUEUED", "CANCELED"],
  ["ASSIGNED", "RUNNING"],
  ["ASSIGNED", "QUEUED"],
  ["RUNNING", "SUCCEEDED"],
  ["RUNNING", "FAILED"],
  ["RUNNING", "PAUSED"],
  ["PAUSED", "RUNNING"],
  ["RUNNING", "QUEUED"],
  ["PAUSED", "CANCELED"],
  ["RUNNING", "CANCELED"],
  ["ASSIGNED", "CANCELED"],
  ["QUEUED", "SUCCEEDED"], // the late success of an attempt given up on as LOST
];
const illegal: Array<[TaskState, TaskState]> = [
  ["SUCCEEDED", "CANCELED"],
  ["FAILED", "QUEUED"],
  ["CANCELED", "RUNNING"],
  ["QUEUED", "RUNNING"],
  ["QUEUED", "PAUSED"],
  ["ASSIGNED", "PAUSED"],
];

for (const [from, to] of legal) test(`${from} -> ${to} is legal`, () => assert.ok(canTransition(from, to)));
for (const [from, to] of illegal) {
  test(`${from} -> ${to} is FAILED_PRECONDITION`, () => {
    assert.not.ok(canTransition(from, to));
    assert.throws(
      () => assertTransition("t1", from, to),
      (e: unknown) => e instanceof FailedPreconditionError && e.message.includes("t1"),
    );
  });
}

test("terminal states have no way out", () => {
  for (const from of ["SUCCEEDED", "FAILED", "CANCELED"] as const) for (const to of TASK_STATES) assert.not.ok(canTransition(from, to));
});

test.run();
