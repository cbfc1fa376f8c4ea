// Failure accounting in the pure core: the task's own failures use retries (with a jittered
// exponential backoff), infrastructure losses use requeues, and each budget ends the task once spent.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { afterAttempt, DEFAULT_FAILURE_POLICY, isInfrastructureOutcome, retryBackoffMs } from "../../src/core/failure-accounting.js";
import { planDispatch } from "../../src/core/dispatch-plan.js";
import { RoundRobinPlacement } from "../../src/core/placement.js";
import type { AttemptOutcome, TaskResult } from "../../src/core/types.js";
import { slot, task } from "../helpers/domain.js";

const result = (outcome: AttemptOutcome): TaskResult => ({
  outcome,
  exitCode: outcome === "SUCCEEDED" ? 0 : 1,
  signal: "",
  outputTail: "",
  durationMs: 1,
  message: "m",
});
const policy = { ...DEFAULT_FAILURE_POLICY, defaultRetryBackoffMs: 1000, maxRetryBackoffMs: 5000 };
const NOW = 1_000_000;

test("only LOST is the infrastructure's doing", () => {
  assert.ok(isInfrastructureOutcome("LOST"));
  for (const o of ["SUCCEEDED", "FAILED", "CANCELED", "TIMEOUT", "START_FAILED"] as const) assert.not.ok(isInfrastructureOutcome(o));
});

test("success and cancel end the task and leave both budgets alone", () => {
  const t = task({ maxRetries: 2 }, { retriesUsed: 1, requeues: 1 });
  assert.equal(
    afterAttempt(t, result("SUCCEEDED"), NOW, policy, () => 0),
    { state: "SUCCEEDED", retriesUsed: 1, requeues: 1 },
  );
  assert.equal(afterAttempt(t, result("CANCELED"), NOW, policy, () => 0).state, "CANCELED");
});

test("LOST requeues at once without using a retry, until max_requeues (task or default) is spent", () => {
  const t = task({ maxRetries: 0 });
  const first = afterAttempt(t, result("LOST"), NOW, policy, () => 0.5);
  assert.equal(first, { state: "QUEUED", retriesUsed: 0, requeues: 1, notBeforeMs: null, reason: "requeued (1 of 5) after LOST: m" });
  const spent = afterAttempt(task({}, { requeues: 5 }), result("LOST"), NOW, policy, () => 0);
  assert.is(spent.state, "FAILED");
  assert.match((spent as { reason: string }).reason, /requeue limit reached: 5 of 5/);
  assert.is(afterAttempt(task({ maxRequeues: 0 }), result("LOST"), NOW, policy, () => 0).state, "FAILED");
  assert.is(afterAttempt(task({ maxRequeues: 9 }, { requeues: 5 }), result("LOST"), NOW, policy, () => 0).state, "QUEUED");
});

test("the task's own failures use retries and wait a backoff; none left means FAILED", () => {
  for (const outcome of ["FAILED", "TIMEOUT", "START_FAILED"] as const) {
    const next = afterAttempt(task({ maxRetries: 2 }), result(outcome), NOW, policy, () => 0.5);
    assert.equal(next, { state: "QUEUED", retriesUsed: 1, requeues: 0, notBeforeMs: NOW + 500, reason: `retry 1 of 2 after ${outcome} (backoff 500 ms)` });
  }
  const last = afterAttempt(task({ maxRetries: 2 }, { retriesUsed: 2 }), result("FAILED"), NOW, policy, () => 0);
  assert.equal(last, { state: "FAILED", retriesUsed: 2, requeues: 0, reason: "FAILED, all 2 retries used" });
  assert.equal(
    afterAttempt(task(), result("FAILED"), NOW, policy, () => 0),
    { state: "FAILED", retriesUsed: 0, requeues: 0, reason: "FAILED, no retries allowed" },
  );
  const noBackoff = afterAttempt(task({ maxRetries: 1, retryBackoffMs: 0 }), result("FAILED"), NOW, policy, () => 0.9);
  assert.is((noBackoff as { notBeforeMs: number | null }).notBeforeMs, null);
});

test("backoff: full jitter under base x 2^(n-1), capped", () => {
  const top = () => 0.999999;
  assert.equal(
    [1, 2, 3, 4, 5].map((n) => retryBackoffMs(1000, n, 5000, top)),
    [1000, 2000, 4000, 5000, 5000],
  );
  assert.is(
    retryBackoffMs(1000, 3, 5000, () => 0),
    0,
  );
  assert.is(retryBackoffMs(0, 3, 5000, top), 0);
  assert.is(retryBackoffMs(1000, 200, 5000, top), 5000, "no overflow for a huge retry number");
});

test("dispatch skips a task in its backoff (with a reason) and places it once the time has come", () => {
  const waiting = task({}, { notBeforeMs: NOW + 1000 });
  const ready = task();
  const options = (nowMs: number) => ({ nowMs, maxScan: 100, newAttemptId: () => `a-${nowMs}` });
  const early = planDispatch([waiting, ready], [slot("w1")], new RoundRobinPlacement(), options(NOW));
  assert.equal(
    early.assignments.map((a) => a.task.id),
    [ready.id],
  );
  assert.match(early.pendingReasons.get(waiting.id)!, /retry backoff, eligible in 1 s/);
  const later = planDispatch([waiting], [slot("w2")], new RoundRobinPlacement(), options(NOW + 1000));
  assert.equal(
    later.assignments.map((a) => a.task.id),
    [waiting.id],
  );
});

test.run();
