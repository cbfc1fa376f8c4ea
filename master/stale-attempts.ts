// Stale-attempt detection (`staleMarginMs`, docs/operations.md "Configuration"): an attempt whose
// task has a timeout and that has been assigned for longer than timeout + margin without a result
// is ended by the master as TIMEOUT, even when its agent is gone or silent. The agent's own timer
// normally ends it first (at `timeout`, plus its SIGTERM grace); the margin covers that grace,
// dispatch and start latency and report delays, so this only fires when the agent's result is not
// coming.
//
// Age is measured from `assignedAtMs`, a time on the master's clock: `startedAtMs` comes from the
// agent's clock and may be skewed. The attempt ends through the normal lifecycle path, so its
// resources are released and the task follows the retry rules (QUEUED while retries remain, else
// FAILED). The agent is sent a cancel in case it is still alive and still runs the process.
import type { TaskResult } from "../src/core/types.js";
import type { Clock } from "./clock.js";
import type { Logger } from "./logger.js";
import type { LiveAttempt, MasterState } from "./state.js";
import type { TaskLifecycle } from "./task-lifecycle.js";
import type { WorkerCommands } from "./worker-commands.js";

export const STALE_MESSAGE = "stale: no result from the agent within timeout + margin";

export interface StaleAttemptsDeps {
  state: MasterState;
  clock: Clock;
  lifecycle: Pick<TaskLifecycle, "attemptFinished">;
  commands: Pick<WorkerCommands, "cancel">;
  log: Logger;
  /** Grace beyond the task's timeout before the master gives up on the agent's result. */
  marginMs: number;
}

export class StaleAttempts {
  constructor(private readonly deps: StaleAttemptsDeps) {}

  /** Live attempts past timeout + margin right now (tasks without a timeout never are). */
  stale(): LiveAttempt[] {
    const { state, clock, marginMs } = this.deps;
    const now = clock.now();
    const out: LiveAttempt[] = [];
    for (const live of state.liveAttempts.values()) {
      const task = state.activeTasks.get(live.attempt.taskId);
      // A task that is no longer active (e.g. CANCELED while its process is being stopped) has no
      // attempt the retry rules apply to; worker liveness frees those if the agent is gone.
      if (!task || task.currentAttemptId !== live.attempt.id) continue;
      const timeoutMs = task.spec.timeoutMs;
      if (!(timeoutMs > 0)) continue;
      if (now - live.attempt.assignedAtMs > timeoutMs + marginMs) out.push(live);
    }
    return out;
  }

  /** One pass: ends every stale attempt as TIMEOUT. Returns the ids of the attempts it ended. */
  async tick(): Promise<string[]> {
    const ended: string[] = [];
    for (const live of this.stale()) {
      const { attempt, workerId } = live;
      // Something else (the agent's report, liveness) may have ended it while we awaited.
      if (this.deps.state.liveAttempts.get(attempt.id) !== live) continue;
      const now = this.deps.clock.now();
      const result: TaskResult = {
        outcome: "TIMEOUT",
        exitCode: -1,
        signal: "",
        outputTail: "",
        durationMs: Math.max(0, now - (attempt.startedAtMs ?? attempt.assignedAtMs)),
        message: STALE_MESSAGE,
      };
      this.deps.log.warn("stale attempt ended as TIMEOUT", { attempt: attempt.id, task: attempt.taskId, worker: workerId, ageMs: now - attempt.assignedAtMs });
      // Kill at once: the task already had its timeout and the agent's grace.
      this.deps.commands.cancel(workerId, attempt.id, 0, STALE_MESSAGE);
      // The live attempt's own worker id passes the lifecycle's fencing.
      await this.deps.lifecycle.attemptFinished(workerId, attempt.id, result, now);
      ended.push(attempt.id);
    }
    return ended;
  }
}
