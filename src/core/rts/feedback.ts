// What RTS learns when a task's current attempt ends (DESIGN §3 "Learning", "Deadlines / SLA").
// One rule set for the master and the simulator: counted outcomes update the per-(kind, worker)
// row and the worker's recent kinds; every failure (not a cancel) adds a penalty; the first finish
// after the deadline marks the task, counts a miss and adds another penalty.
import type { Task, TaskResult } from "../types.js";
import { LearningTable, PenaltyTable, RecentKinds, type LearningStats } from "./learning.js";

/**
 * Outcomes that say something about the worker's reliability for this kind of task. A FAILED
 * (the task's own non-zero exit, or a signal such as the OOM killer's SIGKILL) is counted even
 * though it is often the user's bug: S compares the worker's rate with the kind's rate on all
 * workers, so a kind that fails everywhere blames no worker, while one that fails only here does.
 * LOST is left out: it is about the worker or the master (gone silent, master down), not the kind,
 * a late report can still turn it into a success, and P already counts it.
 */
const COUNTED: ReadonlySet<string> = new Set(["SUCCEEDED", "FAILED", "TIMEOUT", "START_FAILED"]);
/**
 * Outcomes that add a penalty. Listed rather than "not SUCCEEDED or CANCELED" so that an outcome
 * added later that is nobody's failure (a preemption, say) does not penalise the worker.
 */
const PENALISED: ReadonlySet<string> = new Set(["FAILED", "TIMEOUT", "START_FAILED", "LOST"]);

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
    if (PENALISED.has(result.outcome)) this.penalties.record(workerId, finishedAtMs);
    const missed = task.deadlineMs !== null && finishedAtMs > task.deadlineMs && result.outcome !== "CANCELED" && !task.deadlineMissed;
    if (missed) {
      task.deadlineMissed = true;
      this.deadlineMisses++;
      this.penalties.record(workerId, finishedAtMs);
    }
    return { stats, deadlineMissed: missed };
  }
}
