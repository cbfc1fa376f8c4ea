// Every task state change after submission: attempt started/finished/lost, cancel, pause, resume,
// progress. Each change is applied to the in-memory state at once (so the next decision sees it),
// written through the store (group-committed), and published to watchers after the commit.
import { FailedPreconditionError, NotFoundError } from "../src/core/errors.js";
import { afterAttempt, DEFAULT_FAILURE_POLICY, type FailurePolicy } from "../src/core/failure-accounting.js";
import { assertTransition, isTerminal } from "../src/core/transitions.js";
import type { Task, TaskEvent, TaskResult, TaskState } from "../src/core/types.js";
import { release } from "../src/core/worker-slot.js";
import type { StoreWrite, Store } from "../src/store/store-types.js";
import type { Clock } from "./clock.js";
import type { EventHub } from "./event-hub.js";
import type { LiveAttempt, MasterState } from "./state.js";
import type { TaskTracing } from "./task-tracing.js";
import type { WorkerCommands } from "./worker-commands.js";

export interface LifecycleDeps {
  state: MasterState;
  store: Store;
  hub: EventHub;
  clock: Clock;
  commands: WorkerCommands;
  cancelGraceMs: number;
  /** Called when resources were freed or work was queued: the dispatcher should run. */
  onCapacityChange: () => void;
  /** Learns from the end of a task's current attempt; returns writes to commit with it. */
  observeAttemptEnd?: (task: Task, workerId: string, result: TaskResult, finishedAtMs: number) => StoreWrite[];
  /** Ends each attempt's run span (off: does nothing). */
  tracing?: TaskTracing;
  /** Retry and requeue budgets; default DEFAULT_FAILURE_POLICY. */
  failurePolicy?: FailurePolicy;
  /** Retry jitter in [0, 1); default Math.random. */
  random?: () => number;
}

/** Fields of a transition beyond the new state. `message` explains it in the task's history. */
interface TransitionExtra {
  attemptId?: string;
  workerId?: string;
  result?: TaskResult | null;
  message?: string;
  accounting?: { retriesUsed: number; requeues: number; notBeforeMs: number | null };
}

export class TaskLifecycle {
  constructor(private readonly deps: LifecycleDeps) {}

  /** Changes task state in memory and returns the writes + event that record it. */
  private transition(task: Task, to: TaskState, extra: TransitionExtra = {}): { writes: StoreWrite[]; event: TaskEvent } {
    assertTransition(task.id, task.state, to);
    const now = this.deps.clock.now();
    task.state = to;
    task.updatedAtMs = now;
    if (to !== "RUNNING" && to !== "PAUSED" && to !== "ASSIGNED") task.currentAttemptId = null;
    if (extra.result !== undefined) task.result = extra.result;
    if (extra.accounting) Object.assign(task, extra.accounting);
    if (to !== "QUEUED") task.notBeforeMs = null;
    const { state } = this.deps;
    if (to === "QUEUED") state.queue.push(task);
    else state.queue.remove(task.id);
    if (isTerminal(to)) {
      state.activeTasks.delete(task.id);
    }
    const event: TaskEvent = {
      taskId: task.id,
      state: to,
      progress: task.progress,
      progressMessage: extra.message ?? task.progressMessage,
      timeMs: now,
      attemptId: extra.attemptId ?? "",
      workerId: extra.workerId ?? "",
      result: isTerminal(to) ? task.result : null,
    };
    const writes: StoreWrite[] = [
      {
        kind: "update_task", taskId: task.id, state: to, updatedAtMs: now, currentAttemptId: task.currentAttemptId, attemptCount: task.attemptCount,
        result: task.result, retriesUsed: task.retriesUsed, requeues: task.requeues, notBeforeMs: task.notBeforeMs,
      },
      { kind: "append_event", event },
    ];
    return { writes, event };
  }

  private async commit(writes: StoreWrite[], events: Array<{ event: TaskEvent; project: string }>): Promise<void> {
    await this.deps.store.write(writes);
    for (const { event, project } of events) this.deps.hub.publish(event, project);
  }

  /**
   * Records a placement decided by the dispatcher: the task becomes ASSIGNED to a new attempt, which
   * holds its resources from now on. Returns what the caller must commit (batched per tick).
   */
  assign(task: Task, live: LiveAttempt): { writes: StoreWrite[]; event: TaskEvent } {
    this.deps.state.liveAttempts.set(live.attempt.id, live);
    task.attemptCount = live.attempt.number;
    task.currentAttemptId = live.attempt.id;
    const t = this.transition(task, "ASSIGNED", { attemptId: live.attempt.id, workerId: live.workerId });
    return { writes: [{ kind: "insert_attempt", attempt: live.attempt }, ...t.writes], event: t.event };
  }

  /** Publishes committed events (used by the dispatcher after its batched commit). */
  publish(events: Array<{ event: TaskEvent; project: string }>): void {
    for (const { event, project } of events) this.deps.hub.publish(event, project);
  }

  /**
   * The live attempt if `workerId` may report on it, else null: a stale or foreign attempt (for
   * example a `finished` sent again after its commit). One that `mayStillRun` is not current
   * anywhere, so the agent is told to kill it.
   */
  private fenced(workerId: string, attemptId: string, mayStillRun = true): LiveAttempt | null {
    const live = this.deps.state.liveAttempts.get(attemptId);
    if (live && live.workerId === workerId) return live;
    this.staleReports++;
    if (mayStillRun) this.deps.commands.cancel(workerId, attemptId, 0, "attempt is not current (fenced)");
    return null;
  }

  /** Reports about attempts that were not current on the reporting worker (ignored). */
  staleReports = 0;

  async attemptStarted(workerId: string, attemptId: string, startedAtMs: number): Promise<void> {
    const live = this.fenced(workerId, attemptId);
    if (!live || live.attempt.startedAtMs !== null) return;
    live.attempt.startedAtMs = startedAtMs;
    this.deps.tracing?.processStarted(attemptId, startedAtMs);
    const writes: StoreWrite[] = [{ kind: "update_attempt", attemptId, startedAtMs }];
    const task = this.deps.state.activeTasks.get(live.attempt.taskId);
    const events = [];
    if (task && task.currentAttemptId === attemptId && task.state === "ASSIGNED") {
      const t = this.transition(task, "RUNNING", { attemptId, workerId });
      writes.push(...t.writes);
      events.push({ event: t.event, project: task.spec.project });
    }
    await this.commit(writes, events);
  }

  async attemptProgress(workerId: string, attemptId: string, percent: number, message: string): Promise<void> {
    const live = this.fenced(workerId, attemptId);
    const task = live && this.deps.state.activeTasks.get(live.attempt.taskId);
    if (!task || task.currentAttemptId !== attemptId) return;
    const now = this.deps.clock.now();
    task.progress = Math.min(100, Math.max(0, percent));
    task.progressMessage = message;
    task.updatedAtMs = now;
    const event: TaskEvent = { taskId: task.id, state: task.state, progress: task.progress, progressMessage: message, timeMs: now, attemptId, workerId, result: null };
    await this.commit(
      [{ kind: "update_progress", taskId: task.id, progress: task.progress, progressMessage: message, updatedAtMs: now }],
      [{ event, project: task.spec.project }],
    );
  }

  /** The agent (or liveness, for LOST) reports that an attempt ended. Frees its resources. */
  async attemptFinished(workerId: string, attemptId: string, result: TaskResult, finishedAtMs: number): Promise<void> {
    const live = this.fenced(workerId, attemptId, false);
    if (!live) return;
    const { state } = this.deps;
    state.liveAttempts.delete(attemptId);
    const slot = state.slots.get(live.workerId);
    if (slot) release(slot, attemptId);
    live.attempt.finishedAtMs = finishedAtMs;
    live.attempt.result = result;
    const writes: StoreWrite[] = [{ kind: "update_attempt", attemptId, finishedAtMs, result }];
    const events = [];
    const task = state.activeTasks.get(live.attempt.taskId);
    this.deps.tracing?.runEnded(live.attempt, task, result);
    if (task && task.currentAttemptId === attemptId) {
      writes.push(...(this.deps.observeAttemptEnd?.(task, live.workerId, result, finishedAtMs) ?? []));
      const next = afterAttempt(task, result, finishedAtMs, this.deps.failurePolicy ?? DEFAULT_FAILURE_POLICY, this.deps.random ?? Math.random);
      const accounting = { retriesUsed: next.retriesUsed, requeues: next.requeues, notBeforeMs: next.state === "QUEUED" ? next.notBeforeMs : null };
      const message = next.state === "QUEUED" || next.state === "FAILED" ? next.reason : undefined;
      const t = this.transition(task, next.state, { attemptId, workerId, result: next.state === "QUEUED" ? null : result, message, accounting });
      writes.push(...t.writes);
      events.push({ event: t.event, project: task.spec.project });
    }
    this.deps.onCapacityChange();
    await this.commit(writes, events);
  }

  /** Every live attempt on the worker ends as LOST (worker offline or restarted without it). */
  async workerLost(workerId: string, attemptIds: string[], message: string): Promise<void> {
    const now = this.deps.clock.now();
    const lost: TaskResult = { outcome: "LOST", exitCode: -1, signal: "", outputTail: "", durationMs: 0, message };
    await Promise.all(attemptIds.map((id) => this.attemptFinished(workerId, id, lost, now)));
  }

  /**
   * On master start: tasks whose attempt or worker is gone for good (worker OFFLINE, row missing)
   * end that attempt as LOST: requeued without using a retry, within their requeue budget.
   */
  async endOrphans(orphans: Array<{ taskId: string; attemptId: string | null }>): Promise<void> {
    const now = this.deps.clock.now();
    const writes: StoreWrite[] = [];
    const events = [];
    for (const orphan of orphans) {
      const task = this.deps.state.activeTasks.get(orphan.taskId);
      if (!task) continue;
      const lost: TaskResult = { outcome: "LOST", exitCode: -1, signal: "", outputTail: "", durationMs: 0, message: "attempt lost while the master was down" };
      if (orphan.attemptId) writes.push({ kind: "update_attempt", attemptId: orphan.attemptId, finishedAtMs: now, result: lost });
      const next = afterAttempt(task, lost, now, this.deps.failurePolicy ?? DEFAULT_FAILURE_POLICY, this.deps.random ?? Math.random);
      const accounting = { retriesUsed: next.retriesUsed, requeues: next.requeues, notBeforeMs: null };
      const message = next.state === "QUEUED" || next.state === "FAILED" ? next.reason : undefined;
      const t = this.transition(task, next.state, { attemptId: orphan.attemptId ?? "", result: next.state === "QUEUED" ? null : lost, message, accounting });
      writes.push(...t.writes);
      events.push({ event: t.event, project: task.spec.project });
    }
    if (writes.length > 0) await this.commit(writes, events);
  }

  private activeTask(taskId: string): Task {
    const task = this.deps.state.activeTasks.get(taskId);
    if (!task) throw new NotFoundError("task", taskId);
    return task;
  }

  /** Cancel a task; a terminal task is FAILED_PRECONDITION, an unknown one NOT_FOUND (caller checks the DB). */
  async cancel(taskId: string, reason: string): Promise<Task> {
    const task = this.activeTask(taskId);
    const attemptId = task.currentAttemptId;
    const live = attemptId ? this.deps.state.liveAttempts.get(attemptId) : undefined;
    const result: TaskResult = { outcome: "CANCELED", exitCode: -1, signal: "", outputTail: "", durationMs: 0, message: reason || "canceled by request" };
    const t = this.transition(task, "CANCELED", { attemptId: attemptId ?? "", workerId: live?.workerId ?? "", result });
    // The attempt keeps its resources until the agent reports the process gone.
    if (live && attemptId) this.deps.commands.cancel(live.workerId, attemptId, this.deps.cancelGraceMs, reason || "canceled by request");
    await this.commit(t.writes, [{ event: t.event, project: task.spec.project }]);
    return task;
  }

  async pause(taskId: string): Promise<Task> {
    return this.signal(taskId, "PAUSED", (w, a) => this.deps.commands.pause(w, a));
  }

  async resume(taskId: string): Promise<Task> {
    return this.signal(taskId, "RUNNING", (w, a) => this.deps.commands.resume(w, a));
  }

  private async signal(taskId: string, to: "PAUSED" | "RUNNING", send: (workerId: string, attemptId: string) => void): Promise<Task> {
    const task = this.activeTask(taskId);
    const from = to === "PAUSED" ? "RUNNING" : "PAUSED";
    if (task.state !== from) throw new FailedPreconditionError(`task ${taskId} cannot become ${to}: it is ${task.state} (must be ${from})`);
    const attemptId = task.currentAttemptId!;
    const live = this.deps.state.liveAttempts.get(attemptId)!;
    const t = this.transition(task, to, { attemptId, workerId: live.workerId });
    send(live.workerId, attemptId);
    await this.commit(t.writes, [{ event: t.event, project: task.spec.project }]);
    return task;
  }
}
