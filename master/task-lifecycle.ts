// Every task state change after submission: attempt started/finished/lost, cancel, pause, resume,
// progress. Commit, then apply: each change is planned from the task's committed state
// (task-change.ts), written through the store (group-committed), and only after the commit applied
// to memory, published to watchers and sent to agents. A failed commit leaves memory as it was.
// Changes of one task run one at a time (keyed-serializer.ts), so each is planned from the last.
import { DatabaseUnavailableError, FailedPreconditionError, NotFoundError } from "../src/core/errors.js";
import { afterAttempt, DEFAULT_FAILURE_POLICY, type FailurePolicy } from "../src/core/failure-accounting.js";
import { MASTER_ACTOR } from "../src/core/access.js";
import { isTerminal } from "../src/core/transitions.js";
import type { Task, TaskEvent, TaskResult } from "../src/core/types.js";
import type { StoreWrite, Store } from "../src/store/store-types.js";
import type { Clock } from "./clock.js";
import type { EventHub } from "./event-hub.js";
import type { LiveAttempt, MasterState } from "./state.js";
import { attemptRowRecordsEvent, planTransition, type PlannedChange } from "./task-change.js";
import { KeyedSerializer } from "./keyed-serializer.js";
import { type HeldFinish, StartWindows } from "./start-windows.js";
import { type AttemptPlan, planFinish, planStart, startThenFinish } from "./attempt-plans.js";
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
  /**
   * A report was not applied: "stale" (its attempt is no longer live: a report sent again after
   * its commit) or "foreign" (the attempt is live on another worker: a confused or hostile agent).
   */
  onReportRejected?: (reason: "stale" | "foreign", workerId: string, attemptId: string, taskId?: string) => void;
  /** A task's end was committed and applied (its dependents may move: master/dependency-gate.ts). */
  onTaskEnded?: (task: Task) => void;
}

export type Published = Array<{ event: TaskEvent; project: string }>;

/** Tasks per commit of a bulk cancel (cancelQueued). */
const CANCEL_CHUNK = 2000;

export class TaskLifecycle {
  private readonly serial = new KeyedSerializer();
  private readonly startWindows = new StartWindows();

  constructor(private readonly deps: LifecycleDeps) {}

  /** Whether a change of the task is in flight: the dispatcher must not plan on it meanwhile. */
  changing(taskId: string): boolean {
    return this.serial.busy(taskId);
  }

  private commitPlan(plan: AttemptPlan): Promise<void> {
    const writes: StoreWrite[] = [{ kind: "update_attempt", attemptId: plan.attemptId, ...plan.attempt }, ...plan.extra];
    if (plan.change) for (const write of plan.change.writes) writes.push(write);
    return this.commit(writes, plan.events, plan.apply);
  }

  private async commit(writes: StoreWrite[], events: Published, apply: () => void): Promise<void> {
    await this.deps.store.write(writes);
    // Looked up before apply, which drops ended tasks from the active ones.
    const ended = this.deps.onTaskEnded ? events.filter((e) => isTerminal(e.event.state)).map((e) => this.deps.state.activeTasks.get(e.event.taskId)) : [];
    apply();
    this.publish(events);
    for (const task of ended) if (task !== undefined && isTerminal(task.state)) this.deps.onTaskEnded?.(task);
  }

  /**
   * Records a placement decided by the dispatcher: the task becomes ASSIGNED to a new attempt, which
   * holds its resources from now on. Applied at once: the dispatcher owns the reservation it made
   * in its plan, commits the pass as one batch, and puts it back if that commit fails.
   */
  assign(task: Task, live: LiveAttempt): { writes: StoreWrite[]; event: TaskEvent } {
    // At the attempt's own assignedAtMs, so that the event its row records reads back with that time.
    const recorded = attemptRowRecordsEvent(task);
    const change = planTransition(this.deps.state, task, "ASSIGNED", live.attempt.assignedAtMs, {
      attemptId: live.attempt.id,
      workerId: live.workerId,
      newAttempt: { id: live.attempt.id, number: live.attempt.number },
      storeEvent: !recorded,
    });
    this.deps.state.liveAttempts.set(live.attempt.id, live);
    change.apply();
    const assignedBy = recorded ? change.event.actor : undefined;
    return { writes: [{ kind: "insert_attempt", attempt: live.attempt, assignedBy }, ...change.writes], event: change.event };
  }

  /** Publishes committed events (used by the dispatcher after its batched commit). */
  publish(events: Published): void {
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
    this.deps.onReportRejected?.(live ? "foreign" : "stale", workerId, attemptId, live?.attempt.taskId);
    if (mayStillRun) this.deps.commands.cancel(workerId, attemptId, 0, "attempt is not current (fenced)");
    return null;
  }

  /** Runs `change` in the attempt's task's turn (or fences the report when the attempt is unknown). */
  private inTurnOfAttempt(workerId: string, attemptId: string, mayStillRun: boolean, change: () => Promise<void>): Promise<void> {
    const live = this.fenced(workerId, attemptId, mayStillRun);
    return live ? this.serial.run(live.attempt.taskId, change) : Promise.resolve();
  }

  /**
   * `actor`: the agent's token (audit); the master's own when it acts for a silent worker. The start
   * is planned one event-loop turn later (start-windows.ts): a finish of the attempt read meanwhile
   * commits with it.
   */
  attemptStarted(workerId: string, attemptId: string, startedAtMs: number, actor = MASTER_ACTOR): Promise<void> {
    const fenced = this.fenced(workerId, attemptId);
    if (!fenced) return Promise.resolve();
    const taskId = fenced.attempt.taskId;
    let startTurn: object | undefined;
    const closeWindow = this.startWindows.opened(attemptId, workerId, () => this.serial.last(taskId) === startTurn);
    const started = this.serial.run(taskId, async () => {
      const finish = await closeWindow();
      try {
        await this.startInTurn(workerId, attemptId, startedAtMs, actor, finish);
      } catch (err) {
        finish?.fail(err);
        throw err;
      }
    });
    startTurn = this.serial.last(taskId);
    return started;
  }

  /** The start in its task's turn, with the finish that arrived in its window (folded when it can be). */
  private async startInTurn(workerId: string, attemptId: string, startedAtMs: number, actor: string, finish: HeldFinish | null): Promise<void> {
    const live = this.fenced(workerId, attemptId);
    const task = live ? this.deps.state.activeTasks.get(live.attempt.taskId) : undefined;
    const start = live && live.attempt.startedAtMs === null ? planStart(this.deps, live, task, startedAtMs, actor) : null;
    // Folded only when the start moves the task (ASSIGNED -> RUNNING); any other finish is handled
    // on its own, in its own turn after this one.
    const end = live && finish && start?.movesTask ? planFinish(this.deps, live, task, finish.result, finish.finishedAtMs, finish.actor) : null;
    if (finish && !end) finish.settle(this.attemptFinished(workerId, attemptId, finish.result, finish.finishedAtMs, finish.actor));
    if (!start) return;
    const committed = this.commitPlan(end ? startThenFinish(start, end) : start);
    if (end) finish?.settle(committed);
    await committed;
    if (end) this.deps.onCapacityChange();
  }

  attemptProgress(workerId: string, attemptId: string, percent: number, message: string, actor = MASTER_ACTOR): Promise<void> {
    return this.inTurnOfAttempt(workerId, attemptId, true, async () => {
      const live = this.fenced(workerId, attemptId);
      const task = live && this.deps.state.activeTasks.get(live.attempt.taskId);
      if (!task || task.currentAttemptId !== attemptId) return;
      const now = this.deps.clock.now();
      const progress = Math.min(100, Math.max(0, percent));
      const event: TaskEvent = {
        taskId: task.id,
        state: task.state,
        progress,
        progressMessage: message,
        timeMs: now,
        attemptId,
        workerId,
        result: null,
        actor,
      };
      await this.commit(
        [{ kind: "update_progress", taskId: task.id, progress, progressMessage: message, updatedAtMs: now }],
        [{ event, project: task.spec.project }],
        () => Object.assign(task, { progress, progressMessage: message, updatedAtMs: now }),
      );
    });
  }

  /** The agent (or liveness, for LOST) reports that an attempt ended. Frees its resources once committed. */
  attemptFinished(workerId: string, attemptId: string, result: TaskResult, finishedAtMs: number, actor = MASTER_ACTOR): Promise<void> {
    const folded = this.startWindows.offer(attemptId, workerId, result, finishedAtMs, actor);
    if (folded !== null) return folded;
    const live = this.deps.state.liveAttempts.get(attemptId);
    if ((!live || live.workerId !== workerId) && result.outcome === "SUCCEEDED") return this.lateSuccess(workerId, attemptId, result, finishedAtMs, actor);
    return this.inTurnOfAttempt(workerId, attemptId, false, async () => {
      const live = this.fenced(workerId, attemptId, false);
      if (!live) return;
      await this.commitPlan(planFinish(this.deps, live, this.deps.state.activeTasks.get(live.attempt.taskId), result, finishedAtMs, actor));
      this.deps.onCapacityChange();
    });
  }

  /**
   * A success reported for an attempt the master had given up on as LOST (its worker went silent
   * while the command was finishing; the report could only come after reconnecting). The command
   * did exit 0, so unless the task ended meanwhile it is SUCCEEDED with this result and not run
   * again: a queued task leaves the queue, a rerun in progress is canceled.
   */
  private async lateSuccess(workerId: string, attemptId: string, result: TaskResult, finishedAtMs: number, actor: string): Promise<void> {
    const attempt = await this.readThroughOutage(() => this.deps.store.getAttempt(attemptId));
    if (!attempt || attempt.workerId !== workerId || attempt.result?.outcome !== "LOST") {
      this.deps.onReportRejected?.(attempt && attempt.workerId !== workerId ? "foreign" : "stale", workerId, attemptId, attempt?.taskId);
      return;
    }
    await this.serial.run(attempt.taskId, async () => {
      const { state } = this.deps;
      const task = state.activeTasks.get(attempt.taskId);
      if (!task) return; // it ended meanwhile (a rerun finished, or it was canceled)
      const rerunId = task.currentAttemptId;
      const rerun = rerunId ? state.liveAttempts.get(rerunId) : undefined;
      const change = planTransition(state, task, "SUCCEEDED", this.deps.clock.now(), {
        attemptId,
        workerId,
        result,
        actor,
        message: `attempt #${attempt.number} on ${workerId} succeeded; its report came after the worker had been declared lost`,
      });
      await this.commit(
        [{ kind: "update_attempt", attemptId, finishedAtMs, result }, ...change.writes],
        [{ event: change.event, project: task.spec.project }],
        () => change.apply(),
      );
      // The rerun keeps its resources until its agent reports the process gone.
      if (rerun && rerunId)
        this.deps.commands.cancel(rerun.workerId, rerunId, this.deps.cancelGraceMs, "the task already succeeded (a late report of an earlier attempt)");
    });
  }

  /** A read the report cannot do without: during a database outage it waits (the report stays unacknowledged). */
  private async readThroughOutage<T>(read: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await read();
      } catch (err) {
        if (!(err instanceof DatabaseUnavailableError)) throw err;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
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
    const changes: PlannedChange[] = [];
    const events: Published = [];
    for (const orphan of orphans) {
      const task = this.deps.state.activeTasks.get(orphan.taskId);
      if (!task) continue;
      const lost: TaskResult = { outcome: "LOST", exitCode: -1, signal: "", outputTail: "", durationMs: 0, message: "attempt lost while the master was down" };
      if (orphan.attemptId) writes.push({ kind: "update_attempt", attemptId: orphan.attemptId, finishedAtMs: now, result: lost });
      const next = afterAttempt(task, lost, now, this.deps.failurePolicy ?? DEFAULT_FAILURE_POLICY, this.deps.random ?? Math.random);
      const change = planTransition(this.deps.state, task, next.state, now, {
        attemptId: orphan.attemptId ?? "",
        result: next.state === "QUEUED" ? null : lost,
        message: next.state === "QUEUED" || next.state === "FAILED" ? next.reason : undefined,
        accounting: { retriesUsed: next.retriesUsed, requeues: next.requeues, notBeforeMs: null },
      });
      writes.push(...change.writes);
      changes.push(change);
      events.push({ event: change.event, project: task.spec.project });
    }
    if (writes.length > 0) await this.commit(writes, events, () => changes.forEach((c) => c.apply()));
  }

  private activeTask(taskId: string): Task {
    const task = this.deps.state.activeTasks.get(taskId);
    if (!task) throw new NotFoundError("task", taskId);
    return task;
  }

  /** Cancel a task; a terminal task is FAILED_PRECONDITION, an unknown one NOT_FOUND (caller checks the DB). */
  cancel(taskId: string, reason: string, actor = MASTER_ACTOR): Promise<Task> {
    return this.serial.run(taskId, async () => {
      const task = this.activeTask(taskId);
      const attemptId = task.currentAttemptId;
      const live = attemptId ? this.deps.state.liveAttempts.get(attemptId) : undefined;
      const message = reason || "canceled by request";
      const result: TaskResult = { outcome: "CANCELED", exitCode: -1, signal: "", outputTail: "", durationMs: 0, message };
      const change = planTransition(this.deps.state, task, "CANCELED", this.deps.clock.now(), {
        attemptId: attemptId ?? "",
        workerId: live?.workerId ?? "",
        result,
        actor,
      });
      await this.commit(change.writes, [{ event: change.event, project: task.spec.project }], () => change.apply());
      // The attempt keeps its resources until the agent reports the process gone.
      if (live && attemptId) this.deps.commands.cancel(live.workerId, attemptId, this.deps.cancelGraceMs, message);
      return task;
    });
  }

  /**
   * Cancels those of `taskIds` that are QUEUED with no change in flight, CANCEL_CHUNK per commit (a
   * job array's elements: 50 commits for 100,000 instead of one each; no commit long enough to hold
   * up the leader's lease renewal, which waits for open write transactions); returns their ids, the
   * caller cancels the others one by one. Each chunk is marked as changing first, so no dispatch
   * pass takes one of its tasks while its commit is in flight.
   */
  async cancelQueued(taskIds: readonly string[], reason: string, actor = MASTER_ACTOR): Promise<string[]> {
    const canceled: string[] = [];
    for (let i = 0; i < taskIds.length; i += CANCEL_CHUNK) {
      for (const id of await this.cancelQueuedChunk(taskIds.slice(i, i + CANCEL_CHUNK), reason, actor)) canceled.push(id);
    }
    return canceled;
  }

  private async cancelQueuedChunk(taskIds: readonly string[], reason: string, actor: string): Promise<string[]> {
    const { state } = this.deps;
    const tasks = taskIds.map((id) => state.activeTasks.get(id)).filter((t): t is Task => t !== undefined && t.state === "QUEUED" && !this.serial.busy(t.id));
    if (tasks.length === 0) return [];
    let done!: () => void;
    const turn = new Promise<void>((resolve) => (done = resolve));
    // Holds each task's turn until this chunk's commit settles; `turn` only ever resolves.
    for (const task of tasks) void this.serial.run(task.id, () => turn);
    try {
      const message = reason || "canceled by request";
      const result: TaskResult = { outcome: "CANCELED", exitCode: -1, signal: "", outputTail: "", durationMs: 0, message };
      const now = this.deps.clock.now();
      const changes = tasks.map((task) => planTransition(state, task, "CANCELED", now, { result, actor }));
      await this.commit(
        changes.flatMap((c) => c.writes),
        changes.map((c, i) => ({ event: c.event, project: tasks[i].spec.project })),
        () => changes.forEach((c) => c.apply()),
      );
      return tasks.map((t) => t.id);
    } finally {
      done();
    }
  }

  pause(taskId: string, actor = MASTER_ACTOR): Promise<Task> {
    return this.signal(taskId, "PAUSED", actor, (w, a) => this.deps.commands.pause(w, a));
  }

  resume(taskId: string, actor = MASTER_ACTOR): Promise<Task> {
    return this.signal(taskId, "RUNNING", actor, (w, a) => this.deps.commands.resume(w, a));
  }

  private signal(taskId: string, to: "PAUSED" | "RUNNING", actor: string, send: (workerId: string, attemptId: string) => void): Promise<Task> {
    return this.serial.run(taskId, async () => {
      const task = this.activeTask(taskId);
      const from = to === "PAUSED" ? "RUNNING" : "PAUSED";
      if (task.state !== from) throw new FailedPreconditionError(`task ${taskId} cannot become ${to}: it is ${task.state} (must be ${from})`);
      const attemptId = task.currentAttemptId!;
      const live = this.deps.state.liveAttempts.get(attemptId)!;
      const change = planTransition(this.deps.state, task, to, this.deps.clock.now(), { attemptId, workerId: live.workerId, actor });
      await this.commit(change.writes, [{ event: change.event, project: task.spec.project }], () => change.apply());
      send(live.workerId, attemptId);
      return task;
    });
  }
}
