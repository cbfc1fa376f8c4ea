// Feeds finished attempts into what RTS learns (DESIGN §3 "Learning" and "Deadlines / SLA"): the
// per-(kind, worker) runtime ratio and success counts, the per-worker penalty for failures and
// deadline misses, and the recent kinds a worker ran (affinity warmth). Returns the writes that
// persist it, committed together with the attempt's own result.
import { LearningTable, PenaltyTable, RecentKinds, type LearningStats } from "../src/core/rts/learning.js";
import type { Task, TaskResult } from "../src/core/types.js";
import type { StoreWrite } from "../src/store/store-types.js";

/** Outcomes that say something about the worker's reliability for this kind of task. */
const COUNTED = new Set(["SUCCEEDED", "FAILED", "TIMEOUT", "START_FAILED"]);

export class LearningObserver {
  readonly learning = new LearningTable();
  readonly penalties = new PenaltyTable();
  readonly recentKinds = new RecentKinds();
  /** Deadline misses since start (for metrics and info). */
  deadlineMisses = 0;

  load(rows: LearningStats[]): void {
    this.learning.load(rows);
  }

  /** Called for the current attempt of a task when it ends; returns extra writes to commit with it. */
  attemptEnded(task: Task, workerId: string, result: TaskResult, finishedAtMs: number): StoreWrite[] {
    const writes: StoreWrite[] = [];
    const kind = task.spec.kind;
    if (COUNTED.has(result.outcome)) {
      const stats = this.learning.record({
        kind,
        workerId,
        succeeded: result.outcome === "SUCCEEDED",
        actualMs: result.durationMs,
        estimateMs: task.spec.estimateMs,
        nowMs: finishedAtMs,
      });
      writes.push({ kind: "upsert_learning", stats });
      this.recentKinds.record(workerId, kind, finishedAtMs);
    }
    if (result.outcome !== "SUCCEEDED" && result.outcome !== "CANCELED") this.penalties.record(workerId, finishedAtMs);
    const missed = task.deadlineMs !== null && finishedAtMs > task.deadlineMs && result.outcome !== "CANCELED";
    if (missed && !task.deadlineMissed) {
      task.deadlineMissed = true;
      this.deadlineMisses++;
      this.penalties.record(workerId, finishedAtMs);
      writes.push({ kind: "record_deadline_miss", taskId: task.id, workerId });
    }
    return writes;
  }
}
