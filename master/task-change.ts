// A planned change of one task's state: the writes and the event that record it, and `apply`,
// which makes it visible in memory. Planning reads the task and touches nothing; the caller commits
// the writes and calls `apply` only once they are committed (commit, then apply, as Nomad's plan
// applier does): a failed commit leaves memory as it was, with no undo code.
import { MASTER_ACTOR } from "../src/core/access.js";
import { assertTransition, isTerminal } from "../src/core/transitions.js";
import type { Task, TaskEvent, TaskResult, TaskState } from "../src/core/types.js";
import type { StoreWrite } from "../src/store/store-types.js";
import type { MasterState } from "./state.js";

/** Fields of a transition beyond the new state. `message` explains it in the task's history. */
export interface TransitionExtra {
  attemptId?: string;
  workerId?: string;
  result?: TaskResult | null;
  message?: string;
  /** Who caused it (audit); default the master itself. */
  actor?: string;
  accounting?: { retriesUsed: number; requeues: number; notBeforeMs: number | null };
  /** For a new attempt (ASSIGNED): its id and number. */
  newAttempt?: { id: string; number: number };
  /**
   * false: a row the caller writes records the event (an attempt row its ASSIGNED or RUNNING
   * event), so no event row is written; the history derives it when read (src/store/events-sql.ts).
   * An ending event is recorded by the task row whenever it can be (see rowRecordsEnd).
   */
  storeEvent?: boolean;
}

export interface PlannedChange {
  writes: StoreWrite[];
  event: TaskEvent;
  apply(): void;
}

export function planTransition(state: MasterState, task: Task, to: TaskState, nowMs: number, extra: TransitionExtra = {}): PlannedChange {
  assertTransition(task.id, task.state, to);
  const holdsAttempt = to === "RUNNING" || to === "PAUSED" || to === "ASSIGNED";
  const accounting = extra.accounting ?? { retriesUsed: task.retriesUsed, requeues: task.requeues, notBeforeMs: task.notBeforeMs };
  const fields = {
    state: to,
    updatedAtMs: nowMs,
    currentAttemptId: !holdsAttempt ? null : (extra.newAttempt?.id ?? task.currentAttemptId),
    attemptCount: extra.newAttempt?.number ?? task.attemptCount,
    result: extra.result !== undefined ? extra.result : task.result,
    retriesUsed: accounting.retriesUsed,
    requeues: accounting.requeues,
    notBeforeMs: to === "QUEUED" ? accounting.notBeforeMs : null,
  };
  const event: TaskEvent = {
    taskId: task.id,
    state: to,
    progress: task.progress,
    progressMessage: extra.message ?? task.progressMessage,
    timeMs: nowMs,
    attemptId: extra.attemptId ?? "",
    workerId: extra.workerId ?? "",
    result: isTerminal(to) ? fields.result : null,
    actor: extra.actor ?? MASTER_ACTOR,
  };
  const endedBy = rowRecordsEnd(state, task, to, extra) ? event.actor : null;
  const storeEvent = extra.storeEvent !== false && endedBy === null;
  return {
    writes: [{ kind: "update_task", taskId: task.id, ...fields, endedBy }, ...(storeEvent ? [{ kind: "append_event" as const, event }] : [])],
    event,
    apply: () => {
      Object.assign(task, fields);
      if (to === "QUEUED") state.queue.push(task);
      else state.queue.remove(task.id);
      if (isTerminal(to)) state.activeTasks.delete(task.id);
    },
  };
}

/**
 * Whether an attempt row can stand for the task's ASSIGNED or RUNNING event about it (migrations
 * 0013, 0017): the row gives the time, actor, attempt and worker, and the event is read back with
 * progress 0 and no message; so only while the task has no progress (an earlier attempt's stays on
 * the task). Otherwise the event is stored.
 */
export function attemptRowRecordsEvent(task: Task): boolean {
  return task.progress === 0 && task.progressMessage === "";
}

/**
 * Whether the task row can stand for the event that ends it (migration 0017): the row keeps the
 * event's state, result, progress, message and time (ended_at_ms), and its attempt_count names the
 * attempt; so the event must name the task's current attempt on that attempt's worker and carry no
 * message of its own. Other endings (a queued task canceled, a late success, an attempt lost while
 * the master was down, a failure's reason) are stored as event rows.
 */
function rowRecordsEnd(state: MasterState, task: Task, to: TaskState, extra: TransitionExtra): boolean {
  if (!isTerminal(to) || extra.message !== undefined || !extra.attemptId || extra.attemptId !== task.currentAttemptId) return false;
  const live = state.liveAttempts.get(extra.attemptId);
  return live !== undefined && live.workerId === extra.workerId;
}
