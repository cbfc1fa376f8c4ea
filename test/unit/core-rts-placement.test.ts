import { test } from "uvu";
import * as assert from "uvu/assert";
import { planDispatch } from "../../src/core/dispatch-plan.js";
import { priorityOrdering } from "../../src/core/ordering.js";
import { PendingQueue } from "../../src/core/pending-queue.js";
import { RoundRobinPlacement, type Candidate } from "../../src/core/placement.js";
import { LearningTable, PenaltyTable, RecentKinds } from "../../src/core/rts/learning.js";
import {
  FALLBACK_NO_FRESH_TELEMETRY,
  FALLBACK_RTS_ERROR,
  FALLBACK_WEIGHTS_NOT_LOADED,
  RtsPlacement,
  type RtsPlacementOptions,
} from "../../src/core/rts/rts-placement.js";
import { DEFAULT_WEIGHTS, type WeightSet, type Weights } from "../../src/core/rts/weights.js";
import type { Task, Telemetry } from "../../src/core/types.js";
import { allocate, type WorkerSlot } from "../../src/core/worker-slot.js";
import { gpus, slot, task } from "../helpers/domain.js";

const NOW = 1_000_000;
const weightSet = (weights: Weights = DEFAULT_WEIGHTS, version = "v1"): WeightSet => ({ weights, version, loadedAtMs: 0, metadata: {} });
const tele = (over: Partial<Telemetry> = {}): Telemetry => ({
  sampledAtMs: NOW,
  cpuLoad: 0.1,
  memoryUsedMib: 0,
  memoryTotalMib: 0,
  ioPressure: 0,
  runningAttempts: 0,
  gpus: [],
  probeErrors: [],
  ...over,
});

function rts(over: Partial<RtsPlacementOptions> = {}) {
  const options: RtsPlacementOptions = {
    weights: () => weightSet(),
    learning: new LearningTable(),
    penalties: new PenaltyTable(),
    recentKinds: new RecentKinds(),
    telemetryMaxAgeMs: 10_000,
    fallback: new RoundRobinPlacement(),
    ...over,
  };
  return { strategy: new RtsPlacement(options), options };
}
const cands = (...slots: WorkerSlot[]): Candidate[] => slots.map((s) => ({ slot: s, gpuIndexes: [] }));
const busy = (s: WorkerSlot, n: number) => {
  for (let i = 0; i < n; i++) allocate(s, `${s.worker.id}-bg-${i}`, { cpuMillis: 1, memoryMib: 1, gpuCount: 0, gpuModel: "", gpuMemoryMib: 0 }, []);
  return s;
};

test("picks the idle worker over the loaded one", () => {
  const idle = slot("b-idle", { telemetry: tele({ cpuLoad: 0.05 }) });
  const loaded = busy(slot("a-loaded", { telemetry: tele({ cpuLoad: 0.95 }) }), 3);
  const { strategy } = rts();
  const { candidate, decision } = strategy.choose(task(), cands(loaded, idle), NOW);
  assert.is(candidate.slot.worker.id, "b-idle");
  assert.is(decision.strategy, "rts");
  assert.is(decision.fallbackReason, "");
  assert.is(decision.chosen!.workerId, "b-idle");
  assert.is(decision.runnerUp!.workerId, "a-loaded");
  assert.ok(decision.chosen!.load > decision.runnerUp!.load);
  assert.ok(decision.chosen!.score > decision.runnerUp!.score);
  assert.is(decision.feasibleWorkers, 2);
  assert.is(decision.weightsVersion, "v1");
});

test("picks the reliable worker over the failing one (success and penalty)", () => {
  const { strategy, options } = rts();
  for (let i = 0; i < 10; i++) {
    options.learning.record({ kind: "etl", workerId: "a-flaky", succeeded: false, actualMs: 10, estimateMs: 10, nowMs: NOW });
    options.learning.record({ kind: "etl", workerId: "b-solid", succeeded: true, actualMs: 10, estimateMs: 10, nowMs: NOW });
    options.penalties.record("a-flaky", NOW);
  }
  const a = slot("a-flaky", { telemetry: tele() });
  const b = slot("b-solid", { telemetry: tele() });
  const { decision } = strategy.choose(task({ kind: "etl" }), cands(a, b), NOW);
  assert.is(decision.chosen!.workerId, "b-solid");
  assert.ok(decision.chosen!.success > decision.runnerUp!.success);
  assert.ok(decision.runnerUp!.penalty > 0.9);
  assert.is(decision.chosen!.penalty, 0);
});

test("for a tight deadline picks the worker learned to be fast", () => {
  const { strategy, options } = rts();
  for (let i = 0; i < 20; i++) {
    options.learning.record({ kind: "render", workerId: "a-slow", succeeded: true, actualMs: 2000, estimateMs: 1000, nowMs: NOW });
    options.learning.record({ kind: "render", workerId: "b-fast", succeeded: true, actualMs: 500, estimateMs: 1000, nowMs: NOW });
  }
  const t = task({ kind: "render", estimateMs: 1000, deadlineMs: NOW + 1500 }, { deadlineMs: NOW + 1500 });
  const { decision } = strategy.choose(t, cands(slot("a-slow", { telemetry: tele() }), slot("b-fast", { telemetry: tele() })), NOW);
  assert.is(decision.chosen!.workerId, "b-fast");
  assert.is(decision.runnerUp!.deadline, 0); // predicted 2000 ms > 1500 ms left
  assert.ok(decision.chosen!.deadline > 0.6);
});

test("CPU-only work goes to a CPU worker before an idle GPU host; GPU work is not held back", () => {
  const { strategy } = rts();
  const gpuHost = () => slot("a-gpu-host", { capacity: { cpuMillis: 32000, memoryMib: 131072, maxTasks: 16, gpus: gpus(8) }, telemetry: tele({ cpuLoad: 0 }) });
  const cpuHost = () => slot("b-cpu-host", { capacity: { cpuMillis: 32000, memoryMib: 131072, maxTasks: 16, gpus: [] }, telemetry: tele({ cpuLoad: 0 }) });
  const cpuTask = strategy.choose(task(), cands(gpuHost(), cpuHost()), NOW).decision;
  assert.is(cpuTask.chosen!.workerId, "b-cpu-host");
  assert.ok(cpuTask.runnerUp!.load < cpuTask.chosen!.load, "the idle GPU host's CPU counts as reserved");
  const gpuTask = task({ resources: { cpuMillis: 4000, memoryMib: 1024, gpuCount: 1, gpuModel: "", gpuMemoryMib: 0 } });
  const onHost = strategy.choose(gpuTask, [{ slot: gpuHost(), gpuIndexes: [0] }], NOW).decision;
  assert.is(onHost.chosen!.load, 1, "no reserve for a task that uses the GPUs");
});

test("preferred tags and warm caches raise affinity", () => {
  const { strategy, options } = rts();
  options.recentKinds.record("b", "ml", NOW);
  const t = task({ kind: "ml", preferredTags: ["ssd"] });
  const { decision } = strategy.choose(
    t,
    cands(slot("a", { telemetry: tele() }), slot("b", { telemetry: tele() }), slot("c", { tags: ["ssd"], telemetry: tele() })),
    NOW,
  );
  assert.is(decision.chosen!.workerId, "c");
  assert.is(decision.runnerUp!.workerId, "b");
  assert.is(decision.chosen!.affinity, 0.75);
  assert.is(decision.runnerUp!.affinity, 0.25);
});

test("ties are broken by the lowest worker id, whatever the candidate order", () => {
  const { strategy } = rts();
  const make = () => [slot("w3", { telemetry: tele() }), slot("w1", { telemetry: tele() }), slot("w2", { telemetry: tele() })];
  const d1 = strategy.choose(task(), cands(...make()), NOW).decision;
  const d2 = strategy.choose(task(), cands(...make().reverse()), NOW).decision;
  assert.is(d1.chosen!.workerId, "w1");
  assert.is(d1.runnerUp!.workerId, "w2");
  assert.equal(d1, d2);
});

test("fallback: weights never loaded", () => {
  const { strategy } = rts({ weights: () => null });
  const { decision } = strategy.choose(task(), cands(slot("a", { telemetry: tele() })), NOW);
  assert.is(decision.strategy, "round_robin");
  assert.is(decision.fallbackReason, FALLBACK_WEIGHTS_NOT_LOADED);
  assert.is(decision.chosen, null);
});

test("fallback: no candidate with fresh telemetry (null or stale); one fresh one is enough", () => {
  const { strategy } = rts();
  const stale = slot("a", { telemetry: tele({ sampledAtMs: NOW - 60_000 }) });
  const none = slot("b");
  const r = strategy.choose(task(), cands(stale, none), NOW);
  assert.is(r.decision.strategy, "round_robin");
  assert.is(r.decision.fallbackReason, FALLBACK_NO_FRESH_TELEMETRY);
  assert.is(r.decision.feasibleWorkers, 2);
  const fresh = slot("c", { telemetry: tele() });
  assert.is(strategy.choose(task(), cands(stale, none, fresh), NOW).decision.strategy, "rts");
});

test("fallback: an exception inside RTS (bad weights, throwing learning table)", () => {
  const bad = rts({ weights: () => weightSet({ ...DEFAULT_WEIGHTS, load: NaN }) }).strategy;
  assert.is(bad.choose(task(), cands(slot("a", { telemetry: tele() })), NOW).decision.fallbackReason, FALLBACK_RTS_ERROR);
  const learning = new LearningTable();
  learning.forKind = () => {
    throw new Error("boom");
  };
  const throwing = rts({ learning }).strategy;
  const r = throwing.choose(task(), cands(slot("a", { telemetry: tele() })), NOW);
  assert.is(r.decision.strategy, "round_robin");
  assert.is(r.decision.fallbackReason, FALLBACK_RTS_ERROR);
  assert.is(r.candidate.slot.worker.id, "a");
});

test("a weight swap between decisions is seen by the next decision (read once per decision)", () => {
  let current = weightSet(DEFAULT_WEIGHTS, "v1");
  const { strategy } = rts({ weights: () => current });
  const c = cands(slot("a", { telemetry: tele() }));
  assert.is(strategy.choose(task(), c, NOW).decision.weightsVersion, "v1");
  current = weightSet({ ...DEFAULT_WEIGHTS, load: 1 }, "v2");
  assert.is(strategy.choose(task(), c, NOW).decision.weightsVersion, "v2");
});

function scenario() {
  const slots = [
    slot("w1", { telemetry: tele({ cpuLoad: 0.5 }), tags: ["ssd"] }),
    slot("w2", { telemetry: tele({ cpuLoad: 0.2 }) }),
    slot("w3", { telemetry: tele({ cpuLoad: 0.9, ioPressure: 0.8 }) }),
  ];
  let n = 0;
  const tasks: Task[] = Array.from({ length: 12 }, (_, i) =>
    task(
      { kind: `k${i % 3}`, preferredTags: i % 2 ? ["ssd"] : [], ioIntensity: (i % 4) / 4, estimateMs: 1000 * (i + 1) },
      { id: `t${String(i).padStart(2, "0")}`, deadlineMs: NOW + 5000 * (i + 1) },
    ),
  );
  const q = new PendingQueue(priorityOrdering);
  tasks.forEach((t) => q.push(t));
  const { strategy, options } = rts();
  options.learning.record({ kind: "k1", workerId: "w2", succeeded: false, actualMs: 1, estimateMs: 1, nowMs: NOW });
  options.penalties.record("w1", NOW - 60_000);
  const plan = planDispatch(q.inOrder(), slots, strategy, { nowMs: NOW, maxScan: 100, newAttemptId: () => `a${++n}` });
  return plan.assignments.map((a) => [a.task.id, a.slot.worker.id, a.attemptId, a.decision]);
}

test("determinism: the same inputs give the same plan and decisions", () => {
  const a = scenario();
  const b = scenario();
  assert.is(a.length, 12);
  assert.equal(a, b);
});

test.run();
