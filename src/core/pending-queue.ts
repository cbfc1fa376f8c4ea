// The queue of QUEUED tasks, bucketed by an ordering policy. Each bucket is a Map, whose insertion
// order gives FIFO and whose delete is O(1) (cancel of a queued task). A task requeued after a lost
// or failed attempt goes to the back of its bucket.
import type { OrderingPolicy } from "./ordering.js";
import type { TaskQueue } from "./task-queue.js";
import type { Task } from "./types.js";

export class PendingQueue implements TaskQueue {
  private readonly buckets: Map<string, Task>[];
  private readonly bucketOfTask = new Map<string, number>();

  constructor(readonly policy: OrderingPolicy) {
    this.buckets = Array.from({ length: policy.bucketCount }, () => new Map());
  }

  get size(): number {
    return this.bucketOfTask.size;
  }

  has(taskId: string): boolean {
    return this.bucketOfTask.has(taskId);
  }

  push(task: Task): void {
    this.remove(task.id);
    const bucket = this.policy.bucketOf(task);
    this.buckets[bucket].set(task.id, task);
    this.bucketOfTask.set(task.id, bucket);
  }

  remove(taskId: string): boolean {
    const bucket = this.bucketOfTask.get(taskId);
    if (bucket === undefined) return false;
    this.buckets[bucket].delete(taskId);
    this.bucketOfTask.delete(taskId);
    return true;
  }

  /** Tasks in dispatch order. Safe against removal of the current task while iterating. */
  *inOrder(): IterableIterator<Task> {
    for (const bucket of this.buckets) yield* bucket.values();
  }
}
