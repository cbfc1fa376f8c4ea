// The placement benchmark's simulation (placement.bench.ts reports it): a cluster pre-loaded to
// about half busy, a queue of mixed tasks, and dispatch passes of the real core with churn between
// them until the queue drains; each decision timed between two pulls of the queue iterator.
import { hrtime } from "node:process";
import type { RunningAttempt } from "../../src/core/backfill/prediction.js";
import { planDispatch, type QuotaGate } from "../../src/core/dispatch-plan.js";
import { MultifactorQueue } from "../../src/core/fairshare/multifactor-queue.js";
import { QuotaLedger } from "../../src/core/fairshare/quota-ledger.js";
import { quotaGate } from "../../src/core/fairshare/quota-gate.js";
import { runningUsage } from "../../src/core/fairshare/running-usage.js";
import { DEFAULT_MULTIFACTOR_WEIGHTS } from "../../src/core/fairshare/types.js";
import type { TaskQueue } from "../../src/core/task-queue.js";
import { priorityOrdering } from "../../src/core/ordering.js";
import { PendingQueue } from "../../src/core/pending-queue.js";
import { RoundRobinPlacement } from "../../src/core/placement.js";
import { LearningTable, PenaltyTable, RecentKinds } from "../../src/core/rts/learning.js";
import { RtsPlacement } from "../../src/core/rts/rts-placement.js";
import { DEFAULT_WEIGHTS, type WeightSet } from "../../src/core/rts/weights.js";
import type { Task } from "../../src/core/types.js";
import { allocate, newWorkerSlot, release, type WorkerSlot } from "../../src/core/worker-slot.js";
import { KINDS, int, makeTasks, makeWorkers, mulberry32, type Rng } from "./cluster.js";

const T0 = 1_700_000_000_000;
export const QUEUE = 10_000;

interface Running {
  slot: WorkerSlot;
  attemptId: string;
  task: Task | null;
}

export interface RunStats {
  workers: number;
  maxCandidates: number;
  decided: number[];
  /** Task of each decided sample (same index). */
  decidedTasks: Task[];
  waiting: number[];
  setup: number[];
  passes: number;
  passTotalNs: number;
  lookedAt: number;
  fallbacks: number;
  unplaced: number;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export const us = (ns: number) => (Number.isFinite(ns) ? (ns / 1000).toFixed(ns < 10_000 ? 1 : 0) : "-");

/** Allocate background work until each worker is busy to a random level (mean ~50%). */
function prefill(rng: Rng, slots: WorkerSlot[], running: Running[]): void {
  let n = 0;
  for (const s of slots) {
    const c = s.worker.capacity;
    const target = Math.floor(c.maxTasks * rng());
    for (let k = 0; k < target; k++) {
      const gpuFree = c.gpus.filter((g) => !s.allocatedGpus.has(g.index)).map((g) => g.index);
      const gpuIndexes = gpuFree.length > 0 && rng() < 0.5 ? gpuFree.slice(0, 1) : [];
      const res = { cpuMillis: 1000, memoryMib: 1024, gpuCount: gpuIndexes.length, gpuModel: "", gpuMemoryMib: 0 };
      if (s.allocatedCpuMillis + res.cpuMillis > c.cpuMillis || s.allocatedMemoryMib + res.memoryMib > c.memoryMib) break;
      const attemptId = `bg-${n++}`;
      allocate(s, attemptId, res, gpuIndexes);
      running.push({ slot: s, attemptId, task: null });
    }
  }
}

/** Projects (issue 15): tasks spread over `projects` projects under the multifactor ordering, with per-project quotas when `quotas`. */
export interface ProjectsMode {
  projects: number;
  quotas: boolean;
}

export function runPlacement(
  workersCount: number,
  queueSize: number,
  maxCandidates: number,
  seed: number,
  maxPasses = 10_000,
  mode: ProjectsMode | null = null,
  /** Backfill (issue 16): K reservations per pass (0: none). Background work is unknown to the profile (default runtime). */
  backfill = 0,
): RunStats {
  const rng = mulberry32(seed);
  let nowMs = T0;
  const slots = makeWorkers(rng, workersCount, nowMs).map(newWorkerSlot);
  const learning = new LearningTable();
  const penalties = new PenaltyTable();
  const recentKinds = new RecentKinds();
  // History: learned rows for a fifth of (kind, worker) pairs, a few penalised workers, warm kinds.
  for (const s of slots) {
    for (const kind of KINDS) {
      if (rng() < 0.2) {
        const runs = int(rng, 1, 20);
        const speed = 0.5 + rng();
        for (let r = 0; r < runs; r++) {
          learning.record({
            kind,
            workerId: s.worker.id,
            succeeded: rng() < 0.93,
            actualMs: 60_000 * speed * (0.8 + 0.4 * rng()),
            estimateMs: 60_000,
            nowMs: nowMs - 3_600_000,
          });
        }
      }
    }
    if (rng() < 0.05) penalties.record(s.worker.id, nowMs - int(rng, 0, 1_200_000), int(rng, 1, 4));
    for (let k = 0; k < 3; k++) recentKinds.record(s.worker.id, KINDS[int(rng, 0, KINDS.length - 1)], nowMs - int(rng, 0, 900_000));
  }
  const weightSet: WeightSet = { weights: DEFAULT_WEIGHTS, version: "defaults", loadedAtMs: 0, metadata: {} };
  const rts = new RtsPlacement({ weights: () => weightSet, learning, penalties, recentKinds, telemetryMaxAgeMs: 15_000, fallback: new RoundRobinPlacement() });

  const running: Running[] = [];
  prefill(rng, slots, running);
  // Fair-share factors spread over (0, 1] as a mixed history of usage would leave them.
  const factors = new Map<string, number>();
  const queue: TaskQueue = mode
    ? new MultifactorQueue({
        weights: { ...DEFAULT_MULTIFACTOR_WEIGHTS, size: 0 },
        maxAgeMs: 7 * 24 * 3_600_000,
        fairShareOf: (project) => factors.get(project) ?? 1,
        now: () => nowMs,
      })
    : new PendingQueue(priorityOrdering);
  for (const [i, t] of makeTasks(rng, queueSize, nowMs).entries()) {
    if (mode) {
      const project = `project-${i % mode.projects}`;
      t.spec = { ...t.spec, project };
      if (!factors.has(project)) factors.set(project, 0.05 + 0.95 * rng());
    }
    queue.push(t);
  }
  // Quotas: each project may hold twice its even split of the fleet's cores, borrowing without limit.
  const totalCores = slots.reduce((sum, s) => sum + s.worker.capacity.cpuMillis / 1000, 0);
  const quotas = mode?.quotas
    ? [...factors.keys()].map((project) => ({ project, nominal: { cpu: (2 * totalCores) / mode.projects }, borrowingLimit: {}, lendingLimit: {} }))
    : [];

  const stats: RunStats = {
    workers: workersCount,
    maxCandidates,
    decided: [],
    decidedTasks: [],
    waiting: [],
    setup: [],
    passes: 0,
    passTotalNs: 0,
    lookedAt: 0,
    fallbacks: 0,
    unplaced: 0,
  };
  let attemptSeq = 0;
  // Backfill's lookup: the tasks this run placed, by attempt id (the prefilled background has none).
  const attempts = new Map<string, RunningAttempt>();
  const backfillOptions = backfill > 0 ? { reservations: backfill, defaultRuntimeMs: 600_000, learning, lookup: (id: string) => attempts.get(id) } : undefined;
  const sampleIds: string[] = [];
  const sampleNs: number[] = [];
  let firstPullAt = 0n;

  function* timed(it: Iterable<Task>): Generator<Task> {
    let prevId: string | null = null;
    let prevAt = 0n;
    try {
      for (const t of it) {
        const now = hrtime.bigint();
        if (prevId === null) firstPullAt = now;
        else {
          sampleIds.push(prevId);
          sampleNs.push(Number(now - prevAt));
        }
        prevId = t.id;
        prevAt = hrtime.bigint();
        yield t;
      }
    } finally {
      if (prevId !== null) {
        sampleIds.push(prevId);
        sampleNs.push(Number(hrtime.bigint() - prevAt));
      }
    }
  }

  let stalled = 0;
  while (queue.size > 0 && stats.passes < maxPasses && stalled < 5) {
    sampleIds.length = 0;
    sampleNs.length = 0;
    firstPullAt = 0n;
    const started = hrtime.bigint();
    let quota: QuotaGate | undefined;
    if (quotas.length > 0) {
      // Built from what runs now, before the pass (as the master does; outside the per-task samples).
      const ledger = new QuotaLedger(quotas, null);
      for (const [project, amounts] of runningUsage(slots)) ledger.add(project, amounts);
      quota = quotaGate(ledger);
    }
    const plan = planDispatch(timed(queue.inOrder()), slots, rts, {
      nowMs,
      maxScan: 10_000,
      maxCandidates,
      newAttemptId: () => `a-${++attemptSeq}`,
      quota,
      backfill: backfillOptions,
    });
    const ended = hrtime.bigint();
    stats.passes++;
    stats.passTotalNs += Number(ended - started);
    if (firstPullAt > 0n) stats.setup.push(Number(firstPullAt - started));
    const placed = new Map<string, Task>();
    for (const a of plan.assignments) {
      placed.set(a.task.id, a.task);
      queue.remove(a.task.id);
      running.push({ slot: a.slot, attemptId: a.attemptId, task: a.task });
      if (backfillOptions) attempts.set(a.attemptId, { task: a.task, startedAtMs: nowMs });
      recentKinds.record(a.slot.worker.id, a.task.spec.kind, nowMs);
      if (a.decision.strategy !== "rts") stats.fallbacks++;
    }
    for (let i = 0; i < sampleIds.length; i++) {
      const id = sampleIds[i];
      const placedTask = placed.get(id);
      if (placedTask) {
        stats.decided.push(sampleNs[i]);
        stats.decidedTasks.push(placedTask);
      } else if (plan.pendingReasons.has(id)) stats.waiting.push(sampleNs[i]);
    }
    stats.lookedAt += placed.size + plan.pendingReasons.size;
    // Stop once only tasks that can never run are left (they would stay QUEUED for ever).
    let onlyUnschedulable = plan.pendingReasons.size === queue.size;
    if (onlyUnschedulable) for (const r of plan.pendingReasons.values()) if (!r.startsWith("unschedulable")) onlyUnschedulable = false;
    stalled = onlyUnschedulable ? stalled + 1 : 0;
    // One second passes; ~20% of what runs finishes (learning, warmth and penalties move on).
    nowMs += 1000;
    for (const s of slots) if (s.worker.telemetry) s.worker.telemetry.sampledAtMs = nowMs - int(rng, 0, 3000);
    let keep = 0;
    for (const r of running) {
      if (rng() < 0.2) {
        release(r.slot, r.attemptId);
        attempts.delete(r.attemptId);
        if (r.task) {
          const ok = rng() < 0.95;
          const est = r.task.spec.estimateMs;
          learning.record({ kind: r.task.spec.kind, workerId: r.slot.worker.id, succeeded: ok, actualMs: est * (0.5 + rng()), estimateMs: est, nowMs });
          if (!ok) penalties.record(r.slot.worker.id, nowMs);
        }
      } else running[keep++] = r;
    }
    running.length = keep;
  }
  stats.unplaced = queue.size;
  return stats;
}

export function summarize(s: RunStats) {
  const d = [...s.decided].sort((a, b) => a - b);
  const w = [...s.waiting].sort((a, b) => a - b);
  const setup = [...s.setup].sort((a, b) => a - b);
  return {
    p50: quantile(d, 0.5),
    p99: quantile(d, 0.99),
    max: d.length ? d[d.length - 1] : NaN,
    waitP50: quantile(w, 0.5),
    waitP99: quantile(w, 0.99),
    setupP50: quantile(setup, 0.5),
    setupMax: setup.length ? setup[setup.length - 1] : NaN,
    amortized: s.lookedAt > 0 ? s.passTotalNs / s.lookedAt : NaN,
  };
}
