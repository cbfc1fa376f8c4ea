// The agent's attempts, between the master's stream and the executor: runs what the master assigns
// (or hands it back while draining), applies its control messages (cancel, preempt, pause, resume,
// and the kill list of a registration), and turns the executor's events into reports. Attempts the
// master told us to kill are "silenced": not current there, so their reports are dropped.
import type { TaskResult } from "../src/gen/taskgrid/v1/task.js";
import { AttemptOutcome } from "../src/gen/taskgrid/v1/types.js";
import type { AgentMessage, Assign, MasterMessage, RunningAttempt } from "../src/gen/taskgrid/v1/worker_service.js";
import type { AgentConfig } from "./agent-config.js";
import { finishedMessage } from "./agent-messages.js";
import { startFailed } from "./attempt-result.js";
import type { AttemptSpans } from "./attempt-spans.js";
import { Executor } from "./executor.js";
import type { TelemetrySampler } from "./probes/telemetry.js";
import type { ReportChannel } from "./report-channel.js";

/** The master's messages about one running attempt. */
export type AttemptControl = Extract<NonNullable<MasterMessage["body"]>, { $case: "cancel" | "preempt" | "pause" | "resume" }>;

export interface AttemptsDeps {
  config: AgentConfig;
  sampler: TelemetrySampler;
  spans: AttemptSpans;
  reports: ReportChannel;
  /** The lease keeper's view: the set of running attempts changed; whether the lease ran out. */
  leaseChanged(): void;
  leaseExpired(): boolean;
  /** Sends a report (kept until acknowledged). */
  report(message: AgentMessage): void;
  /** Why new work is handed back ("agent stopping", "agent draining"), or null when it is taken. */
  refusal(): string | null;
  log(level: "info" | "warn" | "error", msg: string, fields: Record<string, unknown>): void;
}

export class Attempts {
  readonly executor: Executor;
  /** Attempts the master told us to kill: not current there, so their reports are dropped. */
  readonly silenced = new Set<string>();

  constructor(private readonly deps: AttemptsDeps) {
    const { config, sampler, spans, reports } = deps;
    this.executor = new Executor({
      maxTasks: config.maxTasks,
      now: config.now,
      checkpointRoot: config.checkpointDir ?? undefined,
      logRoot: config.logRoot ?? undefined,
      logMaxAttemptBytes: config.taskLogMaxBytes,
      logMaxTotalBytes: config.taskLogTotalBytes,
      workerId: config.workerId,
      onLogError: (msg, err) => deps.log("warn", msg, { error: String(err) }),
      machineHasGpus: () => sampler.gpus().length > 0,
      gpuUuid: (index) => sampler.gpus().find((g) => g.index === index)?.uuid,
      events: {
        started: (attemptId, pid, startedAt) => {
          reports.started(attemptId, startedAt);
          spans.started(attemptId, pid, startedAt);
          deps.leaseChanged();
          deps.report({ seq: 0, body: { $case: "started", value: { attemptId, pid, startedAt } } });
        },
        progress: (attemptId, percent, message) => deps.report({ seq: 0, body: { $case: "progress", value: { attemptId, percent, message } } }),
        finished: (attemptId, result, finishedAt) => {
          spans.finished(attemptId, result, finishedAt);
          deps.leaseChanged();
          this.reportFinished(attemptId, result, finishedAt);
        },
      },
    });
  }

  assign(assign: Assign): void {
    const { attemptId, taskId } = assign;
    const now = () => new Date(this.deps.config.now());
    const refusal = this.deps.refusal();
    if (refusal !== null) {
      // Assigned before the master learnt we drain: hand it back as LOST (requeued elsewhere
      // without using a retry), never START_FAILED, which would burn the task's retries.
      const result = { ...startFailed(refusal), outcome: AttemptOutcome.ATTEMPT_OUTCOME_LOST };
      this.deps.reports.assigned(attemptId, taskId, now());
      this.deps.report(finishedMessage(attemptId, result, now()));
      return;
    }
    this.deps.reports.assigned(attemptId, taskId, now());
    const spec = assign.spec;
    this.deps.spans.assigned(assign);
    // Never rejects (a failure to start is a START_FAILED result); the result reaches the master
    // through the executor's `finished` event, so the promise itself is not needed here.
    void this.executor.run({
      attemptId,
      taskId,
      command: spec?.command ?? [],
      env: spec?.env ?? {},
      workingDir: spec?.workingDir ?? "",
      timeoutMs: spec?.timeoutMs ?? 0,
      gpuIndexes: assign.gpuIndexes,
      attemptNumber: assign.attemptNumber,
    });
  }

  control(body: AttemptControl): void {
    switch (body.$case) {
      case "cancel":
        if (!this.executor.cancel(body.value.attemptId, body.value.graceMs, AttemptOutcome.ATTEMPT_OUTCOME_CANCELED, body.value.reason || "canceled")) {
          this.deps.log("info", "cancel for an attempt that is not running", { attempt: body.value.attemptId });
        }
        return;
      case "preempt": {
        const { attemptId, signal, graceMs, reason } = body.value;
        if (!this.executor.preempt(attemptId, signal, graceMs, reason || "preempted")) {
          this.deps.log("info", "preempt for an attempt that is not running", { attempt: attemptId });
        }
        return;
      }
      case "pause":
      case "resume": {
        const paused = body.$case === "pause";
        const { attemptId } = body.value;
        const done = paused ? this.executor.pause(attemptId) : this.executor.resume(attemptId);
        if (done) this.deps.report({ seq: 0, body: { $case: "paused", value: { attemptId, paused } } });
        else this.deps.log("warn", `${body.$case} for an attempt that is not running`, { attempt: attemptId });
        return;
      }
    }
  }

  /**
   * What a registration lists as running: the attempts that run and are current, and those that
   * ended but whose `finished` is not acknowledged: the master must keep them current (not end them
   * as LOST) until those reports, sent again next, arrive.
   */
  registered(): RunningAttempt[] {
    const running: RunningAttempt[] = this.executor
      .running()
      .filter((a) => !this.silenced.has(a.attemptId))
      .map((a) => ({ attemptId: a.attemptId, taskId: a.taskId, startedAt: a.startedAt }));
    running.push(...this.deps.reports.endedUnacknowledged(new Set(running.map((r) => r.attemptId))));
    return running;
  }

  /** The agent stops: every attempt ends LOST (nobody asked to cancel these tasks; the master runs them again). */
  async stopAll(): Promise<void> {
    await this.executor.cancelAll(this.deps.config.stopGraceMs, AttemptOutcome.ATTEMPT_OUTCOME_LOST, "agent stopped");
    this.executor.close(); // its launcher and its attempts' files directory
  }

  /** A registration's kill list: attempts not current on the master are stopped and their reports dropped. */
  killNotCurrent(attemptIds: readonly string[]): void {
    for (const attemptId of attemptIds) {
      if (this.executor.cancel(attemptId, this.deps.config.stopGraceMs, AttemptOutcome.ATTEMPT_OUTCOME_CANCELED, "not current on the master")) {
        this.silenced.add(attemptId);
      }
      this.deps.reports.forget(attemptId);
    }
  }

  private reportFinished(attemptId: string, result: TaskResult, finishedAt: Date): void {
    if (this.silenced.delete(attemptId)) {
      this.deps.reports.forget(attemptId);
      return;
    }
    if (result.outcome !== AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED && this.deps.leaseExpired()) {
      // Stopped for an expired lease (by us or by the lease guard): the infrastructure's doing, not the task's.
      result = { ...result, outcome: AttemptOutcome.ATTEMPT_OUTCOME_LOST, message: `lease expired: ${result.message || "stopped"}` };
    }
    this.deps.log("info", "attempt finished", { attempt: attemptId, outcome: AttemptOutcome[result.outcome], exitCode: result.exitCode });
    this.deps.report(finishedMessage(attemptId, result, finishedAt));
  }
}
