// The master's side of RTS learning: the pure rules live in src/core/rts/feedback.ts (shared with
// the simulator); this turns their outcome into the writes that persist it, committed together
// with the attempt's own result.
import { RtsFeedback } from "../src/core/rts/feedback.js";
import type { LearningStats } from "../src/core/rts/learning.js";
import type { Task, TaskResult } from "../src/core/types.js";
import type { StoreWrite } from "../src/store/store-types.js";

export class LearningObserver extends RtsFeedback {
  load(rows: LearningStats[]): void {
    this.learning.load(rows);
  }

  /** Called for the current attempt of a task when it ends; returns extra writes to commit with it. */
  persistAttemptEnd(task: Task, workerId: string, result: TaskResult, finishedAtMs: number): StoreWrite[] {
    const { stats, deadlineMissed } = this.attemptEnded(task, workerId, result, finishedAtMs);
    const writes: StoreWrite[] = [];
    if (stats) writes.push({ kind: "upsert_learning", stats });
    if (deadlineMissed) writes.push({ kind: "record_deadline_miss", taskId: task.id, workerId });
    return writes;
  }
}
