// What happens to a task when its current attempt ends: done, failed for good, or queued again.
//
// Two budgets, as in Slurm (requeue on node failure) and Kubernetes (restarts vs. evictions):
// - `maxRetries` counts the task's own failures: non-zero exit, start failure, timeout. Each retry
//   waits an exponential backoff with full jitter, so a task that fails at once does not spin.
// - `maxRequeues` counts attempts ended by the infrastructure (the worker was lost, the agent
//   restarted or drained): those requeue at once and do not use a retry, but are bounded so that a
//   task that kills its machines does not loop forever.
// A preempted attempt (issue 16) uses neither: the scheduler chose to stop it, neither the task nor
// a machine failed, so it is queued again at once however often it happens (as Slurm requeues
// preempted jobs). Loops are prevented where preemption is decided (a victim never preempts its
// preemptor back, and preemptions are rate-limited), not by a budget that would fail the task.
import type { AttemptOutcome, Task, TaskResult } from "./types.js";

export interface FailurePolicy {
  /** Used when the spec leaves maxRequeues unset. */
  defaultMaxRequeues: number;
  /** Used when the spec leaves retryBackoffMs unset. */
  defaultRetryBackoffMs: number;
  /** Upper bound of one backoff. */
  maxRetryBackoffMs: number;
}

export const DEFAULT_FAILURE_POLICY: FailurePolicy = {
  defaultMaxRequeues: 5,
  defaultRetryBackoffMs: 1_000,
  maxRetryBackoffMs: 5 * 60_000,
};

/** Outcomes caused by the infrastructure rather than by the task itself. */
const INFRASTRUCTURE_OUTCOMES: ReadonlySet<AttemptOutcome> = new Set(["LOST"]);

export function isInfrastructureOutcome(outcome: AttemptOutcome): boolean {
  return INFRASTRUCTURE_OUTCOMES.has(outcome);
}

export type AfterAttempt =
  | { state: "SUCCEEDED" | "CANCELED"; retriesUsed: number; requeues: number }
  | { state: "FAILED"; retriesUsed: number; requeues: number; reason: string }
  | { state: "QUEUED"; retriesUsed: number; requeues: number; notBeforeMs: number | null; reason: string };

/**
 * Decides the task's next state after `result` ended its current attempt. `random` in [0, 1)
 * draws the jitter (injected: the core never reads a clock or a global RNG).
 */
export function afterAttempt(task: Task, result: TaskResult, nowMs: number, policy: FailurePolicy, random: () => number): AfterAttempt {
  const { retriesUsed, requeues } = task;
  if (result.outcome === "SUCCEEDED" || result.outcome === "CANCELED") return { state: result.outcome, retriesUsed, requeues };
  if (result.outcome === "PREEMPTED")
    return { state: "QUEUED", retriesUsed, requeues, notBeforeMs: null, reason: `requeued after PREEMPTED: ${result.message}` };
  if (isInfrastructureOutcome(result.outcome)) {
    const max = task.spec.maxRequeues ?? policy.defaultMaxRequeues;
    if (requeues >= max) {
      return {
        state: "FAILED",
        retriesUsed,
        requeues,
        reason: `requeue limit reached: ${requeues} of ${max} requeues used (${result.outcome}: ${result.message})`,
      };
    }
    return {
      state: "QUEUED",
      retriesUsed,
      requeues: requeues + 1,
      notBeforeMs: null,
      reason: `requeued (${requeues + 1} of ${max}) after ${result.outcome}: ${result.message}`,
    };
  }
  const max = task.spec.maxRetries;
  if (retriesUsed >= max) {
    return {
      state: "FAILED",
      retriesUsed,
      requeues,
      reason: max === 0 ? `${result.outcome}, no retries allowed` : `${result.outcome}, all ${max} retries used`,
    };
  }
  const used = retriesUsed + 1;
  const delayMs = retryBackoffMs(task.spec.retryBackoffMs ?? policy.defaultRetryBackoffMs, used, policy.maxRetryBackoffMs, random);
  return {
    state: "QUEUED",
    retriesUsed: used,
    requeues,
    notBeforeMs: delayMs > 0 ? nowMs + delayMs : null,
    reason: `retry ${used} of ${max} after ${result.outcome} (backoff ${delayMs} ms)`,
  };
}

/** Full jitter (AWS architecture blog): a uniform draw in [0, min(cap, base x 2^(n-1))]. */
export function retryBackoffMs(baseMs: number, retryNumber: number, capMs: number, random: () => number): number {
  if (baseMs <= 0) return 0;
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(30, retryNumber - 1));
  return Math.round(random() * ceiling);
}
