// What a report about an attempt changes, planned from the committed state and applied only after
// its writes commit (task-lifecycle.ts commits them): its start, its end, and the two as one plan
// when they are read together (start-windows.ts).
import { afterAttempt, DEFAULT_FAILURE_POLICY } from "../src/core/failure-accounting.js";
import type { Task, TaskResult } from "../src/core/types.js";
import { release } from "../src/core/worker-slot.js";
import type { RunningRecord, StoreWrite } from "../src/store/store-types.js";
import type { LiveAttempt } from "./state.js";
import { attemptRowRecordsEvent, planTransition, type PlannedChange } from "./task-change.js";
import type { LifecycleDeps, Published } from "./task-lifecycle.js";

/** What planning reads: the state, the clock, and what an end teaches and costs. */
type PlanDeps = Pick<LifecycleDeps, "state" | "clock" | "tracing" | "observeAttemptEnd" | "failurePolicy" | "random">;

/** What one report about an attempt changes: planned from committed state, applied once its writes commit. */
export interface AttemptPlan {
  attemptId: string;
  /** The attempt row's new fields (written by one update_attempt). */
  attempt: Omit<Extract<StoreWrite, { kind: "update_attempt" }>, "kind" | "attemptId">;
  /** The task's change, when the report moves it. */
  change: PlannedChange | null;
  /** Other writes: learning's deadline miss, a start's stored RUNNING event when folded. */
  extra: StoreWrite[];
  events: Published;
  apply(): void;
}

/**
 * A start and its finish as one plan: the attempt row is written once with all four fields and the
 * task row once, by the finish's update_task (it sets every column the start's would); the start's
 * RUNNING event, when it is stored as a row rather than recorded by the attempt's, is kept.
 */
export function startThenFinish(start: AttemptPlan, end: AttemptPlan): AttemptPlan {
  return {
    attemptId: end.attemptId,
    attempt: { ...start.attempt, ...end.attempt },
    change: end.change,
    extra: [...(start.change?.writes.filter((w) => w.kind !== "update_task") ?? []), ...end.extra],
    events: [...start.events, ...end.events],
    apply: () => {
      start.apply();
      end.apply();
    },
  };
}

/** The writes and memory change of an attempt's start; `movesTask`: the task becomes RUNNING with it. */
export function planStart(deps: PlanDeps, live: LiveAttempt, task: Task | undefined, startedAtMs: number, actor: string): AttemptPlan & { movesTask: boolean } {
  let change: PlannedChange | null = null;
  let running: RunningRecord | undefined;
  if (task && task.currentAttemptId === live.attempt.id && task.state === "ASSIGNED") {
    const now = deps.clock.now();
    const recorded = attemptRowRecordsEvent(task);
    change = planTransition(deps.state, task, "RUNNING", now, { attemptId: live.attempt.id, workerId: live.workerId, actor, storeEvent: !recorded });
    if (recorded) running = { atMs: now, by: actor };
  }
  return {
    attemptId: live.attempt.id,
    attempt: running ? { startedAtMs, running } : { startedAtMs },
    change,
    extra: [],
    events: change && task ? [{ event: change.event, project: task.spec.project }] : [],
    apply: () => {
      live.attempt.startedAtMs = startedAtMs;
      deps.tracing?.processStarted(live.attempt.id, startedAtMs);
      change?.apply();
    },
    movesTask: change !== null,
  };
}

/**
 * The writes and memory change of an attempt's end: its result, and the task's next state when it
 * is the task's current attempt. Learning is updated now (soft state, written by its own flush:
 * learning-observer.ts); a deadline miss it finds commits with the change.
 */
export function planFinish(deps: PlanDeps, live: LiveAttempt, task: Task | undefined, result: TaskResult, finishedAtMs: number, actor: string): AttemptPlan {
  const { state } = deps;
  const attemptId = live.attempt.id;
  let extra: StoreWrite[] = [];
  let change: PlannedChange | null = null;
  if (task && task.currentAttemptId === attemptId) {
    extra = deps.observeAttemptEnd?.(task, live.workerId, result, finishedAtMs) ?? [];
    const next = afterAttempt(task, result, finishedAtMs, deps.failurePolicy ?? DEFAULT_FAILURE_POLICY, deps.random ?? Math.random);
    change = planTransition(state, task, next.state, deps.clock.now(), {
      attemptId,
      workerId: live.workerId,
      actor,
      result: next.state === "QUEUED" ? null : result,
      message: next.state === "QUEUED" || next.state === "FAILED" ? next.reason : undefined,
      accounting: { retriesUsed: next.retriesUsed, requeues: next.requeues, notBeforeMs: next.state === "QUEUED" ? next.notBeforeMs : null },
    });
  }
  return {
    attemptId,
    attempt: { finishedAtMs, result },
    change,
    extra,
    events: change && task ? [{ event: change.event, project: task.spec.project }] : [],
    apply: () => {
      state.liveAttempts.delete(attemptId);
      const slot = state.slots.get(live.workerId);
      if (slot) release(slot, attemptId);
      live.attempt.finishedAtMs = finishedAtMs;
      live.attempt.result = result;
      deps.tracing?.runEnded(live.attempt, task, result);
      change?.apply();
    },
  };
}
