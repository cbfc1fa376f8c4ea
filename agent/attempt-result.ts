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
  if (end.stop && !cleanExitOutlivesStop(end))
    return { outcome: end.stop.outcome, exitCode, signal: signal ?? "", message: end.stop.message, outputTail, durationMs };
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

/**
 * A lease-expiry stop (LOST) of a command that exited 0 by itself: the work is done, so the end
 * stands (SUCCEEDED) rather than the stop. The stop may be decided before the agent has heard of
 * the exit (the launcher reports it a moment later), so attempt-stop.ts cannot always see it
 * coming; reported LOST, the task ran again after its first run had finished (the chaos suite's
 * SIGSTOP scenario: "ran to the end 2 times", an agent logging LOST with exit code 0). Other stops
 * (cancel, timeout, preemption) decide the outcome as before.
 */
function cleanExitOutlivesStop(end: ProcessEnd): boolean {
  return end.stop?.outcome === AttemptOutcome.ATTEMPT_OUTCOME_LOST && end.code === 0 && end.signal === null;
}

/** The process never ran (command not found, bad working dir, agent at capacity, draining). */
export function startFailed(message: string): TaskResult {
  return { outcome: AttemptOutcome.ATTEMPT_OUTCOME_START_FAILED, exitCode: -1, signal: "", outputTail: "", durationMs: 0, message };
}
