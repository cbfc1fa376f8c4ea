// The master's in-memory scheduling state. The database is the source of truth; this is the working
// copy the dispatch loop decides on, rebuilt from the database on start (see rebuild.ts).
import { pendingReason } from "../src/core/dispatch-plan.js";
import type { OrderingPolicy } from "../src/core/ordering.js";
import { PendingQueue } from "../src/core/pending-queue.js";
import type { Attempt, Task } from "../src/core/types.js";
import type { WorkerSlot } from "../src/core/worker-slot.js";

/** An attempt that holds resources on a worker until its process is known to have ended. */
export interface LiveAttempt {
  attempt: Attempt;
  workerId: string;
}

export class MasterState {
  /** Tasks not in a terminal state. */
  readonly activeTasks = new Map<string, Task>();
  readonly queue: PendingQueue;
  /** Each worker's slot by worker id, what the dispatcher plans over: the WorkerRegistry's worker objects own them and add them here. */
  readonly slots = new Map<string, WorkerSlot>();
  readonly liveAttempts = new Map<string, LiveAttempt>();
  readonly decisionsByStrategy = new Map<string, number>();
  readonly fallbacksByReason = new Map<string, number>();

  constructor(
    ordering: OrderingPolicy,
    private readonly now: () => number,
  ) {
    this.queue = new PendingQueue(ordering);
  }

  /** Why a QUEUED task is not placed right now (computed on demand, so never stale). */
  pendingReason(task: Task): string {
    return task.state === "QUEUED" ? pendingReason(task, [...this.slots.values()], this.now()) : "";
  }

  countDecision(strategy: string, fallbackReason: string): void {
    this.decisionsByStrategy.set(strategy, (this.decisionsByStrategy.get(strategy) ?? 0) + 1);
    if (fallbackReason) this.fallbacksByReason.set(fallbackReason, (this.fallbacksByReason.get(fallbackReason) ?? 0) + 1);
  }
}
