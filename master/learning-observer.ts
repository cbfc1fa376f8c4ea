// The master's side of RTS learning: the pure rules live in src/core/rts/feedback.ts (shared with
// the simulator); this turns their outcome into writes. Learning statistics are soft state: memory
// is updated when an attempt ends, and the rows that changed are written together about once a
// second (flush) instead of with each end. One row per (kind, worker) is written by every end on
// that worker, so, committed with the ends, it made any two ends on one worker conflict (they could
// not share a pipelined batch: group-commit.ts) and cost a row write per task; a master that dies
// loses at most the last second of learning, which later attempts teach again. A deadline miss is
// not soft (the task's flag, the worker's count): it still commits with the end.
import { RtsFeedback } from "../src/core/rts/feedback.js";
import type { LearningStats } from "../src/core/rts/learning.js";
import type { Task, TaskResult } from "../src/core/types.js";
import type { Store, StoreWrite } from "../src/store/store-types.js";

/** How often the leader writes the learning rows that changed. */
export const LEARNING_FLUSH_MS = 1000;

export class LearningObserver extends RtsFeedback {
  /** Rows changed since the last flush: the latest copy per (kind, worker). */
  private readonly unsaved = new Map<string, LearningStats>();

  load(rows: LearningStats[]): void {
    this.learning.load(rows);
  }

  /** Called for the current attempt of a task when it ends; returns the writes to commit with the end. */
  persistAttemptEnd(task: Task, workerId: string, result: TaskResult, finishedAtMs: number): StoreWrite[] {
    const { stats, deadlineMissed } = this.attemptEnded(task, workerId, result, finishedAtMs);
    if (stats) this.unsaved.set(rowKeyOf(stats), stats);
    return deadlineMissed ? [{ kind: "record_deadline_miss", taskId: task.id, workerId }] : [];
  }

  /** Rows changed since the last flush. */
  get unsavedRows(): number {
    return this.unsaved.size;
  }

  /**
   * Writes the rows changed since the last flush in one write. If it fails they are kept for the
   * next one, unless a newer copy of the row came meanwhile.
   */
  async flush(store: Pick<Store, "write">): Promise<void> {
    if (this.unsaved.size === 0) return;
    const rows = [...this.unsaved.values()];
    this.unsaved.clear();
    try {
      await store.write(rows.map((stats) => ({ kind: "upsert_learning", stats })));
    } catch (error) {
      for (const stats of rows) if (!this.unsaved.has(rowKeyOf(stats))) this.unsaved.set(rowKeyOf(stats), stats);
      throw error;
    }
  }
}

function rowKeyOf(stats: LearningStats): string {
  return JSON.stringify([stats.kind, stats.workerId]);
}
