// The pure rules of job arrays and dependencies (issue 17): range parsing and its errors, element
// addresses, dependency evaluation (ready / waiting / impossible) for tasks and arrays, and the
// batch DAG checks ("#N" references, cycles).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { arraySizeOf, maxRunningOf, parseArrayRange, parseElementRef } from "../../src/core/arrays.js";
import { checkBatchDag, checkDependencyRefs, evaluateDependencies, findCycle, type TargetStatus } from "../../src/core/dependencies.js";
import { InvalidArgumentError } from "../../src/core/errors.js";

function rejects(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
  } catch (err) {
    assert.instance(err, InvalidArgumentError);
    assert.match((err as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected ${pattern}`);
}

test("ranges: plain, stepped, lists and the %N cap", () => {
  assert.equal(parseArrayRange("0-4", 100), { indexes: [0, 1, 2, 3, 4], maxRunning: null });
  assert.equal(parseArrayRange("1-9:4", 100).indexes, [1, 5, 9]);
  assert.equal(parseArrayRange("7", 100).indexes, [7]);
  assert.equal(parseArrayRange("8-10,0,4", 100).indexes, [0, 4, 8, 9, 10]);
  assert.equal(parseArrayRange("0-999%10", 1000), { indexes: Array.from({ length: 1000 }, (_, i) => i), maxRunning: 10 });
  assert.is(maxRunningOf("0-999%10"), 10);
  assert.is(maxRunningOf("0-999"), null);
  assert.is(maxRunningOf(undefined), null);
  assert.is(arraySizeOf("0-99999:2%5"), 50_000);
  assert.is(arraySizeOf("1,3,5-7"), 5);
});

test("bad ranges name the field and the rule; a huge one is refused before any index is listed", () => {
  rejects(() => parseArrayRange("", 100), /^array: must not be empty/);
  rejects(() => parseArrayRange("  ", 100, "spec.array"), /^spec\.array: must not be empty/);
  rejects(() => parseArrayRange("9-3", 100), /range 9-3 is reversed/);
  rejects(() => parseArrayRange("0-9:0", 100), /step must be >= 1/);
  rejects(() => parseArrayRange("0-9%0", 100), /%MAX must be >= 1/);
  rejects(() => parseArrayRange("0-9%x", 100), /%MAX must be a whole number/);
  rejects(() => parseArrayRange("a-b", 100), /must look like "0-999"/);
  rejects(() => parseArrayRange("1,,2", 100), /must look like/);
  rejects(() => parseArrayRange("-1-3", 100), /must look like/);
  rejects(() => parseArrayRange("1-3,2", 100), /index 2 is listed twice/);
  rejects(() => parseArrayRange("0-100", 100), /at most 100 indexes per array/);
  rejects(() => parseArrayRange("0-2147483647", 100_000), /at most 100000 indexes/);
  rejects(() => parseArrayRange("0-9999999999", 100), /indexes must be <= 2147483647/);
});

test("element addresses", () => {
  assert.equal(parseElementRef("abc[7]"), { arrayId: "abc", index: 7 });
  assert.is(parseElementRef("abc"), null);
  assert.is(parseElementRef("abc[x]"), null);
  assert.is(parseElementRef("[7]"), null);
  assert.is(parseElementRef("abc[99999999999]"), null);
});

const task = (state: string): TargetStatus => ({ kind: "task", state: state as never });
const array = (total: number, succeeded: number, failed: number): TargetStatus => ({ kind: "array", total, succeeded, failed });

test("after (ok): met on SUCCEEDED, waiting before, impossible on FAILED or CANCELED", () => {
  const deps = [{ kind: "after" as const, target: "t1" }];
  assert.equal(
    evaluateDependencies(deps, () => task("RUNNING")),
    { kind: "waiting", reason: "waiting: after task t1 (RUNNING)" },
  );
  assert.equal(
    evaluateDependencies(deps, () => task("SUCCEEDED")),
    { kind: "ready" },
  );
  assert.equal(
    evaluateDependencies(deps, () => task("FAILED")),
    { kind: "impossible", reason: "dependency can never be met: after task t1 (FAILED)" },
  );
  assert.is(evaluateDependencies(deps, () => task("CANCELED")).kind, "impossible");
  assert.is(evaluateDependencies(deps, () => undefined).kind, "waiting");
});

test("after-any and after-fail", () => {
  const any = [{ kind: "afterAny" as const, target: "t" }];
  const fail = [{ kind: "afterFail" as const, target: "t" }];
  assert.is(evaluateDependencies(any, () => task("QUEUED")).kind, "waiting");
  for (const s of ["SUCCEEDED", "FAILED", "CANCELED"]) assert.is(evaluateDependencies(any, () => task(s)).kind, "ready", s);
  assert.is(evaluateDependencies(fail, () => task("FAILED")).kind, "ready");
  assert.is(evaluateDependencies(fail, () => task("CANCELED")).kind, "ready");
  assert.equal(
    evaluateDependencies(fail, () => task("SUCCEEDED")),
    { kind: "impossible", reason: "dependency can never be met: after-fail task t (SUCCEEDED)" },
  );
  assert.equal(
    evaluateDependencies(fail, () => task("PAUSED")),
    { kind: "waiting", reason: "waiting: after-fail task t (PAUSED)" },
  );
});

test("an array dependency is met when all its elements are", () => {
  const ok = [{ kind: "after" as const, target: "a" }];
  assert.equal(
    evaluateDependencies(ok, () => array(20, 5, 0)),
    { kind: "waiting", reason: "waiting: after array a (5/20 ended)" },
  );
  assert.is(evaluateDependencies(ok, () => array(20, 20, 0)).kind, "ready");
  assert.equal(
    evaluateDependencies(ok, () => array(20, 5, 1)),
    {
      kind: "impossible",
      reason: "dependency can never be met: after array a (6/20 ended, 1 FAILED or CANCELED)",
    },
  );
  const any = [{ kind: "afterAny" as const, target: "a" }];
  assert.is(evaluateDependencies(any, () => array(3, 1, 1)).kind, "waiting");
  assert.is(evaluateDependencies(any, () => array(3, 1, 2)).kind, "ready");
  const fail = [{ kind: "afterFail" as const, target: "a" }];
  assert.is(evaluateDependencies(fail, () => array(3, 1, 1)).kind, "waiting");
  assert.is(evaluateDependencies(fail, () => array(3, 2, 1)).kind, "ready");
  assert.is(evaluateDependencies(fail, () => array(3, 3, 0)).kind, "impossible");
});

test("several dependencies: impossible beats waiting; the reason names the first pending and counts the rest", () => {
  const deps = [
    { kind: "after" as const, target: "a" },
    { kind: "after" as const, target: "b" },
    { kind: "afterAny" as const, target: "c" },
  ];
  const states: Record<string, TargetStatus> = { a: task("SUCCEEDED"), b: task("RUNNING"), c: task("QUEUED") };
  assert.equal(
    evaluateDependencies(deps, (t) => states[t]),
    { kind: "waiting", reason: "waiting: after task b (RUNNING) and 1 more" },
  );
  states.c = task("FAILED");
  states.b = task("CANCELED");
  assert.is(evaluateDependencies(deps, (t) => states[t]).kind, "impossible");
  assert.equal(
    evaluateDependencies([], () => undefined),
    { kind: "ready" },
  );
});

test("batch DAG: #N references in range, not the spec itself, no cycle (named)", () => {
  const f = (i: number) => `specs[${i}]`;
  checkBatchDag([{}, { after: ["#0"] }, { after: ["#1"], afterAny: ["#0"] }], f);
  checkBatchDag([{ after: ["some-id"] }], f);
  rejects(() => checkBatchDag([{ after: ["#3"] }, {}], f), /^specs\[0\]\.after\[0\]: #3 names no spec of this request \(it has 2: #0\.\.#1\)/);
  rejects(() => checkBatchDag([{ afterFail: ["#0"] }], f), /^specs\[0\]\.after_fail\[0\]: #0 is the spec itself/);
  rejects(
    () => checkBatchDag([{ after: ["#2"] }, { after: ["#0"] }, { afterAny: ["#1"] }], f),
    /^specs: dependencies form a cycle: specs\[0\] -> specs\[2\] -> specs\[1\] -> specs\[0\]/,
  );
});

test("findCycle on larger graphs", () => {
  assert.is(findCycle([[1], [2], [3], []]), null);
  assert.is(findCycle([[1, 2], [3], [3], []]), null, "a diamond is no cycle");
  assert.equal(findCycle([[1], [2], [1]]), [1, 2, 1]);
  const chain = Array.from({ length: 50_000 }, (_, i) => (i + 1 < 50_000 ? [i + 1] : []));
  assert.is(findCycle(chain), null, "deep chains need no recursion");
  chain[49_999] = [0];
  assert.is(findCycle(chain)?.length, 50_001);
});

test("dependency references: form checked at the edge", () => {
  checkDependencyRefs({ after: ["a", "b[1]"], afterAny: ["#0"] }, "spec");
  rejects(() => checkDependencyRefs({ after: [""] }, "spec"), /^spec\.after\[0\]: must be a task id/);
  rejects(() => checkDependencyRefs({ afterAny: ["x\u0000"] }, "spec"), /^spec\.after_any\[0\]: must not contain NUL/);
  rejects(() => checkDependencyRefs({ after: Array.from({ length: 1001 }, (_, i) => `t${i}`) }, "spec"), /at most 1000 dependencies/);
});

test.run();
