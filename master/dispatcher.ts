// The dispatch loop: plans placements with the pure core, commits them in one batch, then sends
// the assignments down the agent streams. Runs when kicked (submit, finish, worker joins) and on a
// slow safety timer; `tick()` runs one pass and is what tests call directly.
import type { AttemptLookup, RuntimeRatios } from "../src/core/backfill/prediction.js";
import { planDispatch, type QuotaGate } from "../src/core/dispatch-plan.js";
import type { PlacementStrategy } from "../src/core/placement.js";
import type { Task, TaskEvent } from "../src/core/types.js";
import { release } from "../src/core/worker-slot.js";
import { RING_INDEX_MIN_WORKERS } from "../src/core/worker-rings.js";
import type { StoreWrite, Store } from "../src/store/store-types.js";
import { newId, type Clock } from "./clock.js";
import type { LiveAttempt, MasterState } from "./state.js";
import type { TaskLifecycle } from "./task-lifecycle.js";
import type { TaskTracing } from "./task-tracing.js";
import type { WorkerCommands } from "./worker-commands.js";
import type { Logger } from "./logger.js";
import type { Preemptions } from "./preemptions.js";

export interface DispatcherDeps {
  state: MasterState;
  store: Store;
  clock: Clock;
  placement: PlacementStrategy;
  lifecycle: TaskLifecycle;
  commands: WorkerCommands;
  log: Logger;
  /** Upper bound on tasks looked at per pass. */
  maxScanPerTick: number;
  tracing: TaskTracing;
  /** Per-project quotas of the next pass (built from what runs now); undefined: none. */
  quota?: () => QuotaGate | undefined;
  /** Reservations and backfill (MasterConfig.backfill) and the learned runtime ratios; undefined or 0 reservations: none. */
  backfill?: { reservations: number; defaultRuntimeMs: number; learning?: RuntimeRatios };
  /** Preemption for the tasks a pass found no room for; undefined: none. */
  preemptions?: Preemptions;
}

export class Dispatcher {
  private running: Promise<void> | null = null;
  private rerun = false;
  private scheduled = false;
  private stopped = false;

  /** Each running attempt's task and start, for the availability profile (backfill). */
  private readonly lookup: AttemptLookup;

  constructor(private readonly deps: DispatcherDeps) {
    const { state } = deps;
    this.lookup = (attemptId) => {
      const live = state.liveAttempts.get(attemptId);
      if (live === undefined) return undefined;
      const task = state.activeTasks.get(live.attempt.taskId);
      return task && { task, startedAtMs: live.attempt.startedAtMs ?? live.attempt.assignedAtMs };
    };
  }

  /** Ask for a pass soon; many kicks in one event-loop turn coalesce into one pass. */
  kick(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.tick().catch((err) => this.deps.log.error("dispatch pass failed", { error: String(err) }));
    });
  }

  /** Run one pass (or, if one is running, make sure another follows it). */
  async tick(): Promise<void> {
    if (this.stopped) return;
    if (this.running !== null) {
      this.rerun = true;
      return this.running;
    }
    this.running = this.passUntilSettled().finally(() => (this.running = null));
    return this.running;
  }

  stop(): Promise<void> {
    this.stopped = true;
    return this.running ?? Promise.resolve();
  }

  private async passUntilSettled(): Promise<void> {
    do {
      this.rerun = false;
      await this.pass();
    } while (this.rerun && !this.stopped);
  }

  private async pass(): Promise<void> {
    const { state, clock, placement, lifecycle, backfill } = this.deps;
    if (state.queue.size === 0) {
      state.reservations = new Map();
      state.delayedBy = new Map();
      return;
    }
    const nowMs = clock.now();
    // A task with a change in flight (e.g. a cancel being committed) is planned once that settles.
    const plan = planDispatch(settledOnly(state.queue.inOrder(), lifecycle), [...state.slots.values()], placement, {
      nowMs,
      maxScan: this.deps.maxScanPerTick,
      newAttemptId: () => newId(clock),
      quota: this.deps.quota?.(),
      backfill: backfill && backfill.reservations > 0 ? { ...backfill, lookup: this.lookup } : undefined,
      preemptors: this.deps.preemptions?.collector(),
    });
    // The stop orders need no commit (see preemptions.ts); the room they free goes to the next pass.
    this.deps.preemptions?.afterPass(plan.blocked, nowMs);
    // Recomputed every pass: GetTask shows the latest (a task placed since has no pending reason).
    state.reservations = plan.reservations;
    state.delayedBy = plan.delayed;
    if (plan.assignments.length === 0) return;
    const assigned = this.assignAll(plan.assignments, nowMs);
    try {
      // Commit before sending: an agent never runs an attempt the database does not know.
      await this.deps.store.write(assigned.writes);
    } catch (err) {
      this.deps.log.error("could not commit assignments; requeueing", { error: String(err), count: assigned.sent.length });
      this.undo(assigned, true);
      return;
    }
    this.deliver(assigned, nowMs);
  }

  /**
   * Placement at submission (issue 18, start latency): when nothing waits in the queue, new tasks
   * are placed at once and their assignments commit in the submission's own transaction, so a task
   * reaches its agent one commit after it was submitted instead of two. Null when anything waits
   * (older work goes first) or nothing fits: the tasks then go through the queue as before. The
   * caller commits `writes` with the tasks and then calls `committed` (or `abandoned`).
   *
   * Each call pays a pass's setup, which passes coalesce but submissions do not: up to
   * RING_INDEX_MIN_WORKERS workers that is one scan of the slots; above it the rings built per pass
   * cost more per call (~225 us at 1,000 workers) than a unary submit's whole master CPU, so there
   * submissions take the queue and the coalesced passes.
   */
  placeAtSubmit(tasks: readonly Task[]): SubmitPlacement | null {
    const { state, clock, placement } = this.deps;
    if (this.stopped || tasks.length === 0 || state.queue.size > 0 || state.slots.size >= RING_INDEX_MIN_WORKERS) return null;
    const nowMs = clock.now();
    const plan = planDispatch(tasks, [...state.slots.values()], placement, {
      nowMs,
      maxScan: this.deps.maxScanPerTick,
      newAttemptId: () => newId(clock),
      quota: this.deps.quota?.(),
    });
    if (plan.assignments.length === 0) return null;
    const assigned = this.assignAll(plan.assignments, nowMs);
    return {
      writes: assigned.writes,
      committed: () => this.deliver(assigned, nowMs),
      abandoned: () => this.undo(assigned, false),
    };
  }

  /** Makes the planned assignments in memory (each task ASSIGNED to a new attempt holding its room) and the writes that record them. */
  private assignAll(assignments: ReturnType<typeof planDispatch>["assignments"], nowMs: number): Assigned {
    const { state, lifecycle } = this.deps;
    const assigned: Assigned = { writes: [], events: [], sent: [] };
    for (const a of assignments) {
      state.countDecision(a.decision.strategy, a.decision.fallbackReason);
      const queuedSinceMs = a.task.updatedAtMs; // when it entered the queue (assign changes it)
      const live = {
        workerId: a.slot.worker.id,
        attempt: {
          id: a.attemptId,
          taskId: a.task.id,
          number: a.task.attemptCount + 1,
          workerId: a.slot.worker.id,
          gpuIndexes: a.gpuIndexes,
          assignedAtMs: nowMs,
          startedAtMs: null,
          finishedAtMs: null,
          result: null,
          decision: a.decision,
          ...(a.borrowed ? { borrowed: true } : {}),
        },
      };
      const t = lifecycle.assign(a.task, live);
      assigned.writes.push(...t.writes);
      assigned.events.push({ event: t.event, project: a.task.spec.project });
      assigned.sent.push({ task: a.task, live, queuedSinceMs });
    }
    return assigned;
  }

  /** Their commit failed (or the submission was not created): the room goes back; `requeue` puts the tasks back in the queue. */
  private undo(assigned: Assigned, requeue: boolean): void {
    const { state } = this.deps;
    for (const { task, live } of assigned.sent) {
      state.liveAttempts.delete(live.attempt.id);
      const slot = state.slots.get(live.workerId);
      if (slot) release(slot, live.attempt.id);
      task.state = "QUEUED";
      task.currentAttemptId = null;
      task.attemptCount = live.attempt.number - 1;
      if (requeue) state.queue.push(task);
    }
  }

  /** After their commit: the events to watchers and the assignments down the agent streams. */
  private deliver(assigned: Assigned, nowMs: number): void {
    const { lifecycle, tracing } = this.deps;
    lifecycle.publish(assigned.events);
    for (const { task, live, queuedSinceMs } of assigned.sent) {
      tracing.placed(task, live.attempt, queuedSinceMs, nowMs, assigned.sent.length);
      if (task.currentAttemptId !== live.attempt.id) continue; // canceled while committing
      if (!this.deps.commands.assign(live.workerId, task, live.attempt, tracing.runStarted(task, live.attempt))) {
        lifecycle.workerLost(live.workerId, [live.attempt.id], "worker session closed before the assignment was delivered").catch((err) =>
          this.deps.log.error("could not record an undelivered assignment as LOST", {
            task: live.attempt.taskId,
            attempt: live.attempt.id,
            error: String(err),
          }),
        );
      }
    }
  }
}

/** Assignments made in memory, not yet committed. */
interface Assigned {
  writes: StoreWrite[];
  events: Array<{ event: TaskEvent; project: string }>;
  sent: Array<{ task: Task; live: LiveAttempt; queuedSinceMs: number }>;
}

/** Placements made for a submission (Dispatcher.placeAtSubmit): committed with it, then delivered. */
export interface SubmitPlacement {
  writes: StoreWrite[];
  /** After the submission committed: events out, assignments sent. */
  committed(): void;
  /** The submission failed or was not created: the room goes back. */
  abandoned(): void;
}

function* settledOnly(tasks: Iterable<Task>, lifecycle: TaskLifecycle): Iterable<Task> {
  for (const task of tasks) if (!lifecycle.changing(task.id)) yield task;
}
