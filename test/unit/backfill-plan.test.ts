// planDispatch with backfill (src/core/backfill/reservations.ts): the first K blocked tasks get
// reservations, later tasks start only if they delay none, and K = 0 is planDispatch as before.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { resolveMasterConfig } from "../../master/config.js";
import type { RunningAttempt } from "../../src/core/backfill/prediction.js";
import { BACKFILL_POLICIES, reservedReason } from "../../src/core/backfill/reservations.js";
import { DEFAULT_RESERVATION_TRIES, type DispatchPlan, planDispatch } from "../../src/core/dispatch-plan.js";
import { fifoOrdering } from "../../src/core/ordering.js";
import { PendingQueue } from "../../src/core/pending-queue.js";
import { RoundRobinPlacement } from "../../src/core/placement.js";
import type { ResourceRequest, Task } from "../../src/core/types.js";
import { allocate, type WorkerSlot } from "../../src/core/worker-slot.js";
import { gpus, slot, task } from "../helpers/domain.js";

const NOW = 1_700_000_000_000;
const HOUR = 3_600_000;
const withGpus = (gpuCount: number): ResourceRequest => ({ cpuMillis: 100, memoryMib: 64, gpuCount, gpuModel: "", gpuMemoryMib: 0 });
const gpuBox = (id: string, count = 4) => slot(id, { capacity: { cpuMillis: 64_000, memoryMib: 1 << 18, maxTasks: 16, gpus: gpus(count) } });

/** Running attempts on the slot, each `[gpuIndexes, remaining ms]`, and what the lookup knows of them. */
const known = new Map<string, RunningAttempt>();
function running(s: WorkerSlot, ...attempts: Array<[number[], number]>): void {
  for (const [gpuIndexes, remainingMs] of attempts) {
    const id = `run-${known.size}`;
    const t = task({ resources: withGpus(gpuIndexes.length), estimateMs: remainingMs });
    allocate(s, id, t.spec.resources, gpuIndexes);
    known.set(id, { task: t, startedAtMs: NOW });
  }
}

let ids = 0;
function plan(tasks: Task[], slots: WorkerSlot[], reservations: number | undefined): DispatchPlan {
  const q = new PendingQueue(fifoOrdering);
  tasks.forEach((t) => q.push(t));
  const backfill = reservations === undefined ? undefined : { reservations, defaultRuntimeMs: HOUR, lookup: (id: string) => known.get(id) };
  return planDispatch(q.inOrder(), slots, new RoundRobinPlacement(), { nowMs: NOW, maxScan: 1000, newAttemptId: () => `a${++ids}`, backfill });
}
const placed = (p: DispatchPlan) => p.assignments.map((a) => [a.task.id, a.slot.worker.id, a.gpuIndexes]);

test("EASY: the wide task is reserved; a narrow task that would run into the reservation waits, a short one backfills", () => {
  const w = gpuBox("w");
  running(w, [[0], 10_000], [[1], 20_000], [[2], 30_000]);
  const wide = task({ resources: withGpus(4), estimateMs: 60_000 });
  const long = task({ resources: withGpus(1), estimateMs: 100_000 });
  const short = task({ resources: withGpus(1), estimateMs: 5_000 });
  const p = plan([wide, long, short], [w], BACKFILL_POLICIES.easy);
  assert.equal(placed(p), [[short.id, "w", [3]]]);
  assert.equal(p.reservations.get(wide.id), { taskId: wide.id, workerId: "w", startMs: NOW + 30_000, endMs: NOW + 90_000, gpuIndexes: [0, 1, 2, 3] });
  assert.is(p.pendingReasons.get(wide.id), `reserved: starts ~${new Date(NOW + 30_000).toISOString()} on w`);
  assert.is(p.pendingReasons.get(wide.id), reservedReason({ startMs: NOW + 30_000, workerId: "w" }));
  assert.is(p.pendingReasons.get(long.id), `waiting: would delay the reservation of task ${wide.id}`);
});

test("without backfill (none, or K = 0) the narrow tasks take the free GPU, in queue order, and nothing is reserved", () => {
  for (const k of [undefined, 0]) {
    const w = gpuBox("w");
    running(w, [[0], 10_000], [[1], 20_000], [[2], 30_000]);
    const wide = task({ resources: withGpus(4), estimateMs: 60_000 });
    const long = task({ resources: withGpus(1), estimateMs: 100_000 });
    const short = task({ resources: withGpus(1), estimateMs: 5_000 });
    const p = plan([wide, long, short], [w], k);
    assert.equal(placed(p), [[long.id, "w", [3]]]);
    assert.is(p.reservations.size, 0);
    assert.is(p.pendingReasons.get(wide.id), "waiting: no worker has free resources for it");
  }
});

test("a task that may start goes to GPUs the reservation leaves alone rather than delaying it", () => {
  const w = gpuBox("w");
  running(w, [[0], 10_000], [[1], 10_000]);
  const three = task({ resources: withGpus(3), estimateMs: 60_000 });
  const long = task({ resources: withGpus(1), estimateMs: 100_000 });
  const p = plan([three, long], [w], BACKFILL_POLICIES.easy);
  assert.equal(p.reservations.get(three.id)?.gpuIndexes, [0, 1, 2]);
  assert.equal(placed(p), [[long.id, "w", [3]]], "GPU 2 is the lowest free, but reserved: GPU 3");
});

test("a task that would delay the reservation on one worker starts on another", () => {
  const a = gpuBox("a");
  const b = gpuBox("b");
  running(a, [[0, 1, 2], 30_000]);
  running(b, [[0, 1, 2], 60_000]);
  const wide = task({ resources: withGpus(4), estimateMs: 60_000 });
  const long = task({ resources: withGpus(1), estimateMs: 100_000 });
  const p = plan([wide, long], [a, b], BACKFILL_POLICIES.easy);
  assert.equal([p.reservations.get(wide.id)?.workerId, p.reservations.get(wide.id)?.startMs], ["a", NOW + 30_000]);
  assert.equal(placed(p), [[long.id, "b", [3]]]);
});

test("conservative: every blocked task is reserved, each after the ones before it; EASY reserves only the first; K in between", () => {
  const tasks = () => [
    task({ resources: withGpus(2), estimateMs: 10_000 }),
    task({ resources: withGpus(2), estimateMs: 10_000 }),
    task({ resources: withGpus(1), estimateMs: 5_000 }),
  ];
  const starts = (k: number) => {
    const w = gpuBox("w", 2);
    running(w, [[0, 1], 10_000]);
    const ts = tasks();
    const p = plan(ts, [w], k);
    assert.is(p.assignments.length, 0);
    return ts.map((t) => (p.reservations.get(t.id)?.startMs ?? NaN) - NOW);
  };
  assert.equal(starts(BACKFILL_POLICIES.conservative), [10_000, 20_000, 30_000]);
  assert.equal(starts(BACKFILL_POLICIES.easy), [10_000, NaN, NaN]);
  assert.equal(starts(2), [10_000, 20_000, NaN]);
});

test("with every worker full, blocked tasks are still reserved", () => {
  const w = slot("w", { capacity: { cpuMillis: 4000, memoryMib: 8192, maxTasks: 1, gpus: [] } });
  const t = task({ estimateMs: 10_000 });
  allocate(w, "r", t.spec.resources, []);
  known.set("r", { task: t, startedAtMs: NOW - 5_000 });
  const next = task({ estimateMs: 1_000 });
  const p = plan([next], [w], BACKFILL_POLICIES.easy);
  assert.equal([p.reservations.get(next.id)?.startMs], [NOW + 5_000]);
  assert.equal(plan([task()], [w], undefined).pendingReasons.size, 0, "without backfill the pass stops at once, as before");
});

test("an unschedulable task gets no reservation and keeps its reason", () => {
  const w = gpuBox("w", 2);
  const never = task({ resources: withGpus(8) });
  const p = plan([never], [w], BACKFILL_POLICIES.conservative);
  assert.is(p.reservations.size, 0);
  assert.match(p.pendingReasons.get(never.id)!, /^unschedulable: /);
});

/** Plans `tasks` with EASY backfill, counting the tasks the pass takes from the queue. */
function planCounting(tasks: Task[], slots: WorkerSlot[], reservationTries?: number): { p: DispatchPlan; looked: number } {
  let looked = 0;
  function* counted(): Iterable<Task> {
    for (const t of tasks) {
      looked++;
      yield t;
    }
  }
  const backfill = { reservations: BACKFILL_POLICIES.easy, defaultRuntimeMs: HOUR, lookup: (id: string) => known.get(id) };
  const p = planDispatch(counted(), slots, new RoundRobinPlacement(), {
    nowMs: NOW,
    maxScan: 10_000,
    newAttemptId: () => `a${++ids}`,
    backfill,
    reservationTries,
  });
  return { p, looked };
}

test("a full cluster looks at DEFAULT_RESERVATION_TRIES tasks that fit nowhere per pass, not the whole queue; with no worker, at one", () => {
  const w = gpuBox("w");
  running(w, ...Array.from({ length: 16 }, (): [number[], number] => [[], 10_000]));
  const queue = Array.from({ length: 5_000 }, () => task({ resources: withGpus(8) }));
  const full = planCounting(queue, [w]);
  assert.is(full.looked, DEFAULT_RESERVATION_TRIES + 1, "the tries, then the one that ends the pass");
  assert.is(full.p.reservations.size, 0);
  assert.is(full.p.assignments.length, 0);
  const none = planCounting(queue, []);
  assert.is(none.looked, 1);
  assert.is(none.p.reservations.size, 0);
});

test("a reservation is still made behind tasks no worker can hold, within the tries; past them the pass gives up", () => {
  const w = gpuBox("w");
  running(w, [[0, 1, 2, 3], 10_000]);
  const never = Array.from({ length: 100 }, () => task({ resources: withGpus(8) }));
  const wide = task({ resources: withGpus(4), estimateMs: 60_000 });
  const found = planCounting([...never, wide], [w]);
  assert.equal(found.p.reservations.get(wide.id)?.startMs, NOW + 10_000);
  assert.is(found.looked, 101);
  const cut = planCounting([...never, wide], [w], 50);
  assert.is(cut.p.reservations.size, 0, "50 tries spent on tasks that fit nowhere");
  assert.match(cut.p.pendingReasons.get(wide.id) ?? "", /^waiting: /, "the worker is open (CPU free), so the pass walks on, by dominance");
});

test("the master's backfill setting resolves to K; other values are refused naming the key", () => {
  assert.is(resolveMasterConfig({}).backfill.reservations, 1, "easy by default");
  assert.is(resolveMasterConfig({ backfill: "none" }).backfill.reservations, 0);
  assert.is(resolveMasterConfig({ backfill: "conservative" }).backfill.reservations, Number.POSITIVE_INFINITY);
  assert.is(resolveMasterConfig({ backfillDefaultRuntimeMs: 60_000 }).backfill.defaultRuntimeMs, 60_000);
  assert.is(resolveMasterConfig({ backfill: "4" }).backfill.reservations, 4, "K reservations");
  assert.throws(() => resolveMasterConfig({ backfill: "greedy" as never }), /backfill: .*none, easy, conservative or a number of reservations K/);
  for (const bad of ["0", "-1", "1.5", "K=4"]) assert.throws(() => resolveMasterConfig({ backfill: bad }), /backfill/, bad);
  assert.throws(() => resolveMasterConfig({ backfillDefaultRuntimeMs: 0 }), /backfill_default_runtime_ms/);
});

test.run();
