// The queue of QUEUED tasks under the `multifactor` ordering (issue 15), a drop-in for PendingQueue.
//
// Tasks are grouped per project. Within a project the order is exactly priorityOrdering's (queue
// class, priority, then FIFO), kept by a PendingQueue per project. Across projects, a pass is a
// k-way merge: it repeatedly yields, of the projects' head tasks, the one with the highest
// multifactor priority (ties: older createdAtMs, then smaller id), over a binary heap of heads, so
// each yielded task costs O(log P) for P projects with queued tasks instead of a sort of the whole
// queue per dispatch tick.
//
// The multifactor is applied to heads only, like Kueue's and Armada's per-queue ordering with FIFO
// within a queue. Against a global sort by total this changes nothing that matters between
// projects: fair share is the same for every task of a project, and class and priority already order
// each project. Within a project and one (class, priority), a global sort would differ only where
// age and size disagree with FIFO: once ages saturate at maxAgeMs (a global sort would then put a
// smaller later task first; here FIFO keeps order), through the size factor (a smaller task behind a
// larger one of its project waits its turn), and for a requeued task (back of its bucket here, but
// its older createdAtMs would lift it in a global sort). Those are the cases where users expect
// their own submissions to keep their order anyway.
import { priorityOrdering } from "../ordering.js";
import { PendingQueue } from "../pending-queue.js";
import type { TaskQueue } from "../task-queue.js";
import type { Task } from "../types.js";
import { priorityBreakdown, priorityTotal } from "./multifactor.js";
import type { MultifactorWeights, PriorityBreakdown } from "./types.js";

export interface MultifactorQueueOptions {
  weights: MultifactorWeights;
  /** Age saturates at this wait (Slurm's PriorityMaxAge); > 0. */
  maxAgeMs: number;
  /** The project's fair-share factor now, in (0, 1]; read once per project per pass. */
  fairShareOf: (project: string) => number;
  /** The clock; read once per pass. */
  now: () => number;
}

/** Where a queued task is, and which push put it there (a re-push makes older heads stale). */
interface Member {
  project: string;
  seq: number;
}

/** A project's current head in a pass. Mutated in place as the project advances. */
interface Head {
  project: string;
  fairShare: number;
  /** The project's tasks after this one, in its order (live: skips tasks removed meanwhile). */
  rest: Iterator<Task>;
  task: Task;
  seq: number;
  total: number;
}

export class MultifactorQueue implements TaskQueue {
  private readonly members = new Map<string, Member>();
  private readonly projects = new Map<string, PendingQueue>();
  private pushes = 0;
  /** Counts removals, so a pass can tell whether heads it holds may have gone (see inOrder). */
  private removals = 0;
  private lastRemovedId = "";

  constructor(private readonly options: MultifactorQueueOptions) {
    if (!(options.maxAgeMs > 0)) throw new RangeError(`max age must be > 0 ms, got ${options.maxAgeMs}`);
  }

  get size(): number {
    return this.members.size;
  }

  has(taskId: string): boolean {
    return this.members.has(taskId);
  }

  /** Queues `task`; a task already queued goes to the back of its bucket (a requeue). */
  push(task: Task): void {
    this.remove(task.id);
    const project = task.spec.project;
    let queue = this.projects.get(project);
    if (queue === undefined) this.projects.set(project, (queue = new PendingQueue(priorityOrdering)));
    queue.push(task);
    this.members.set(task.id, { project, seq: ++this.pushes });
  }

  remove(taskId: string): boolean {
    const member = this.members.get(taskId);
    if (member === undefined) return false;
    this.members.delete(taskId);
    const queue = this.projects.get(member.project);
    if (queue !== undefined) {
      queue.remove(taskId);
      // Projects come and go (one per user in a shared fleet): keep only those with tasks.
      if (queue.size === 0) this.projects.delete(member.project);
    }
    this.removals++;
    this.lastRemovedId = taskId;
    return true;
  }

  /** The weights the queue ranks by. */
  get weights(): MultifactorWeights {
    return this.options.weights;
  }

  /** The priority of a queued task as it would be ranked now: why it waits, or why it went first. */
  breakdownOf(task: Task): PriorityBreakdown {
    const { weights, maxAgeMs, fairShareOf, now } = this.options;
    return priorityBreakdown(task, fairShareOf(task.spec.project), now(), weights, maxAgeMs);
  }

  /**
   * Tasks in dispatch order. The clock and each project's fair share are read once, at the start:
   * one pass ranks by one consistent snapshot, however long its consumer takes.
   *
   * Safe against removal while iterating, of the current task or any other. A removal other than
   * of the task just yielded may take a head the heap holds; the pass then checks every head (O(P))
   * and moves a gone one's project on to its next task, so the order stays exact. Removing each
   * yielded task as it is consumed keeps O(log P). Tasks pushed during a pass may or may not be
   * yielded by it (a project new to the pass is not).
   */
  *inOrder(): IterableIterator<Task> {
    const { weights, maxAgeMs, fairShareOf } = this.options;
    const nowMs = this.options.now();
    const rank = (head: Head): void => {
      head.total = priorityTotal(head.task, head.fairShare, nowMs, weights, maxAgeMs);
    };
    // Moves `head` to the next task still queued in its project; false once the project is done.
    const advance = (head: Head): boolean => {
      for (let r = head.rest.next(); !r.done; r = head.rest.next()) {
        const member = this.members.get(r.value.id);
        if (member === undefined) continue; // cannot happen (the iterator skips removed tasks); cheap to be sure
        head.task = r.value;
        head.seq = member.seq;
        rank(head);
        return true;
      }
      return false;
    };

    const heap: Head[] = [];
    for (const [project, queue] of this.projects) {
      const rest = queue.inOrder();
      const first = rest.next();
      if (first.done) continue; // cannot happen (empty projects are dropped)
      const head: Head = { project, fairShare: fairShareOf(project), rest, task: first.value, seq: this.members.get(first.value.id)!.seq, total: 0 };
      rank(head);
      heap.push(head);
    }
    heapify(heap);

    while (heap.length > 0) {
      const top = heap[0];
      const yielded = top.task;
      const removalsBefore = this.removals;
      yield yielded;
      // The consumer may have changed the queue meanwhile; `top.rest` skips whatever it removed.
      if (advance(top)) siftDown(heap, 0);
      else popRoot(heap);
      const removed = this.removals - removalsBefore;
      if (removed > 1 || (removed === 1 && this.lastRemovedId !== yielded.id)) {
        let kept = 0;
        for (const head of heap) {
          const live = this.members.get(head.task.id)?.seq === head.seq || advance(head);
          if (live) heap[kept++] = head;
        }
        heap.length = kept;
        heapify(heap);
      }
    }
  }
}

// A binary max-heap of heads by `before`, kept in a plain array (no library: a few lines, and the
// hot path of every dispatch pass).

/** Higher total first; then the older task; then the smaller id (deterministic). */
function before(a: Head, b: Head): boolean {
  if (a.total !== b.total) return a.total > b.total;
  if (a.task.createdAtMs !== b.task.createdAtMs) return a.task.createdAtMs < b.task.createdAtMs;
  return a.task.id < b.task.id;
}

function siftDown(heap: Head[], index: number): void {
  const n = heap.length;
  const item = heap[index];
  let i = index;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= n) break;
    const right = left + 1;
    const child = right < n && before(heap[right], heap[left]) ? right : left;
    if (!before(heap[child], item)) break;
    heap[i] = heap[child];
    i = child;
  }
  heap[i] = item;
}

function heapify(heap: Head[]): void {
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftDown(heap, i);
}

function popRoot(heap: Head[]): void {
  const last = heap.pop();
  if (last !== undefined && heap.length > 0) {
    heap[0] = last;
    siftDown(heap, 0);
  }
}
