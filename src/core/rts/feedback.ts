// What RTS learns when a task's current attempt ends (DESIGN §3 "Learning", "Deadlines / SLA").
// One rule set for the master and the simulator: counted outcomes update the per-(kind, worker)
// row and the worker's recent kinds; every non-success adds a penalty; the first finish after the
// deadline marks the task, counts a miss and adds another penalty.
import type { Task, TaskResult } from "../types.js";
import { LearningTable, PenaltyTable, RecentKinds, type LearningStats } from "./learning.js";

/** Outcomes that say something about the worker's reliability for this kind of task. */
const COUNTED = new Set(["SUCCEEDED", "FAILED", "TIMEOUT", "START_FAILED"]);

export interface AttemptFeedback {
  /** The updated learning row to persist, when the outcome was counted. */
  stats: LearningStats | null;
  /** True when this ending is the task's first deadline miss. */
  deadlineMissed: boolean;
}

export class RtsFeedback {
  readonly learning = new LearningTable();
  readonly penalties = new PenaltyTable();
  readonly recentKinds = new RecentKinds();
  /** Deadline misses since start. */
  deadlineMisses = 0;

  attemptEnded(task: Task, workerId: string, result: TaskResult, finishedAtMs: number): AttemptFeedback {
    const kind = task.spec.kind;
    let stats: LearningStats | null = null;
    if (COUNTED.has(result.outcome)) {
      stats = this.learning.record({
        kind,
        workerId,
        succeeded: result.outcome === "SUCCEEDED",
        actualMs: result.durationMs,
        estimateMs: task.spec.estimateMs,
        nowMs: finishedAtMs,
      });
      this.recentKinds.record(workerId, kind, finishedAtMs);
    }
    if (result.outcome !== "SUCCEEDED" && result.outcome !== "CANCELED") this.penalties.record(workerId, finishedAtMs);
    const missed = task.deadlineMs !== null && finishedAtMs > task.deadlineMs && result.outcome !== "CANCELED" && !task.deadlineMissed;
    if (missed) {
      task.deadlineMissed = true;
      this.deadlineMisses++;
      this.penalties.record(workerId, finishedAtMs);
    }
    return { stats, deadlineMissed: missed };
  }
}
