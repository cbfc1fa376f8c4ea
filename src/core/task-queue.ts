// The queue of QUEUED tasks as the dispatch loop, the master and the simulator see it, whatever the
// ordering policy. `priority` and `fifo` are buckets (PendingQueue); `multifactor` needs the clock
// and the fair-share factors at run time (MultifactorQueue), so the queue is built here rather than
// by orderingByName.
import { MultifactorQueue, type MultifactorQueueOptions } from "./fairshare/multifactor-queue.js";
import { orderingByName } from "./ordering.js";
import { PendingQueue } from "./pending-queue.js";
import type { Task } from "./types.js";

export interface TaskQueue {
  readonly size: number;
  has(taskId: string): boolean;
  /** Queues a task; one already queued goes to the back of its bucket (a requeue). */
  push(task: Task): void;
  remove(taskId: string): boolean;
  /** Tasks in dispatch order. Safe against removal of the current task (and others) while iterating. */
  inOrder(): IterableIterator<Task>;
}

/**
 * The queue for the ordering policy `name` (one of ORDERING_NAMES). `multifactor` requires its
 * options; the others ignore them.
 */
export function createTaskQueue(name: string, multifactor?: MultifactorQueueOptions): TaskQueue {
  if (name === "multifactor") {
    if (multifactor === undefined) throw new Error('ordering policy "multifactor" needs its options (weights, max age, fair share, clock)');
    return new MultifactorQueue(multifactor);
  }
  return new PendingQueue(orderingByName(name)); // throws for an unknown name
}
