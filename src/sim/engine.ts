// Deterministic discrete-event simulation of the Taskgrid master driving the real scheduling core.
// Simulated time (ms) is the only clock; one seeded mulberry32 stream decides failures. Events:
// task arrivals and attempt completions; after all events at one instant, one dispatch pass runs
// (planDispatch with the configured ordering and placement), like the master's kick. Telemetry is
// synthesised from the simulated load; finished attempts feed the RTS learning tables.
// Sharing (issue 15, sharing.ts): the `multifactor` ordering, per-project quotas and per-project
// metrics; a one-project run under `priority` or `fifo` takes none of those paths.
// Preemption (issue 16, SimOptions.preemption): the master's calls (planDispatch's collector, then
// planPreemptions; preemption-driver.ts) after each pass; a victim exits after the stop delay, is
// requeued as the master requeues it (afterAttempt: no retry used) and resumes from its last
// checkpoint (preemption-work.ts). Off unless asked for: without the option no path here changes.
import { planDispatch, DEFAULT_MAX_CANDIDATES } from "../core/dispatch-plan.js";
import { createTaskQueue, type TaskQueue } from "../core/task-queue.js";
import { RoundRobinPlacement, type PlacementStrategy } from "../core/placement.js";
import { mulberry32 } from "../core/random.js";
import { RtsPlacement } from "../core/rts/rts-placement.js";
import { DEFAULT_WEIGHTS, type Weights } from "../core/rts/weights.js";
import { afterAttempt, DEFAULT_FAILURE_POLICY } from "../core/failure-accounting.js";
import { DEFAULT_PREEMPT_GRACE_MS } from "../core/spec-rules.js";
import type { Task, TaskResult } from "../core/types.js";
import { release, type WorkerSlot } from "../core/worker-slot.js";
import { buildSlot, buildTask, checkSlot } from "./build.js";
import { EventHeap } from "./event-heap.js";
import { RtsFeedback as SimLearning } from "../core/rts/feedback.js";
import { computeMetrics, type RunMetrics, type TaskOutcome } from "./metrics.js";
import type { SharingOptions } from "./fair-share.js";
import { SimSharing, type OrderingName, type SharingResult } from "./sharing.js";
import { SimPreemptions } from "./preemption-driver.js";
import { type PreemptionLogEntry, type PreemptionResult, preemptionResult } from "./preemption-metrics.js";
import { resolvePreemption, type SimPreemptionOptions } from "./preemption-options.js";
import { type AttemptShape, stopAtMs, WorkLedger } from "./preemption-work.js";
import type { SimTaskSpec, Workload } from "./types.js";

export type PlacementName = "rts" | "round_robin";

export interface SimOptions {
  placement: PlacementName;
  ordering?: OrderingName;
  /** Fair share (half-life, usage tick, weights, shares) and quotas; the master's defaults when absent. */
  sharing?: SharingOptions;
  weights?: Weights;
  seed: number;
  slaMultiplier?: number;
  maxCandidates?: number;
  /** Candidate cap for tasks with a deadline (planDispatch's default when unset). */
  deadlineCandidates?: number;
  maxScan?: number;
  /** I/O contention: an IO task's runtime is multiplied by 1 + ioContention x pressure x intensity. */
  ioContention?: number;
  /** Check every worker's allocations after every pass (tests); throws on over-commit. */
  checkInvariants?: boolean;
  /** Preemption and its accounting (preemption-options.ts); absent: neither (SimResult.preemption absent). */
  preemption?: SimPreemptionOptions;
}

interface Running {
  taskIndex: number;
  slot: WorkerSlot;
  attemptId: string;
  startMs: number;
  durationMs: number;
  failed: boolean;
  /** Wall ms per nominal ms of work on this worker (speed x I/O contention). */
  factor: number;
  /** Preemption: when it was told to stop, and when it exits (null: runs to its end). */
  signalMs: number | null;
  exitMs: number | null;
}

export interface SimResult {
  workload: string;
  placement: PlacementName;
  seed: number;
  metrics: RunMetrics;
  /** Per-project metrics and Jain's index; null for a one-project run without multifactor or quotas. */
  sharing: SharingResult | null;
  /** Every task's outcome, in workload order (start times per project, for charts). */
  outcomes: readonly TaskOutcome[];
  /** Wall-clock ms the simulation took (not part of the deterministic output). */
  wallMs: number;
  /** Only with SimOptions.preemption: preemptions, work lost, waits per queue class. */
  preemption?: PreemptionResult;
}

/** A completion event with this index is a wake-up: no attempt ends, the instant only gets a pass. */
const WAKE = -1;

export function simulate(workload: Workload, options: SimOptions): SimResult {
  const started = performance.now();
  const rng = mulberry32(options.seed ^ 0x5eed);
  const sla = options.slaMultiplier ?? 2.0;
  const ioContention = options.ioContention ?? 1;
  const slots = workload.workers.map(buildSlot);
  const speeds = new Map(workload.workers.map((w, i) => [slots[i], w] as const));
  const ioLoad = new Map<WorkerSlot, number>(slots.map((s) => [s, 0]));
  const specs: SimTaskSpec[] = workload.tasks;
  const tasks: Task[] = specs.map((t) => buildTask(t, sla));
  const taskIndex = new Map<string, number>(tasks.map((t, i) => [t.id, i]));
  const outcomes: TaskOutcome[] = specs.map((t, i) => ({
    submitMs: t.submitMs,
    deadlineMs: tasks[i].deadlineMs,
    startMs: -1,
    finishMs: -1,
    runMs: 0,
    succeeded: false,
    attempts: 0,
    project: tasks[i].spec.project,
  }));
  const learning = new SimLearning();
  const fallback = new RoundRobinPlacement();
  const weightSet = { weights: options.weights ?? DEFAULT_WEIGHTS, version: "sim", loadedAtMs: 0, metadata: {} };
  const placement: PlacementStrategy =
    options.placement === "rts"
      ? new RtsPlacement({
          weights: () => weightSet,
          learning: learning.learning,
          penalties: learning.penalties,
          recentKinds: learning.recentKinds,
          telemetryMaxAgeMs: 15_000,
          fallback,
        })
      : fallback;
  const ordering = options.ordering ?? "priority";
  const needsSharing = SimSharing.needed(
    ordering,
    options.sharing,
    specs.map((t) => t.project),
  );
  const sharing = needsSharing ? new SimSharing(options.sharing ?? {}) : null;
  const queue: TaskQueue = sharing ? sharing.queue(ordering) : createTaskQueue(ordering);
  const heap = new EventHeap();
  specs.forEach((t, i) => heap.push(t.submitMs, 0, i));
  const running: (Running | null)[] = [];
  const freeRunning: number[] = [];
  let attemptSeq = 0;
  let decisions = 0;
  let fallbacks = 0;
  let busyCoreMs = 0;
  let passes = 0;
  const pre = options.preemption ? resolvePreemption(options.preemption) : null;
  const driver = pre ? new SimPreemptions(pre) : null;
  const ledger = pre ? new WorkLedger(specs.length, pre.checkpointEveryMs) : null;
  const byAttempt = new Map<string, number>(); // attempt id -> running index (preemption only)
  const preemptLog: PreemptionLogEntry[] = [];
  let finishedWhileStopping = 0;
  let wakeAtMs = -1;
  const shapeOf = (r: Running): AttemptShape => ({
    taskIndex: r.taskIndex,
    workerId: r.slot.worker.id,
    startMs: r.startMs,
    factor: r.factor,
    gpus: specs[r.taskIndex].gpuCount,
    cores: specs[r.taskIndex].cpuMillis / 1000,
  });

  const refreshTelemetry = (slot: WorkerSlot, nowMs: number): void => {
    const t = slot.worker.telemetry!;
    const c = slot.worker.capacity;
    t.sampledAtMs = nowMs;
    t.cpuLoad = c.cpuMillis > 0 ? slot.allocatedCpuMillis / c.cpuMillis : 0;
    t.memoryUsedMib = slot.allocatedMemoryMib;
    t.runningAttempts = slot.allocations.size;
    t.ioPressure = Math.min(1, (ioLoad.get(slot) ?? 0) / 2);
    for (const g of t.gpus) g.utilizationPercent = slot.allocatedGpus.has(g.index) ? 100 : 0;
  };

  const pass = (nowMs: number): void => {
    passes++;
    // Agents report every few seconds; here every worker's telemetry is current at each pass.
    for (const s of slots) s.worker.telemetry!.sampledAtMs = nowMs;
    const plan = planDispatch(queue.inOrder(), slots, placement, {
      nowMs,
      maxScan: options.maxScan ?? 10_000,
      newAttemptId: () => `a${++attemptSeq}`,
      maxCandidates: options.maxCandidates ?? DEFAULT_MAX_CANDIDATES,
      deadlineCandidates: options.deadlineCandidates,
      quota: sharing?.gate(slots),
      preemptors: driver?.collector(),
    });
    // Before this pass's attempts are known to it, as in the master (they are committed after).
    if (driver) preempt(driver.afterPass(plan.blocked, slots, nowMs), nowMs);
    for (const a of plan.assignments) {
      const i = taskIndex.get(a.task.id)!;
      queue.remove(a.task.id);
      sharing?.started(a.task, a.borrowed);
      decisions++;
      if (a.decision.strategy !== "rts" && options.placement === "rts") fallbacks++;
      const spec = specs[i];
      const w = speeds.get(a.slot)!;
      const pressure = a.slot.worker.telemetry!.ioPressure;
      // Resumed from a checkpoint: only the work left (the same expression, and number, otherwise).
      const workMs = ledger ? ledger.remainingMs(i, spec.runtimeMs) : spec.runtimeMs;
      let duration = workMs * w.speed[spec.family] * (1 + ioContention * pressure * spec.ioIntensity);
      const failed = rng() < w.failureRate;
      if (failed) duration *= 0.1 + 0.9 * rng();
      duration = Math.max(1, Math.round(duration));
      const task = tasks[i];
      task.state = "RUNNING";
      task.attemptCount++;
      task.currentAttemptId = a.attemptId;
      const o = outcomes[i];
      o.attempts++;
      o.startMs = nowMs;
      const factor = w.speed[spec.family] * (1 + ioContention * pressure * spec.ioIntensity);
      const r: Running = {
        taskIndex: i,
        slot: a.slot,
        attemptId: a.attemptId,
        startMs: nowMs,
        durationMs: duration,
        failed,
        factor,
        signalMs: null,
        exitMs: null,
      };
      const ri = freeRunning.length > 0 ? freeRunning.pop()! : running.length;
      running[ri] = r;
      if (driver) {
        driver.started(a.attemptId, task, nowMs, a.borrowed);
        ledger!.started(i, nowMs);
        byAttempt.set(a.attemptId, ri);
      }
      ioLoad.set(a.slot, ioLoad.get(a.slot)! + spec.ioIntensity);
      heap.push(nowMs + duration, 1, ri);
      refreshTelemetry(a.slot, nowMs);
    }
    if (options.checkInvariants) for (const s of slots) checkSlot(s);
    const wakeMs = driver?.wakeAfterMs() ?? null;
    if (wakeMs !== null && wakeAtMs <= nowMs) heap.push((wakeAtMs = nowMs + wakeMs), 1, WAKE);
  };

  /** Signals the victims of this pass's preemptions; each exits after the stop delay (or finishes first). */
  const preempt = (planned: ReturnType<SimPreemptions["afterPass"]>, nowMs: number): void => {
    for (const p of planned) {
      preemptLog.push({ atMs: nowMs, preemptor: p.preemptor.id, workerId: p.victims.workerId, victims: p.victimTasks.map((t) => t.id) });
      for (const attemptId of p.victims.attemptIds) {
        const ri = byAttempt.get(attemptId)!;
        const r = running[ri]!;
        const spec = specs[r.taskIndex];
        const endMs = r.startMs + r.durationMs;
        const exitMs = stopAtMs(nowMs, endMs, pre!.stopDelayMs, spec.preemptGraceMs ?? DEFAULT_PREEMPT_GRACE_MS);
        r.signalMs = nowMs;
        if (exitMs >= endMs) {
          finishedWhileStopping++; // its own completion event ends it, as a success or a failure
          continue;
        }
        r.exitMs = exitMs;
        heap.push(exitMs, 1, ri);
      }
    }
  };

  /** A victim exits: its resources are freed and its task queued again, with no retry used. */
  const stopped = (ri: number, nowMs: number): void => {
    const r = running[ri]!;
    // The index is not reused: the attempt's original completion event is still in the heap and
    // must find nothing here when it comes.
    running[ri] = null;
    byAttempt.delete(r.attemptId);
    const i = r.taskIndex;
    const task = tasks[i];
    const spec = specs[i];
    release(r.slot, r.attemptId);
    ioLoad.set(r.slot, Math.max(0, ioLoad.get(r.slot)! - spec.ioIntensity));
    refreshTelemetry(r.slot, nowMs);
    const heldMs = nowMs - r.startMs;
    busyCoreMs += (spec.cpuMillis / 1000) * heldMs;
    sharing?.ended(task, heldMs);
    const result: TaskResult = { outcome: "PREEMPTED", exitCode: 0, signal: "SIGTERM", outputTail: "", durationMs: heldMs, message: "preempted" };
    learning.attemptEnded(task, r.slot.worker.id, result, nowMs);
    if (task.deadlineMissed) r.slot.worker.deadlineMisses++;
    ledger!.preempted(shapeOf(r), r.signalMs!, nowMs, spec.runtimeMs);
    driver!.ended(r.attemptId);
    const next = afterAttempt(task, result, nowMs, DEFAULT_FAILURE_POLICY, rng);
    if (next.state !== "QUEUED") throw new Error(`a preempted attempt must requeue its task, got ${next.state}`);
    task.retriesUsed = next.retriesUsed;
    task.requeues = next.requeues;
    task.notBeforeMs = next.notBeforeMs;
    task.currentAttemptId = null;
    task.state = "QUEUED";
    queue.push(task);
    sharing?.queued(task);
  };

  const complete = (ri: number, nowMs: number): void => {
    const r = ri === WAKE ? undefined : running[ri];
    if (!r) return; // a wake-up, or the original completion of an attempt that was preempted
    if (r.exitMs === nowMs) {
      stopped(ri, nowMs);
      return;
    }
    running[ri] = null;
    freeRunning.push(ri);
    const i = r.taskIndex;
    const task = tasks[i];
    const spec = specs[i];
    release(r.slot, r.attemptId);
    ioLoad.set(r.slot, Math.max(0, ioLoad.get(r.slot)! - spec.ioIntensity));
    refreshTelemetry(r.slot, nowMs);
    busyCoreMs += (spec.cpuMillis / 1000) * r.durationMs;
    sharing?.ended(task, r.durationMs);
    const result: TaskResult = {
      outcome: r.failed ? "FAILED" : "SUCCEEDED",
      exitCode: r.failed ? 1 : 0,
      signal: "",
      outputTail: "",
      durationMs: r.durationMs,
      message: "",
    };
    learning.attemptEnded(task, r.slot.worker.id, result, nowMs);
    if (task.deadlineMissed) r.slot.worker.deadlineMisses++;
    task.currentAttemptId = null;
    const o = outcomes[i];
    if (driver) {
      byAttempt.delete(r.attemptId);
      driver.ended(r.attemptId);
      ledger!.ended(shapeOf(r), nowMs, r.failed, r.signalMs);
    }
    // Preempted attempts used no retry (afterAttempt); without preemption there are none.
    const counted = ledger ? task.attemptCount - ledger.preemptions(i) : task.attemptCount;
    if (r.failed && counted <= spec.maxRetries) {
      task.state = "QUEUED";
      queue.push(task);
      sharing?.queued(task);
      return;
    }
    task.state = r.failed ? "FAILED" : "SUCCEEDED";
    task.result = result;
    o.finishMs = nowMs;
    o.runMs = r.durationMs;
    o.succeeded = !r.failed;
    driver?.finished(task.id);
  };

  for (;;) {
    const first = heap.pop();
    if (first === undefined) break;
    const nowMs = first.atMs;
    sharing?.beforeInstant(nowMs, slots);
    let e: typeof first | undefined = first;
    while (e !== undefined) {
      if (e.type === 0) {
        queue.push(tasks[e.index]);
        sharing?.queued(tasks[e.index]);
      } else complete(e.index, nowMs);
      const next = heap.peek();
      e = next !== undefined && next.atMs === nowMs ? heap.pop() : undefined;
    }
    if (queue.size > 0) pass(nowMs);
  }

  const capacityCores = workload.workers.reduce((s, w) => s + w.cpuMillis / 1000, 0);
  const metrics = computeMetrics(outcomes, { busyCoreMs, capacityCores, decisions, fallbacks, passes });
  return {
    workload: workload.name,
    placement: options.placement,
    seed: options.seed,
    metrics,
    sharing: sharing?.result(outcomes) ?? null,
    outcomes,
    wallMs: performance.now() - started,
    ...(ledger
      ? {
          preemption: preemptionResult(ledger, outcomes, (i) => tasks[i].spec.queueClass, {
            enabled: pre!.enabled,
            preemptions: driver!.sets,
            rateLimited: driver!.rateLimited,
            finishedWhileStopping,
            log: preemptLog,
          }),
        }
      : {}),
  };
}
