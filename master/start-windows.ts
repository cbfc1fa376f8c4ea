// A `started` report waits one turn of the event loop before it is planned, so that the `finished`
// of the same attempt, when it is read in that same turn, commits with it: one commit, one write
// of the task's row and one of the attempt's, instead of two of each and two commits in a row (a
// start and its finish can never share a batch otherwise: the finish is planned from what the
// start committed). Reports arrive together when a command ends at once (an agent sends both as
// soon as it knows them) and when an agent sends its unacknowledged reports again after a reconnect.
import type { TaskResult } from "../src/core/types.js";

/** A `finished` report handed to a waiting start: the start's turn plans it and settles its promise. */
export interface HeldFinish {
  result: TaskResult;
  finishedAtMs: number;
  actor: string;
  /** Settles the report's promise with `outcome` (its commit, or its own handling when not folded). */
  settle(outcome: Promise<void>): void;
  /** Rejects the report's promise with `error`, unless it was settled already. */
  fail(error: unknown): void;
}

interface Window {
  workerId: string;
  /** Whether a finish now would be the task's next change (nothing else queued since the start). */
  isNext: () => boolean;
  /** Resolves one event-loop turn after the window opened. */
  turnPassed: Promise<void>;
  finish: HeldFinish | null;
}

export class StartWindows {
  private readonly open = new Map<string, Window>();
  /** The end of the current event-loop turn, shared by the windows opened in it (one immediate per turn). */
  private turnEnd: Promise<void> | null = null;

  /**
   * Opens the attempt's window (when none is open: a start sent twice waits once) and returns
   * what closes it: after one event-loop turn since the opening, the finish that arrived meanwhile.
   * `isNext` keeps the order of the task's changes: a finish is taken only while nothing else about
   * the task (a progress report, a cancel) was queued after the start.
   */
  opened(attemptId: string, workerId: string, isNext: () => boolean): () => Promise<HeldFinish | null> {
    if (this.open.has(attemptId)) return async () => null;
    this.turnEnd ??= new Promise<void>((resolve) =>
      setImmediate(() => {
        this.turnEnd = null;
        resolve();
      }),
    );
    const window: Window = { workerId, isNext, turnPassed: this.turnEnd, finish: null };
    this.open.set(attemptId, window);
    return async () => {
      await window.turnPassed;
      this.open.delete(attemptId);
      return window.finish;
    };
  }

  /**
   * Hands a finish from `workerId` to the attempt's open window; returns the report's promise, or
   * null when no window of that worker is open for it (the finish is then handled on its own).
   */
  offer(attemptId: string, workerId: string, result: TaskResult, finishedAtMs: number, actor: string): Promise<void> | null {
    const window = this.open.get(attemptId);
    if (!window || window.workerId !== workerId || window.finish || !window.isNext()) return null;
    let resolve!: (outcome: Promise<void>) => void;
    const handled = new Promise<void>((r) => (resolve = r));
    let settled = false;
    const settle = (outcome: Promise<void>) => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };
    window.finish = { result, finishedAtMs, actor, settle, fail: (error) => settled || settle(Promise.reject(error)) };
    return handled;
  }
}
