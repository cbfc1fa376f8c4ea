// Property tests: random clusters and queues driven through planDispatch with RtsPlacement, checked
// against an independent re-implementation of the feasibility rules replayed in dispatch order.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { planDispatch } from "../../src/core/dispatch-plan.js";
import { priorityOrdering } from "../../src/core/ordering.js";
import { PendingQueue } from "../../src/core/pending-queue.js";
import { RoundRobinPlacement } from "../../src/core/placement.js";
import { LearningTable, PenaltyTable, RecentKinds } from "../../src/core/rts/learning.js";
import { RtsPlacement } from "../../src/core/rts/rts-placement.js";
import { DEFAULT_WEIGHTS } from "../../src/core/rts/weights.js";
import { PRIORITIES, QUEUE_CLASSES, type Gpu, type Task, type Worker, type WorkerStatus } from "../../src/core/types.js";
import { allocate, newWorkerSlot, type WorkerSlot } from "../../src/core/worker-slot.js";
import { spec } from "../helpers/domain.js";

import { int, mulberry32, pick } from "../../src/core/random.js";

const NOW = 5_000_000;
const TAGS = ["zone=a", "zone=b", "ssd", "arm64", "big"];
const MODELS = [
  { model: "NVIDIA H100 80GB HBM3", memoryMib: 81559 },
  { model: "NVIDIA A100-SXM4-40GB", memoryMib: 40960 },
  { model: "Tesla T4", memoryMib: 15360 },
];

interface Scenario {
  slots: WorkerSlot[];
  tasks: Task[];
  strategy: RtsPlacement;
}

function scenario(seed: number, workers: number, tasks: number): Scenario {
  const r = mulberry32(seed);
  const slots: WorkerSlot[] = [];
  for (let i = 0; i < workers; i++) {
    const gpus: Gpu[] = [];
    if (r() < 0.4) {
      const count = int(r, 1, 8);
      for (let g = 0; g < count; g++) {
        const m = r() < 0.8 || g === 0 ? MODELS[(i + (g > count / 2 ? 1 : 0)) % 3] : pick(r, MODELS);
        gpus.push({ index: count - 1 - g, uuid: `G${i}-${g}`, model: m.model, memoryMib: m.memoryMib, numaNode: 0 }); // reported in reverse index order
      }
    }
    const status: WorkerStatus = r() < 0.85 ? "ONLINE" : pick(r, ["SUSPECT", "OFFLINE", "DRAINING"] as const);
    const teleKind = r();
    const w: Worker = {
      id: `w${String(i).padStart(4, "0")}`,
      hostname: `h${i}`,
      tags: TAGS.filter(() => r() < 0.4),
      capacity: { cpuMillis: int(r, 1, 16) * 1000, memoryMib: int(r, 1, 32) * 1024, maxTasks: int(r, 0, 6), gpus },
      status,
      agentVersion: "p",
      registeredAtMs: 0,
      lastSeenAtMs: NOW,
      deadlineMisses: 0,
      telemetry:
        teleKind < 0.15
          ? null
          : {
              sampledAtMs: teleKind < 0.3 ? NOW - 3_600_000 : NOW - int(r, 0, 5000),
              cpuLoad: r() < 0.05 ? NaN : r() * 2,
              memoryUsedMib: 0,
              memoryTotalMib: 0,
              ioPressure: r() < 0.05 ? NaN : r(),
              runningAttempts: 0,
              gpus: gpus.map((g) => ({ index: g.index, utilizationPercent: r() < 0.05 ? NaN : int(r, 0, 100), memoryUsedMib: 0 })),
              probeErrors: [],
            },
    } as Worker;
    const s = newWorkerSlot(w);
    // Some work already running.
    for (let k = 0, n = int(r, 0, 2); k < n && s.allocations.size < w.capacity.maxTasks; k++) {
      const free = gpus.map((g) => g.index).filter((x) => !s.allocatedGpus.has(x));
      allocate(s, `pre-${i}-${k}`, { cpuMillis: 500, memoryMib: 512, gpuCount: 0, gpuModel: "", gpuMemoryMib: 0 }, free.length && r() < 0.5 ? [free[0]] : []);
    }
    slots.push(s);
  }
  const list: Task[] = [];
  for (let i = 0; i < tasks; i++) {
    const gpu = r() < 0.3;
    const required = TAGS.filter(() => r() < 0.12);
    const t: Task = {
      id: `t${String(i).padStart(5, "0")}`,
      spec: spec({
        queueClass: pick(r, QUEUE_CLASSES),
        priority: pick(r, PRIORITIES),
        kind: pick(r, ["a", "b", "c", ""]),
        resources: {
          cpuMillis: int(r, 1, 12) * 500,
          memoryMib: int(r, 1, 24) * 512,
          gpuCount: gpu ? int(r, 1, 4) : 0,
          gpuModel: gpu && r() < 0.5 ? pick(r, ["h100", "A100", "t4", "nvidia"]) : "",
          gpuMemoryMib: gpu && r() < 0.3 ? 40_000 : 0,
        },
        requiredTags: required,
        preferredTags: TAGS.filter(() => r() < 0.2),
        ioIntensity: r(),
        estimateMs: r() < 0.2 ? 0 : int(r, 1, 100) * 1000,
      }),
      state: "QUEUED",
      progress: 0,
      progressMessage: "",
      createdAtMs: i,
      updatedAtMs: i,
      deadlineMs: r() < 0.5 ? NOW + int(r, -10, 300) * 1000 : null,
      currentAttemptId: null,
      attemptCount: 0,
      result: null,
      specHash: "",
      deadlineMissed: false,
      retriesUsed: 0,
      requeues: 0,
      notBeforeMs: null,
    };
    list.push(t);
  }
  const learning = new LearningTable();
  const penalties = new PenaltyTable();
  const recent = new RecentKinds();
  for (const s of slots) {
    for (const kind of ["a", "b", "c"]) {
      if (r() < 0.3) learning.record({ kind, workerId: s.worker.id, succeeded: r() < 0.8, actualMs: int(r, 1, 200) * 1000, estimateMs: 60_000, nowMs: NOW });
      if (r() < 0.2) recent.record(s.worker.id, kind, NOW - int(r, 0, 600_000));
    }
    if (r() < 0.1) penalties.record(s.worker.id, NOW - int(r, 0, 600_000), int(r, 1, 3));
  }
  const strategy = new RtsPlacement({
    weights: () => ({ weights: DEFAULT_WEIGHTS, version: "p", loadedAtMs: 0, metadata: {} }),
    learning,
    penalties,
    recentKinds: recent,
    telemetryMaxAgeMs: 10_000,
    fallback: new RoundRobinPlacement(),
  });
  return { slots, tasks: list, strategy };
}

interface Shadow {
  worker: Worker;
  tags: Set<string>;
  running: number;
  cpu: number;
  mem: number;
  gpus: Set<number>;
}

function fits(t: Task, s: Shadow): boolean {
  const r = t.spec.resources;
  const c = s.worker.capacity;
  if (s.worker.status !== "ONLINE" || s.running >= c.maxTasks) return false;
  if (s.cpu + r.cpuMillis > c.cpuMillis || s.mem + r.memoryMib > c.memoryMib) return false;
  if (!t.spec.requiredTags.every((tag) => s.tags.has(tag))) return false;
  const usable = c.gpus.filter((g) => !s.gpus.has(g.index) && g.memoryMib >= r.gpuMemoryMib && g.model.toLowerCase().includes(r.gpuModel.toLowerCase()));
  return usable.length >= r.gpuCount;
}

function run(seed: number, workers: number, tasks: number) {
  const sc = scenario(seed, workers, tasks);
  const shadows = new Map<string, Shadow>(
    sc.slots.map((s) => [
      s.worker.id,
      {
        worker: s.worker,
        tags: new Set(s.worker.tags),
        running: s.allocations.size,
        cpu: s.allocatedCpuMillis,
        mem: s.allocatedMemoryMib,
        gpus: new Set(s.allocatedGpus),
      },
    ]),
  );
  const q = new PendingQueue(priorityOrdering);
  sc.tasks.forEach((t) => q.push(t));
  const order = [...q.inOrder()];
  let n = 0;
  const plan = planDispatch(q.inOrder(), sc.slots, sc.strategy, { nowMs: NOW, maxScan: 1_000_000, newAttemptId: () => `a${++n}` });
  return { sc, plan, shadows, order };
}

function check(seed: number, workers: number, tasks: number) {
  const { sc, plan, shadows, order } = run(seed, workers, tasks);
  const ctx = `seed ${seed}`;
  // Never over-commit.
  for (const s of sc.slots) {
    const c = s.worker.capacity;
    assert.ok(s.allocations.size <= Math.max(c.maxTasks, 0) || s.allocations.size === 0, `${ctx}: slots over-committed on ${s.worker.id}`);
    assert.ok(s.allocatedCpuMillis <= c.cpuMillis && s.allocatedMemoryMib <= c.memoryMib, `${ctx}: cpu/memory over-committed on ${s.worker.id}`);
    const all = [...s.allocations.values()].flatMap((a) => a.gpuIndexes);
    assert.is(new Set(all).size, all.length, `${ctx}: a GPU shared on ${s.worker.id}`);
    for (const g of all)
      assert.ok(
        c.gpus.some((x) => x.index === g),
        `${ctx}: unknown GPU ${g}`,
      );
  }
  // Replay in dispatch order against the independent rules.
  const byTask = new Map(plan.assignments.map((a) => [a.task.id, a]));
  const unplacedSoFar: Task[] = [];
  let placed = 0;
  for (const t of order) {
    const a = byTask.get(t.id);
    if (!a) {
      // Exact feasibility: nothing fit this task when its turn came (so it could not be placed later in the pass either).
      for (const s of shadows.values()) assert.not.ok(fits(t, s), `${ctx}: ${t.id} left waiting though ${s.worker.id} fit it`);
      unplacedSoFar.push(t);
      continue;
    }
    placed++;
    const s = shadows.get(a.slot.worker.id)!;
    assert.ok(fits(t, s), `${ctx}: ${t.id} placed on infeasible ${s.worker.id}`);
    const r = t.spec.resources;
    assert.is(a.gpuIndexes.length, r.gpuCount, `${ctx}: GPU count`);
    for (const g of a.gpuIndexes) {
      const gpu = s.worker.capacity.gpus.find((x) => x.index === g)!;
      assert.ok(!s.gpus.has(g) && gpu.memoryMib >= r.gpuMemoryMib && gpu.model.toLowerCase().includes(r.gpuModel.toLowerCase()), `${ctx}: bad GPU ${g}`);
    }
    // Higher-ordered tasks never wait behind this one on this worker.
    for (const h of unplacedSoFar) assert.not.ok(fits(h, s), `${ctx}: ${h.id} waited behind lower ${t.id} on ${s.worker.id}`);
    s.running++;
    s.cpu += r.cpuMillis;
    s.mem += r.memoryMib;
    for (const g of a.gpuIndexes) s.gpus.add(g);
    assert.ok(a.decision.strategy === "rts" || a.decision.strategy === "round_robin");
    if (a.decision.strategy === "rts") {
      for (const b of [a.decision.chosen!, a.decision.runnerUp].filter(Boolean)) {
        for (const f of [b!.deadline, b!.affinity, b!.load, b!.io, b!.success, b!.penalty])
          assert.ok(Number.isFinite(f) && f >= 0 && f <= 1, `${ctx}: factor ${f}`);
      }
      assert.is(a.decision.chosen!.workerId, a.slot.worker.id);
    }
  }
  assert.is(placed, plan.assignments.length);
  return plan.assignments.length;
}

test("small random clusters: no over-commit, never infeasible, no priority inversion", () => {
  let placed = 0;
  for (let seed = 1; seed <= 150; seed++) placed += check(seed, 2 + (seed % 30), 20 + (seed % 7) * 15);
  assert.ok(placed > 1000, `only ${placed} placements`);
});

test("large random clusters (indexed rings, candidate cap)", () => {
  let placed = 0;
  for (let seed = 1000; seed < 1006; seed++) placed += check(seed, 300 + (seed % 3) * 150, 600);
  assert.ok(placed > 1000, `only ${placed} placements`);
});

test("same inputs give the same plan", () => {
  for (const [seed, workers, tasks] of [
    [7, 12, 80],
    [1001, 400, 500],
  ] as const) {
    const summary = (p: ReturnType<typeof run>["plan"]) => ({
      assignments: p.assignments.map((a) => [a.task.id, a.slot.worker.id, a.attemptId, a.gpuIndexes, a.decision]),
      pending: [...p.pendingReasons],
    });
    assert.equal(summary(run(seed, workers, tasks).plan), summary(run(seed, workers, tasks).plan));
  }
});

test.run();
