// Which task next (DESIGN §3, question 1). An ordering policy maps a task to a bucket; buckets are
// served in ascending order and each bucket is FIFO. Bucketing keeps "next task" O(1) instead of
// re-sorting the whole queue on every dispatch tick.
import { PRIORITIES, QUEUE_CLASSES, type Task } from "./types.js";

export interface OrderingPolicy {
  readonly name: "priority" | "fifo";
  readonly bucketCount: number;
  bucketOf(task: Task): number;
}

/** Queue class (LIVE > DEFAULT > BATCH), then priority (HIGH > NORMAL > LOW), then FIFO. */
export const priorityOrdering: OrderingPolicy = {
  name: "priority",
  bucketCount: QUEUE_CLASSES.length * PRIORITIES.length,
  bucketOf: (task) => QUEUE_CLASSES.indexOf(task.spec.queueClass) * PRIORITIES.length + PRIORITIES.indexOf(task.spec.priority),
};

/** Plain submission order. */
export const fifoOrdering: OrderingPolicy = {
  name: "fifo",
  bucketCount: 1,
  bucketOf: () => 0,
};

/**
 * Every ordering policy a configuration may name. `multifactor` is not a bucketing policy (it ranks
 * projects at run time): its queue comes from createTaskQueue (task-queue.ts), not orderingByName.
 */
export const ORDERING_NAMES = ["priority", "fifo", "multifactor"] as const;
export type OrderingName = (typeof ORDERING_NAMES)[number];

/** The bucketing policy `priority` or `fifo`. */
export function orderingByName(name: string): OrderingPolicy {
  if (name === "priority") return priorityOrdering;
  if (name === "fifo") return fifoOrdering;
  if (name === "multifactor") throw new Error('ordering policy "multifactor" is not a bucketing policy: build its queue with createTaskQueue');
  throw new Error(`unknown ordering policy ${JSON.stringify(name)} (expected "priority", "fifo" or "multifactor")`);
}
