// History retention (issue 17): the leader deletes finished tasks, with their attempts and events,
// `historyRetentionDays` after they ended (0 keeps them for ever). Done in bounded statements, each
// its own short transaction: the events of a few hundred tasks at most a few thousand rows at a
// time, then those tasks with their attempts. A transaction running for seconds would hold
// locks the leader's group commits wait on, and one longer than leaderLeaseMs makes it step down.
import type { Store } from "../src/store/store-types.js";
import type { Clock } from "./clock.js";
import type { Logger } from "./logger.js";

export interface RetentionOptions {
  store: Store;
  clock: Clock;
  log: Logger;
  /** Delete what ended longer ago than this; 0: never delete. */
  retentionMs: number;
  /** Between passes. Default 1 hour; the first pass comes one interval after taking office (or when a test calls runOnce). */
  intervalMs?: number;
  /** Tasks per statement. Default 500. */
  taskBatch?: number;
  /** Events per statement. Default 5,000. */
  eventBatch?: number;
}

export interface RetentionPass {
  tasks: number;
  events: number;
}

export class HistoryRetention {
  private timer: NodeJS.Timeout | null = null;
  private pass: Promise<RetentionPass> | null = null;
  private stopped = false;

  constructor(private readonly options: RetentionOptions) {}

  start(): void {
    if (this.options.retentionMs <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      this.runOnce().catch((err) => this.options.log.warn("history retention pass failed; tried again at the next one", { error: String(err) }));
    }, this.options.intervalMs ?? 3_600_000);
    this.timer.unref();
  }

  /** One pass (joins the one running): deletes everything expired as of now, batch by batch, until none is left or stop(). */
  runOnce(): Promise<RetentionPass> {
    this.pass ??= this.deleteExpired().finally(() => (this.pass = null));
    return this.pass;
  }

  /** Stops the timer and waits for the pass in progress to end after its current statement. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.pass?.catch(() => {});
  }

  private async deleteExpired(): Promise<RetentionPass> {
    const { store, clock, log, retentionMs } = this.options;
    const done: RetentionPass = { tasks: 0, events: 0 };
    if (retentionMs <= 0) return done;
    const taskBatch = this.options.taskBatch ?? 500;
    const eventBatch = this.options.eventBatch ?? 5000;
    const beforeMs = clock.now() - retentionMs;
    while (!this.stopped) {
      // Events first (a task may have thousands), so the statement deleting the tasks has few left.
      let events: number;
      do {
        events = await store.history.deleteExpiredEvents(beforeMs, taskBatch, eventBatch);
        done.events += events;
      } while (events === eventBatch && !this.stopped);
      if (this.stopped) break;
      const tasks = await store.history.deleteExpiredTasks(beforeMs, taskBatch);
      done.tasks += tasks;
      if (tasks < taskBatch) break;
    }
    if (done.tasks > 0 || done.events > 0) {
      log.info("history retention deleted finished tasks", { tasks: done.tasks, events: done.events, endedBefore: new Date(beforeMs).toISOString() });
    }
    return done;
  }
}
