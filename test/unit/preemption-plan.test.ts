// planPreemptions (src/core/preemption/plan.ts) and what the dispatch pass hands it (planDispatch's
// blocked collector), and afterAttempt for a PREEMPTED attempt: the pure parts of preemption in
// the master (issue 16).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { planDispatch } from "../../src/core/dispatch-plan.js";
import { afterAttempt, DEFAULT_FAILURE_POLICY } from "../../src/core/failure-accounting.js";
import { planPreemptions, REASON_RATE_LIMITED } from "../../src/core/preemption/plan.js";
import { isPreemptible, outranksAnything } from "../../src/core/preemption/rank.js";
import { PreemptionRateLimiter } from "../../src/core/preemption/rate-limit.js";
import type { RunningInfo } from "../../src/core/preemption/victims.js";
import { RoundRobinPlacement } from "../../src/core/placement.js";
import type { Priority, QueueClass, Task, TaskResult } from "../../src/core/types.js";
import { allocate, type WorkerSlot } from "../../src/core/worker-slot.js";
import { gpus, slot, task } from "../helpers/domain.js";

const NOW = 1_700_000_000_000;

const gpuTask = (gpuCount: number, queueClass: QueueClass = "BATCH", priority: Priority = "NORMAL", extra: Partial<Task["spec"]> = {}): Task =>
  task({ queueClass, priority, resources: { cpuMillis: 100, memoryMib: 64, gpuCount, gpuModel: "", gpuMemoryMib: 0 }, ...extra });
const gpuBox = (id: string, count = 2) => slot(id, { capacity: { cpuMillis: 64_000, memoryMib: 1 << 18, maxTasks: 16, gpus: gpus(count) } });

function world() {
  const infos = new Map<string, RunningInfo>();
  let n = 0;
  return {
    running: (id: string) => infos.get(id),
    run(s: WorkerSlot, t: Task, gpuIndexes: number[]): string {
      const id = `att-${++n}`;
      allocate(s, id, t.spec.resources, gpuIndexes, t.spec.project);
      infos.set(id, { task: t, startedAtMs: NOW - 60_000, borrowed: false });
      return id;
    },
  };
}

const limiter = (limit = 100) => new PreemptionRateLimiter({ limit });

test("each blocked task that outranks something gets victims on its own worker; a worker is offered once per pass", () => {
  const w = world();
  const a = gpuBox("a");
  const b = gpuBox("b");
  const onA = w.run(a, gpuTask(2), [0, 1]);
  const onB = w.run(b, gpuTask(2), [0, 1]);
  const live = [gpuTask(1, "LIVE"), gpuTask(1, "LIVE"), gpuTask(1, "LIVE")];
  const plan = planPreemptions(live, [a, b], w.running, { nowMs: NOW, priorityMargin: 1, limiter: limiter(), inFlight: () => false });
  assert.equal(
    plan.preemptions.map((p) => [p.preemptor.id, p.victims.workerId, p.victims.attemptIds, p.causes]),
    [
      [live[0].id, "a", [onA], ["queue_class"]],
      [live[1].id, "b", [onB], ["queue_class"]],
    ],
  );
  assert.is(plan.rateLimited, 0);
});

test("tasks in flight and tasks that outrank nothing are skipped; the rate limit holds back and names the task", () => {
  const w = world();
  const a = gpuBox("a");
  const b = gpuBox("b");
  w.run(a, gpuTask(2), [0, 1]);
  w.run(b, gpuTask(2), [0, 1]);
  const lowest = gpuTask(1, "BATCH", "LOW");
  const waiting = gpuTask(1, "LIVE");
  const first = gpuTask(1, "LIVE");
  const second = gpuTask(1, "DEFAULT", "HIGH");
  const plan = planPreemptions([lowest, waiting, first, second], [a, b], w.running, {
    nowMs: NOW,
    priorityMargin: 1,
    limiter: limiter(1),
    inFlight: (id) => id === waiting.id,
  });
  assert.equal(
    plan.preemptions.map((p) => p.preemptor.id),
    [first.id],
  );
  assert.is(plan.rateLimited, 1);
  assert.equal([...plan.pendingReasons], [[second.id, REASON_RATE_LIMITED]]);
});

test("the same class preempts only by the priority margin, and only preemptible work", () => {
  const w = world();
  const a = gpuBox("a");
  const victim = w.run(a, gpuTask(2, "DEFAULT", "LOW", { preemptible: true }), [0, 1]);
  const normal = gpuTask(1, "DEFAULT", "NORMAL");
  const high = gpuTask(1, "DEFAULT", "HIGH");
  const margin2 = planPreemptions([normal, high], [a], w.running, { nowMs: NOW, priorityMargin: 2, limiter: limiter(), inFlight: () => false });
  assert.equal(
    margin2.preemptions.map((p) => [p.preemptor.id, p.victims.attemptIds, p.causes]),
    [[high.id, [victim], ["priority"]]],
  );
  const b = gpuBox("b");
  w.run(b, gpuTask(2, "DEFAULT", "LOW"), [0, 1]); // DEFAULT is not preemptible unless asked
  const none = planPreemptions([high], [b], w.running, { nowMs: NOW, priorityMargin: 1, limiter: limiter(), inFlight: () => false });
  assert.equal(none.preemptions, []);
});

test("isPreemptible: BATCH by default, anything by asking, nothing that asked not to be", () => {
  assert.ok(isPreemptible(gpuTask(1, "BATCH")));
  assert.not.ok(isPreemptible(gpuTask(1, "BATCH", "NORMAL", { preemptible: false })));
  assert.not.ok(isPreemptible(gpuTask(1, "LIVE")));
  assert.ok(isPreemptible(gpuTask(1, "LIVE", "NORMAL", { preemptible: true })));
});

test("planDispatch collects blocked tasks the collector accepts, also once every worker is full, within its bounds", () => {
  const a = gpuBox("a");
  const w = world();
  w.run(a, gpuTask(2), [0, 1]);
  const queue = [gpuTask(1, "BATCH", "LOW"), gpuTask(1, "LIVE"), gpuTask(0, "LIVE"), gpuTask(1, "LIVE"), gpuTask(1, "LIVE")];
  let n = 0;
  const plan = planDispatch(queue, [a], new RoundRobinPlacement(), {
    nowMs: NOW,
    maxScan: 100,
    newAttemptId: () => `new-${++n}`,
    preemptors: { max: 2, accept: (t) => outranksAnything(t, 1) },
  });
  // The GPU-less LIVE task is placed; the BATCH LOW task outranks nothing; two LIVE ones are collected.
  assert.equal(
    plan.assignments.map((x) => x.task.id),
    [queue[2].id],
  );
  assert.equal(
    plan.blocked.map((t) => t.id),
    [queue[1].id, queue[3].id],
  );
  const full = gpuBox("full", 0);
  full.worker.capacity.maxTasks = 1;
  allocate(full, "x", { cpuMillis: 1, memoryMib: 1, gpuCount: 0, gpuModel: "", gpuMemoryMib: 0 }, [], "p");
  const scanLimited = planDispatch([gpuTask(0, "BATCH"), gpuTask(0, "LIVE")], [full], new RoundRobinPlacement(), {
    nowMs: NOW,
    maxScan: 100,
    newAttemptId: () => `new-${++n}`,
    preemptors: { max: 8, accept: () => true, scanAfterFull: 1 },
  });
  assert.is(scanLimited.blocked.length, 1, "one task looked at once the cluster is full");
  const without = planDispatch(queue, [a], new RoundRobinPlacement(), { nowMs: NOW, maxScan: 100, newAttemptId: () => `new-${++n}` });
  assert.equal(without.blocked, []);
});

test("a PREEMPTED attempt requeues at once and uses neither a retry nor a requeue", () => {
  const t = gpuTask(1);
  t.retriesUsed = 1;
  t.requeues = 2;
  const result: TaskResult = { outcome: "PREEMPTED", exitCode: 143, signal: "", outputTail: "", durationMs: 5, message: "preempted by task x (LIVE NORMAL)" };
  const next = afterAttempt(t, result, NOW, DEFAULT_FAILURE_POLICY, () => 0.5);
  assert.equal(next, {
    state: "QUEUED",
    retriesUsed: 1,
    requeues: 2,
    notBeforeMs: null,
    reason: "requeued after PREEMPTED: preempted by task x (LIVE NORMAL)",
  });
});

test.run();
