// The master's in-memory scheduling state. The database is the source of truth; this is the working
// copy the dispatch loop decides on, rebuilt from the database on start (see rebuild.ts).
import { delayReason, reservedReason } from "../src/core/backfill/reservations.js";
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
  /** Why a queued task is held out of the queue (dependencies, its array's %N: master/dependency-gate.ts); null: it is not. */
  holdReason: (task: Task) => string | null = () => null;
  /** Why a queued task waits for preempted work to stop (master/preemptions.ts); null: it waits for none. */
  preemptionReason: (taskId: string) => string | null = () => null;
  /** Each worker's slot by worker id, what the dispatcher plans over: the WorkerRegistry's worker objects own them and add them here. */
  readonly slots = new Map<string, WorkerSlot>();
  readonly liveAttempts = new Map<string, LiveAttempt>();
  /**
   * Backfill: the last dispatch pass's reservations by task id (replaced by the dispatcher after
   * every pass), so a waiting task's pending reason can say when and where it is expected to start.
   */
  reservations: ReadonlyMap<string, { startMs: number; workerId: string }> = new Map();
  /** Backfill: the last pass's tasks that fitted but would have delayed a reservation -> the reserved task. */
  delayedBy: ReadonlyMap<string, string> = new Map();
  readonly decisionsByStrategy = new Map<string, number>();
  readonly fallbacksByReason = new Map<string, number>();

  /** `queue`: an ordering policy (its bucketed queue) or a queue built for one (task-queue.ts). */
  constructor(
    queue: OrderingPolicy | TaskQueue,
    private readonly now: () => number,
  ) {
    this.queue = "bucketOf" in queue ? new PendingQueue(queue) : queue;
  }

  /**
   * Why a QUEUED task is not placed right now: its project's quota first, then preemption in flight
   * for it, then what the last pass
   * said about it under backfill (reserved, or kept out by a reservation), else computed on demand
   * from the slots (so never stale).
   */
  pendingReason(task: Task): string {
    if (task.state !== "QUEUED") return "";
    const held = this.holdReason(task);
    if (held !== null) return held;
    const refusal = this.quotaRefusal(task);
    if (refusal !== null) return refusal;
    const preempting = this.preemptionReason(task.id);
    if (preempting !== null) return preempting;
    const reservation = this.reservations.get(task.id);
    if (reservation !== undefined) return reservedReason(reservation);
    const reservedTaskId = this.delayedBy.get(task.id);
    if (reservedTaskId !== undefined) return delayReason(reservedTaskId);
    return pendingReason(task, [...this.slots.values()], this.now());
  }

  countDecision(strategy: string, fallbackReason: string): void {
    this.decisionsByStrategy.set(strategy, (this.decisionsByStrategy.get(strategy) ?? 0) + 1);
    if (fallbackReason) this.fallbacksByReason.set(fallbackReason, (this.fallbacksByReason.get(fallbackReason) ?? 0) + 1);
  }
}
