// Property test of reservations and backfill (issue 16's live test, in the core): a tiny
// discrete-event loop drives planDispatch over random workloads whose estimates are exact (every
// attempt ends exactly at its predicted end). Properties: under EASY and conservative backfilling
// no reserved task starts later than its first reservation; a wide task (all GPUs of a worker)
// behind a stream of narrow ones starts no later than its reservation, while without backfill it
// starves until the stream ends.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { RunningAttempt } from "../../src/core/backfill/prediction.js";
import { BACKFILL_POLICIES } from "../../src/core/backfill/reservations.js";
import { planDispatch } from "../../src/core/dispatch-plan.js";
import { fifoOrdering } from "../../src/core/ordering.js";
import { PendingQueue } from "../../src/core/pending-queue.js";
import { type Candidate, type PlacementStrategy, RoundRobinPlacement } from "../../src/core/placement.js";
import { int, mulberry32, pick } from "../../src/core/random.js";
import type { Task } from "../../src/core/types.js";
import { release, type WorkerSlot } from "../../src/core/worker-slot.js";
import { gpus, slot, task } from "../helpers/domain.js";

const T0 = 1_700_000_000_000;

/**
 * First fit in the slots' order: the worker a reservation's earliest fit picks among equals, so a
 * reserved task that starts on time starts where it was reserved. Conservative backfilling needs
 * that: a reserved task started on time on another worker (which RTS or round-robin may choose)
 * can take what a later reservation counted on and move it later. EASY keeps one reservation,
 * the queue's first blocked task, and keeps its promise whatever the strategy (tested below with
 * round-robin).
 */
function firstFit(slots: readonly WorkerSlot[]): PlacementStrategy {
  const order = new Map(slots.map((s, i) => [s, i]));
  return {
    name: "first_fit",
    choose(_task: Task, candidates: Candidate[]) {
      let best = candidates[0];
      for (const c of candidates) if (order.get(c.slot)! < order.get(best.slot)!) best = c;
      return {
        candidate: best,
        decision: { strategy: "round_robin", fallbackReason: "", feasibleWorkers: candidates.length, chosen: null, runnerUp: null, weightsVersion: "" },
      };
    },
  };
}

interface Arrival {
  atMs: number;
  task: Task;
}

interface RunResult {
  startMs: Map<string, number>;
  /** Each task's first reservation (start), and every later one. */
  reserved: Map<string, number[]>;
  passes: number;
}

/** Runs `arrivals` on fresh slots to completion; attempts run exactly their estimate. */
function run(arrivals: Arrival[], makeSlots: () => WorkerSlot[], reservations: number, strategy = firstFit): RunResult {
  const slots = makeSlots();
  const placement = strategy(slots);
  const queue = new PendingQueue(fifoOrdering);
  const pending = [...arrivals].sort((a, b) => a.atMs - b.atMs);
  const running = new Map<string, RunningAttempt & { slot: WorkerSlot; endMs: number }>();
  const result: RunResult = { startMs: new Map(), reserved: new Map(), passes: 0 };
  let next = 0;
  let ids = 0;
  while (next < pending.length || running.size > 0 || queue.size > 0) {
    let nowMs = Number.POSITIVE_INFINITY;
    if (next < pending.length) nowMs = pending[next].atMs;
    for (const r of running.values()) nowMs = Math.min(nowMs, r.endMs);
    assert.ok(Number.isFinite(nowMs), "queued tasks but nothing will ever happen");
    for (const [id, r] of running) {
      if (r.endMs !== nowMs) continue;
      release(r.slot, id);
      running.delete(id);
    }
    while (next < pending.length && pending[next].atMs === nowMs) queue.push(pending[next++].task);
    const plan = planDispatch(queue.inOrder(), slots, placement, {
      nowMs,
      maxScan: 10_000,
      maxCandidates: Number.POSITIVE_INFINITY,
      newAttemptId: () => `a${++ids}`,
      backfill: { reservations, defaultRuntimeMs: 3_600_000, lookup: (id) => running.get(id) },
    });
    result.passes++;
    for (const a of plan.assignments) {
      queue.remove(a.task.id);
      running.set(a.attemptId, { task: a.task, startedAtMs: nowMs, slot: a.slot, endMs: nowMs + a.task.spec.estimateMs });
      result.startMs.set(a.task.id, nowMs);
    }
    for (const [taskId, r] of plan.reservations) {
      assert.ok(r.startMs > nowMs, "a reservation is in the future (a task that fits now starts now)");
      const list = result.reserved.get(taskId) ?? [];
      list.push(r.startMs);
      result.reserved.set(taskId, list);
    }
    for (const s of slots) {
      assert.ok(s.allocatedGpus.size <= s.worker.capacity.gpus.length && s.allocatedCpuMillis <= s.worker.capacity.cpuMillis, "never over-committed");
    }
    assert.ok(result.passes < 100_000, "the loop ends");
  }
  return result;
}

const fourGpuWorkers = (n: number) => () =>
  Array.from({ length: n }, (_, i) => slot(`w${i}`, { capacity: { cpuMillis: 64_000, memoryMib: 1 << 18, maxTasks: 8, gpus: gpus(4) } }));

/** Random GPU tasks: 1, 2 or 4 GPUs, estimates of 1-20 s on a 1 s grid (ties are common), bursty arrivals. */
function randomWorkload(seed: number, count: number): Arrival[] {
  const rng = mulberry32(seed);
  const arrivals: Arrival[] = [];
  let atMs = T0;
  for (let i = 0; i < count; i++) {
    atMs += pick(rng, [0, 0, 500, 1000, 3000]);
    const gpuCount = pick(rng, [1, 1, 1, 2, 2, 4]);
    arrivals.push({
      atMs,
      task: task({ resources: { cpuMillis: 1000, memoryMib: 1024, gpuCount, gpuModel: "", gpuMemoryMib: 0 }, estimateMs: int(rng, 1, 20) * 1000 }),
    });
  }
  return arrivals;
}

function assertNoneLate(r: RunResult, label: string): number {
  let checked = 0;
  for (const [taskId, starts] of r.reserved) {
    const first = starts[0];
    const started = r.startMs.get(taskId);
    assert.ok(started !== undefined, `${label}: reserved task ${taskId} never started`);
    assert.ok(started <= first, `${label}: task ${taskId} reserved at +${first - T0} ms started at +${started - T0} ms`);
    for (const s of starts) assert.ok(s <= first, `${label}: task ${taskId}'s reservation moved later (${first - T0} -> ${s - T0})`);
    checked++;
  }
  return checked;
}

test("with exact estimates no reserved task starts later than its first reservation (EASY and conservative)", () => {
  let reservedTasks = 0;
  for (let seed = 1; seed <= 30; seed++) {
    const workload = randomWorkload(seed, 40);
    for (const [name, k] of [
      ["easy", BACKFILL_POLICIES.easy],
      ["conservative", BACKFILL_POLICIES.conservative],
      ["K=3", 3],
    ] as const) {
      // Fresh task objects per run (same ids and specs): nothing carries over from one run to the next.
      const arrivals = workload.map((a) => ({ atMs: a.atMs, task: { ...a.task } }));
      const r = run(arrivals, fourGpuWorkers(3), k);
      assert.is(r.startMs.size, arrivals.length, `seed ${seed} ${name}: every task ran`);
      reservedTasks += assertNoneLate(r, `seed ${seed} ${name}`);
    }
  }
  assert.ok(reservedTasks > 100, `the workloads exercise reservations (${reservedTasks} reserved tasks)`);
});

test("EASY keeps its promise whatever worker the placement strategy picks (round-robin)", () => {
  for (let seed = 101; seed <= 120; seed++) {
    const r = run(randomWorkload(seed, 40), fourGpuWorkers(3), BACKFILL_POLICIES.easy, () => new RoundRobinPlacement());
    assert.is(r.startMs.size, 40);
    assertNoneLate(r, `seed ${seed} easy round-robin`);
  }
});

/**
 * A stream of 1-GPU tasks, one every 400 ms for 60 s, each 1.7 s (more than 4 GPUs can serve, so
 * the queue never empties and the ends are staggered), and a wide task (all 4 GPUs) arriving 2 s in.
 */
function wideBehindNarrow(): { arrivals: Arrival[]; wide: Task; streamEndMs: number } {
  const arrivals: Arrival[] = [];
  const narrow = (atMs: number) => ({
    atMs,
    task: task({ resources: { cpuMillis: 100, memoryMib: 64, gpuCount: 1, gpuModel: "", gpuMemoryMib: 0 }, estimateMs: 1700 }),
  });
  const wide = task({ resources: { cpuMillis: 100, memoryMib: 64, gpuCount: 4, gpuModel: "", gpuMemoryMib: 0 }, estimateMs: 5000 });
  arrivals.push({ atMs: T0 + 2050, task: wide });
  let atMs = T0;
  for (; atMs <= T0 + 60_000; atMs += 400) arrivals.push(narrow(atMs));
  return { arrivals, wide, streamEndMs: atMs - 400 };
}

test("a wide task behind a stream of narrow ones starts by its reservation under EASY and conservative, and starves under none", () => {
  const oneWorker = fourGpuWorkers(1);
  for (const k of [BACKFILL_POLICIES.easy, BACKFILL_POLICIES.conservative]) {
    const { arrivals, wide, streamEndMs } = wideBehindNarrow();
    const r = run(arrivals, oneWorker, k);
    const first = r.reserved.get(wide.id)?.[0];
    assert.ok(first !== undefined, "the wide task was reserved");
    const started = r.startMs.get(wide.id)!;
    assert.ok(started <= first, `started at +${started - T0} ms, reserved for +${first - T0} ms`);
    assert.ok(started < streamEndMs - 50_000, "long before the stream ends");
    assertNoneLate(r, `k=${k}`);
  }
  const { arrivals, wide, streamEndMs } = wideBehindNarrow();
  const none = run(arrivals, oneWorker, 0);
  assert.is(none.reserved.size, 0);
  assert.ok(none.startMs.get(wide.id)! >= streamEndMs, "without backfill the wide task waits until the narrow stream stops");
});

test.run();
