// What the master can tell an agent. Implemented by the session registry over the agent streams;
// the task lifecycle depends only on this interface, not on gRPC.
import type { Attempt, Task } from "../src/core/types.js";

export interface WorkerCommands {
  /** Returns false when the worker has no open session (the assignment was not delivered). */
  assign(workerId: string, task: Task, attempt: Attempt): boolean;
  cancel(workerId: string, attemptId: string, graceMs: number, reason: string): void;
  pause(workerId: string, attemptId: string): void;
  resume(workerId: string, attemptId: string): void;
}
