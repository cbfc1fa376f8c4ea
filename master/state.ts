// The master's in-memory scheduling state. The database is the source of truth; this is the working
// copy the dispatch loop decides on, rebuilt from the database on start (see rebuild.ts).
import { pendingReason } from "../src/core/dispatch-plan.js";
import type { OrderingPolicy } from "../src/core/ordering.js";
import { PendingQueue } from "../src/core/pending-queue.js";
import type { TaskQueue } from "../src/core/task-queue.js";
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
  readonly queue: TaskQueue;
  /** Why a queued task's project may not start it now (quotas, see master/sharing); null: no quota stops it. */
  quotaRefusal: (task: Task) => string | null = () => null;
  /** Each worker's slot by worker id, what the dispatcher plans over: the WorkerRegistry's worker objects own them and add them here. */
  readonly slots = new Map<string, WorkerSlot>();
  readonly liveAttempts = new Map<string, LiveAttempt>();
  readonly decisionsByStrategy = new Map<string, number>();
  readonly fallbacksByReason = new Map<string, number>();

  /** `queue`: an ordering policy (its bucketed queue) or a queue built for one (task-queue.ts). */
  constructor(
    queue: OrderingPolicy | TaskQueue,
    private readonly now: () => number,
  ) {
    this.queue = "bucketOf" in queue ? new PendingQueue(queue) : queue;
  }

  /** Why a QUEUED task is not placed right now (computed on demand, so never stale). */
  pendingReason(task: Task): string {
    if (task.state !== "QUEUED") return "";
    return this.quotaRefusal(task) ?? pendingReason(task, [...this.slots.values()], this.now());
  }

  countDecision(strategy: string, fallbackReason: string): void {
    this.decisionsByStrategy.set(strategy, (this.decisionsByStrategy.get(strategy) ?? 0) + 1);
    if (fallbackReason) this.fallbacksByReason.set(fallbackReason, (this.fallbacksByReason.get(fallbackReason) ?? 0) + 1);
  }
}
