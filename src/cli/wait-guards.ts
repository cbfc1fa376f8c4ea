// What may end `submit --wait` (and `sbatch --wait`) before its task ends: the task turning out
// unschedulable (no connected worker could ever run it: waiting would never end), and Ctrl-C, which
// leaves the task running and says how to follow or cancel it; and the exit code when it has ended.
import type { TaskgridClient } from "../client/index.js";
import type { TaskResult } from "../gen/taskgrid/v1/task.js";
import { TaskState } from "../gen/taskgrid/v1/types.js";
import type { Io } from "./command.js";

export type WaitInterruption = { kind: "unschedulable"; reason: string } | { kind: "interrupted" };

/** Exit code of `submit --wait` for an unschedulable task (said in its help). */
export const UNSCHEDULABLE_EXIT_CODE = 2;
/** Exit code after Ctrl-C, as shells report SIGINT. */
export const INTERRUPTED_EXIT_CODE = 130;

/** Exit code of a wait that saw the task end: its own code, 130 (like Ctrl-C) when canceled, 1 for an end without one (a signal, a timeout, lost). */
export function waitExitCode(state: TaskState, result: TaskResult | undefined): number {
  if (state === TaskState.TASK_STATE_SUCCEEDED) return 0;
  if (state === TaskState.TASK_STATE_CANCELED) return INTERRUPTED_EXIT_CODE;
  const code = result?.exitCode ?? 0;
  return code > 0 && code < 256 ? code : 1;
}

const FIRST_POLL_MS = 500;
const MAX_POLL_MS = 5000;

export interface WaitGuards {
  /** Resolves when waiting should end early; never rejects. */
  interruption: Promise<WaitInterruption>;
  /** Stops polling and listening for SIGINT. */
  stop(): void;
}

/**
 * Starts the guards of a wait on `taskId`. The pending reason is computed by the master on each
 * read and no event announces it, so a QUEUED task is polled (0.5 s, doubling to 5 s); a failed
 * poll (a failover) is just tried again later. `unschedulable: false` (--wait-unschedulable)
 * keeps waiting on such a task.
 */
export function startWaitGuards(client: TaskgridClient, taskId: string, options: { unschedulable: boolean }): WaitGuards {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let onSigint: (() => void) | undefined;
  const interruption = new Promise<WaitInterruption>((resolve) => {
    onSigint = () => resolve({ kind: "interrupted" });
    process.once("SIGINT", onSigint);
    if (!options.unschedulable) return;
    const poll = async (delayMs: number): Promise<void> => {
      const task = await client.getTask(taskId).catch(() => undefined);
      if (stopped) return;
      if (task?.state === TaskState.TASK_STATE_QUEUED && task.pendingReason.startsWith("unschedulable:")) {
        return resolve({ kind: "unschedulable", reason: task.pendingReason });
      }
      timer = setTimeout(() => void poll(Math.min(MAX_POLL_MS, delayMs * 2)), delayMs);
    };
    // poll catches its own failures; the .catch only guards against a bug turning into an unhandled rejection.
    void poll(FIRST_POLL_MS).catch(() => undefined);
  });
  return {
    interruption,
    stop() {
      stopped = true;
      clearTimeout(timer);
      if (onSigint) process.off("SIGINT", onSigint);
    },
  };
}

/** Says why the wait ended early and what to do next; returns the exit code. */
export function reportInterruption(io: Io, taskId: string, why: WaitInterruption): number {
  if (why.kind === "unschedulable") {
    io.err(`error: task ${taskId} cannot run: ${why.reason}\n`);
    io.err(`(it stays queued; cancel it with 'taskgrid cancel ${taskId}', or wait anyway with --wait-unschedulable)\n`);
    return UNSCHEDULABLE_EXIT_CODE;
  }
  io.err(`\ninterrupted: task ${taskId} goes on; follow it with 'taskgrid watch ${taskId}', cancel it with 'taskgrid cancel ${taskId}'\n`);
  return INTERRUPTED_EXIT_CODE;
}
