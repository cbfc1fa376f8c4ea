// What the master can tell an agent. Implemented by the worker registry (down each worker's open stream);
// the task lifecycle depends only on this interface, not on gRPC.
import type { Attempt, Task } from "../src/core/types.js";

export interface WorkerCommands {
  /**
   * Returns false when the worker has no open session (the assignment was not delivered).
   * `traceParent`: the attempt's run span, for the agent's own span ("" when not traced).
   */
  assign(workerId: string, task: Task, attempt: Attempt, traceParent?: string): boolean;
  cancel(workerId: string, attemptId: string, graceMs: number, reason: string): void;
  /** Stop an attempt to make room (issue 16): `signal`, then SIGKILL after `graceMs`; it ends PREEMPTED. False: not delivered. */
  preempt(workerId: string, attemptId: string, signal: string, graceMs: number, reason: string): boolean;
  pause(workerId: string, attemptId: string): void;
  resume(workerId: string, attemptId: string): void;
}
