// The task state machine (DESIGN §2). Every state change in the master goes through
// `assertTransition`, so an illegal one (e.g. cancel a finished task) is a typed error, not a bug.
import { FailedPreconditionError } from "./errors.js";
import { TERMINAL_STATES, type TaskState } from "./types.js";

// QUEUED -> SUCCEEDED: an earlier attempt, given up on as LOST when its worker went silent,
// reports afterwards that its command exited 0; the task is done and is not run again.
const ALLOWED: Record<TaskState, readonly TaskState[]> = {
  QUEUED: ["ASSIGNED", "CANCELED", "FAILED", "SUCCEEDED"],
  ASSIGNED: ["RUNNING", "QUEUED", "SUCCEEDED", "FAILED", "CANCELED"],
  RUNNING: ["PAUSED", "QUEUED", "SUCCEEDED", "FAILED", "CANCELED"],
  PAUSED: ["RUNNING", "QUEUED", "SUCCEEDED", "FAILED", "CANCELED"],
  SUCCEEDED: [],
  FAILED: [],
  CANCELED: [],
};

export function canTransition(from: TaskState, to: TaskState): boolean {
  return ALLOWED[from].includes(to);
}

export function assertTransition(taskId: string, from: TaskState, to: TaskState): void {
  if (!canTransition(from, to)) {
    const why = isTerminal(from) ? `it already ended (${from})` : `it is ${from}`;
    throw new FailedPreconditionError(`task ${taskId} cannot become ${to}: ${why}`);
  }
}

export function isTerminal(state: TaskState): boolean {
  return TERMINAL_STATES.has(state);
}
