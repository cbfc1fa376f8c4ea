// `submit --array --after --after-any --after-fail --keep-invalid-dependency` (issue 17): the flags
// become the spec's fields; unset, the fields are absent (the master then sees a plain task).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseArgs } from "../../src/cli/args.js";
import { specFromFlags, SPEC_FLAGS } from "../../src/cli/spec-from-flags.js";
import { formatArraySummary } from "../../src/cli/commands/get.js";
import { Task } from "../../src/gen/taskgrid/v1/task.js";
import { TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { throwsUsage } from "../helpers/usage-error.js";

const spec = (...flags: string[]) => {
  const args = parseArgs([...flags, "--", "true"], SPEC_FLAGS, { stopAtPositional: true });
  return specFromFlags(args, args.rest, new Date());
};

test("--array and the dependency flags (comma lists, repeatable)", () => {
  const s = spec("--array", "0-999:2%10", "--after", "a,b", "--after", "c[7]", "--after-any", "d", "--after-fail", "e", "--keep-invalid-dependency");
  assert.is(s.array, "0-999:2%10");
  assert.equal(s.after, ["a", "b", "c[7]"]);
  assert.equal(s.afterAny, ["d"]);
  assert.equal(s.afterFail, ["e"]);
  assert.is(s.keepInvalidDependency, true);
});

test("unset: no such fields", () => {
  const s = spec();
  for (const key of ["array", "after", "afterAny", "afterFail", "keepInvalidDependency"]) assert.not.ok(key in s, key);
  throwsUsage(() => spec("--array", " "), "--array needs a range");
});

test("get ARRAY_ID: size and elements by state, those not created yet counted", () => {
  const el = (i: number, state: TaskState) => Task.fromPartial({ id: `t${i}`, state, arrayId: "arr", arrayIndex: i });
  const tasks = [el(0, TaskState.TASK_STATE_SUCCEEDED), el(1, TaskState.TASK_STATE_SUCCEEDED), el(2, TaskState.TASK_STATE_QUEUED)];
  const text = formatArraySummary("arr", { tasks, progress: { total: 3, created: 3, canceled: false } }, new Date());
  assert.match(text, /^array arr: 3 elements \(2 SUCCEEDED, 1 QUEUED\); one of them: arr\[N\]\n/);
  assert.match(text, /t2/);
  const lazy = formatArraySummary("arr", { tasks, progress: { total: 10, created: 3, canceled: false } }, new Date());
  assert.match(lazy, /^array arr: 10 elements \(2 SUCCEEDED, 1 QUEUED, 7 not created yet\)/);
  const canceled = formatArraySummary("arr", { tasks, progress: { total: 10, created: 3, canceled: true } }, new Date());
  assert.match(canceled, /7 CANCELED before they were created/);
});

test.run();
