// How long an attempt is expected to run, and so when the resources it holds come back (DESIGN §3,
// backfill). The availability profile is built from these ends; a wrong guess only moves a
// reservation (it is recomputed every pass), it never stops or kills anything.
import type { Task } from "../types.js";

/** The learned runtime ratio per (kind, worker): LearningTable (rts/learning.ts) fits this shape. */
export interface RuntimeRatios {
  get(kind: string, workerId: string): { readonly runtimeRatio: number } | undefined;
}

/** What the caller knows about an attempt that holds resources: its task and when it started. */
export interface RunningAttempt {
  task: Task;
  /** When the attempt started running, or when it was assigned if no start was reported yet. */
  startedAtMs: number;
}

/** Finds a running attempt by id (the master: liveAttempts + activeTasks; the simulator: its own). */
export type AttemptLookup = (attemptId: string) => RunningAttempt | undefined;

export interface PredictionInputs {
  /** Learned ratios; absent: every estimate is taken as it is. */
  learning?: RuntimeRatios;
  /** Runtime assumed for a task without an estimate (and for an attempt the lookup does not know). */
  defaultRuntimeMs: number;
  /** An attempt past its predicted end is expected to end this long after now (default DEFAULT_OVERRUN_STEP_MS). */
  overrunStepMs?: number;
}

/**
 * An overrunning attempt is predicted to end one step from now: soon enough that a reservation
 * behind it stays near the front, late enough that it is not planned on resources still in use.
 * Each pass moves it on again while the attempt keeps running.
 */
export const DEFAULT_OVERRUN_STEP_MS = 60_000;

/**
 * Predicted runtime of `task` on `workerId`: its estimate x the learned ratio for (kind, worker)
 * when there is one, else the estimate; without an estimate, `defaultRuntimeMs`. Never longer than
 * the task's timeout (it is killed then).
 */
export function predictedRuntimeMs(task: Task, workerId: string, inputs: PredictionInputs): number {
  const spec = task.spec;
  let runtime = inputs.defaultRuntimeMs;
  if (spec.estimateMs > 0) {
    const ratio = inputs.learning?.get(spec.kind, workerId)?.runtimeRatio;
    runtime = ratio !== undefined && Number.isFinite(ratio) && ratio > 0 ? spec.estimateMs * ratio : spec.estimateMs;
  }
  if (spec.timeoutMs > 0 && runtime > spec.timeoutMs) runtime = spec.timeoutMs;
  return runtime;
}

/**
 * When an attempt on `workerId` is predicted to release what it holds: start + predicted runtime.
 * Unknown to the lookup: `defaultRuntimeMs` from now. Past its predicted end: now + the overrun step.
 */
export function predictedEndMs(running: RunningAttempt | undefined, workerId: string, nowMs: number, inputs: PredictionInputs): number {
  const end = running ? running.startedAtMs + predictedRuntimeMs(running.task, workerId, inputs) : nowMs + inputs.defaultRuntimeMs;
  return end > nowMs ? end : nowMs + (inputs.overrunStepMs ?? DEFAULT_OVERRUN_STEP_MS);
}
