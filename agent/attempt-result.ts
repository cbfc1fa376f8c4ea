// How an attempt ended, as a TaskResult: pure functions from what the executor observed.
import type { TaskResult } from "../src/gen/taskgrid/v1/task.js";
import { AttemptOutcome } from "../src/gen/taskgrid/v1/types.js";

/** Outcomes the agent itself decides by stopping a process. */
export type StopOutcome =
  | AttemptOutcome.ATTEMPT_OUTCOME_CANCELED
  | AttemptOutcome.ATTEMPT_OUTCOME_TIMEOUT
  | AttemptOutcome.ATTEMPT_OUTCOME_LOST
  | AttemptOutcome.ATTEMPT_OUTCOME_PREEMPTED;

export interface ProcessEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  outputTail: string;
  durationMs: number;
  /** Set when the agent stopped the process (cancel, timeout, shutdown, preemption): that decides the outcome. */
  stop: { outcome: StopOutcome; message: string } | null;
}

export function endedResult(end: ProcessEnd): TaskResult {
  const { code, signal, outputTail, durationMs } = end;
  // Killed by a signal: exit code -1 and the signal's name, as the proto defines.
  const exitCode = signal ? -1 : (code ?? -1);
  if (end.stop) return { outcome: end.stop.outcome, exitCode, signal: signal ?? "", message: end.stop.message, outputTail, durationMs };
  if (code === 0) return { outcome: AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED, exitCode: 0, signal: "", message: "", outputTail, durationMs };
  return {
    outcome: AttemptOutcome.ATTEMPT_OUTCOME_FAILED,
    exitCode,
    signal: signal ?? "",
    message: signal ? `killed by ${signal}` : `exit code ${code}`,
    outputTail,
    durationMs,
  };
}

/** The process never ran (command not found, bad working dir, agent at capacity, draining). */
export function startFailed(message: string): TaskResult {
  return { outcome: AttemptOutcome.ATTEMPT_OUTCOME_START_FAILED, exitCode: -1, signal: "", outputTail: "", durationMs: 0, message };
}
