// The dependency gate: the one owner of QUEUED tasks that are kept out of the dispatch queue, either
// because their dependencies are not met (after / after-any / after-fail, src/core/dependencies.ts)
// or because their job array already has its "%N" elements running (its window is full).
//
// Fed by submissions (add), the lifecycle's terminal events (ended: after each commit) and, on
// taking office, the rebuilt state (rebuild). A task whose dependencies are met enters its array's
// window or the dispatch queue; one whose dependency can never be met is canceled through the
// lifecycle (which commits it and reports it back here as ended, so the cancel cascades) unless its
// spec keeps it (keep_invalid_dependency), then it stays held with the reason.
//
// An array's elements not created yet (array-elements.ts) count as neither ended nor held: the
// record's total includes them, so the array ends only when they have run too (or its cancel
// counts them, arrayCanceled).
//
// What a target's state is: a live task's from the master's memory; an array with elements still
// active from its record here (counts by outcome); anything else has ended for good and is read
// once from the database (every terminal state is committed before it leaves memory, so that read
// is final).
import { maxRunningOf } from "../src/core/arrays.js";
import { type Dependency, dependenciesOf, evaluateDependencies, hasDependencies, type TargetStatus } from "../src/core/dependencies.js";
import type { Task } from "../src/core/types.js";
import type { Store } from "../src/store/store-types.js";
import type { Logger } from "./logger.js";
import type { MasterState } from "./state.js";

export interface DependencyGateDeps {
  state: MasterState;
  store: Pick<Store, "getDependencyTargets">;
  /** Ends a task whose dependency can never be met (the lifecycle's cancel, by the master). */
  cancel(taskId: string, reason: string): Promise<unknown>;
  /** Tasks entered the dispatch queue: a pass should run. */
  onQueued(): void;
  log: Logger;
}

/** A job array with elements still active: its outcome counts, and its running window when capped. */
interface ArrayRecord {
  project: string;
  total: number;
  succeeded: number;
  failed: number;
  /** "%N"; null: no cap (no window). */
  cap: number | null;
  /** Elements let into the dispatch queue (queued or running) that have not ended. */
  admitted: number;
  /** Elements ready to run but outside the window, in index order. */
  backlog: Map<string, Task>;
  /** Its elements are being canceled: let none in any more. */
  frozen: boolean;
}

interface Waiting {
  task: Task;
  deps: Dependency[];
  reason: string;
  /** A cancel for it is in flight (its dependency can never be met). */
  canceling: boolean;
}

/** What is known of an array (for submit-time checks): its project, from memory. */
export interface LiveArray {
  project: string;
  total: number;
}

export class DependencyGate {
  /** Held tasks (spec.hold: submitted held, or HoldTask): out of everything until released. */
  private readonly held = new Map<string, Task>();
  private readonly waiting = new Map<string, Waiting>();
  /** Target id -> held tasks waiting on it. */
  private readonly dependents = new Map<string, Set<string>>();
  private readonly arrays = new Map<string, ArrayRecord>();
  /** Final states of ended targets that held tasks still wait on (read from the database or seen end). */
  private readonly endedTargets = new Map<string, TargetStatus>();
  private readonly statusOf = (target: string): TargetStatus | undefined => {
    const task = this.deps.state.activeTasks.get(target);
    if (task !== undefined) return { kind: "task", state: task.state };
    const array = this.arrays.get(target);
    if (array !== undefined) return { kind: "array", total: array.total, succeeded: array.succeeded, failed: array.failed };
    return this.endedTargets.get(target);
  };

  constructor(private readonly deps: DependencyGateDeps) {}

  /** An array with active elements (its project and size), or undefined. */
  liveArray(arrayId: string): LiveArray | undefined {
    const record = this.arrays.get(arrayId);
    return record && { project: record.project, total: record.total };
  }

  /** Registers a job array just committed (before its elements are added). */
  addArray(arrayId: string, project: string, total: number, cap: number | null): void {
    this.arrays.set(arrayId, { project, total, succeeded: 0, failed: 0, cap, admitted: 0, backlog: new Map(), frozen: false });
  }

  /** Stops letting the array's elements into the queue (they are about to be canceled). */
  freezeArray(arrayId: string): void {
    const record = this.arrays.get(arrayId);
    if (record) record.frozen = true;
  }

  /** Why a QUEUED task is held here, or null when it is not. */
  holdReason(task: Task): string | null {
    if (this.held.has(task.id)) return `held: it starts once released (taskgrid release ${task.arrayId ?? task.id})`;
    const waiting = this.waiting.get(task.id);
    if (waiting !== undefined) {
      // Said afresh (its targets' states move on between the events that re-evaluate it).
      const readiness = evaluateDependencies(waiting.deps, this.statusOf);
      return readiness.kind === "ready" ? waiting.reason : readiness.reason;
    }
    const record = task.arrayId === undefined ? undefined : this.arrays.get(task.arrayId);
    if (record?.backlog.has(task.id))
      return `waiting: array ${task.arrayId} runs at most ${record.cap} elements at once (%${record.cap}; ${record.admitted} started)`;
    return null;
  }

  /** How many tasks are held (waiting on dependencies or outside their array's window). */
  get heldCount(): number {
    let backlog = 0;
    for (const record of this.arrays.values()) backlog += record.backlog.size;
    return this.held.size + this.waiting.size + backlog;
  }

  /**
   * Newly committed QUEUED tasks (already in activeTasks): each is held on its dependencies, or let
   * into its array's window or the dispatch queue. Targets known only to the database are read
   * first (the tasks stay held meanwhile).
   */
  add(tasks: readonly Task[]): Promise<void> {
    const held: Waiting[] = [];
    let queued = false;
    for (const task of tasks) {
      if (task.spec.hold === true) {
        this.held.set(task.id, task);
        continue;
      }
      const deps = dependenciesOf(task.spec);
      if (deps.length === 0) queued = this.admit(task) || queued;
      else held.push(this.hold(task, deps));
    }
    if (queued) this.deps.onQueued();
    return this.settle(held);
  }

  /**
   * On taking office, after rebuildState queued every QUEUED task: takes back the ones that must be
   * held and rebuilds the arrays' records (counts from the database, windows from what runs).
   */
  async rebuild(openArrays: ReadonlyArray<{ template: Task }> = []): Promise<void> {
    const { state } = this.deps;
    const arrayIds = new Set<string>();
    for (const task of state.activeTasks.values()) if (task.arrayId !== undefined) arrayIds.add(task.arrayId);
    // Arrays with elements still to create, even those with none active now.
    for (const { template } of openArrays) if (template.arrayId !== undefined) arrayIds.add(template.arrayId);
    const capOf = new Map(openArrays.map(({ template }) => [template.arrayId, maxRunningOf(template.spec.array)]));
    if (arrayIds.size > 0) {
      for (const row of await this.deps.store.getDependencyTargets([...arrayIds])) {
        if (row.status.kind !== "array") continue;
        const { total, succeeded, failed } = row.status;
        this.arrays.set(row.id, {
          project: row.project,
          total,
          succeeded,
          failed,
          cap: capOf.get(row.id) ?? null,
          admitted: 0,
          backlog: new Map(),
          frozen: false,
        });
      }
    }
    const held: Task[] = [];
    const windowed = new Map<string, Task[]>();
    for (const task of state.activeTasks.values()) {
      const record = task.arrayId === undefined ? undefined : this.arrays.get(task.arrayId);
      if (record !== undefined) record.cap ??= maxRunningOf(task.spec.array);
      if (task.state !== "QUEUED") {
        if (record !== undefined) record.admitted++; // started before: inside its window
        continue;
      }
      if (hasDependencies(task.spec) || task.spec.hold === true) held.push(task);
      else if (record !== undefined && record.cap !== null && task.arrayId !== undefined) {
        const elements = windowed.get(task.arrayId) ?? [];
        windowed.set(task.arrayId, elements);
        elements.push(task);
      } else continue; // stays in the queue where rebuildState put it
      state.queue.remove(task.id);
    }
    // A window fills in index order, as it would have.
    for (const elements of windowed.values()) for (const task of elements.sort((a, b) => (a.arrayIndex ?? 0) - (b.arrayIndex ?? 0))) held.push(task);
    await this.add(held);
  }

  /**
   * After the commit of an array's cancel: its `notCreated` indexes, which will never have an
   * element, count as failed (canceled), so the array can end and its dependents move on.
   */
  arrayCanceled(arrayId: string, notCreated: number): void {
    const record = this.arrays.get(arrayId);
    if (record === undefined || notCreated <= 0) return;
    record.failed += notCreated;
    this.closeIfEnded(arrayId, record);
    if (this.reevaluate(arrayId)) this.deps.onQueued();
  }

  /** Every element of the array has ended: it is no longer live; its dependents keep its final counts. */
  private closeIfEnded(arrayId: string, record: ArrayRecord): void {
    if (record.succeeded + record.failed < record.total) return;
    this.arrays.delete(arrayId);
    if (this.dependents.has(arrayId))
      this.endedTargets.set(arrayId, { kind: "array", total: record.total, succeeded: record.succeeded, failed: record.failed });
  }

  /**
   * Takes a QUEUED task out of the queue, its dependencies' wait or its array's backlog, and holds it
   * (HoldTask, before its write). False when it is not waiting here or in the queue (started, ended).
   */
  putOnHold(task: Task): boolean {
    if (task.state !== "QUEUED" || this.held.has(task.id)) return false;
    const record = task.arrayId === undefined ? undefined : this.arrays.get(task.arrayId);
    if (this.unhold(task.id) === undefined && !record?.backlog.delete(task.id)) {
      if (!this.deps.state.queue.remove(task.id)) return false;
      // It was in the queue, inside its array's window: that place is free again.
      if (record !== undefined && record.cap !== null) {
        record.admitted = Math.max(0, record.admitted - 1);
        if (this.refill(record)) this.deps.onQueued();
      }
    }
    this.held.set(task.id, task);
    return true;
  }

  /** Lets held tasks go on (ReleaseTask, after its write; or a HoldTask whose write failed): as if just submitted. */
  releaseHeld(tasks: readonly Task[]): Promise<void> {
    const released = tasks.filter((task) => this.held.delete(task.id) && task.state === "QUEUED");
    return this.add(released);
  }

  /** Whether the gate holds this task on a hold. */
  isHeld(taskId: string): boolean {
    return this.held.has(taskId);
  }

  /** After the commit of a task's end (the lifecycle's hook): frees its window place, moves its dependents. */
  ended(task: Task): void {
    this.held.delete(task.id);
    const held = this.unhold(task.id);
    let queued = false;
    const record = task.arrayId === undefined ? undefined : this.arrays.get(task.arrayId);
    if (record !== undefined && task.arrayId !== undefined) {
      if (!record.backlog.delete(task.id) && held === undefined && record.cap !== null) {
        record.admitted = Math.max(0, record.admitted - 1);
        queued = this.refill(record);
      }
      if (task.state === "SUCCEEDED") record.succeeded++;
      else record.failed++;
      this.closeIfEnded(task.arrayId, record);
      queued = this.reevaluate(task.arrayId) || queued;
    }
    if (this.dependents.has(task.id)) {
      this.endedTargets.set(task.id, { kind: "task", state: task.state });
      queued = this.reevaluate(task.id) || queued;
    }
    if (queued) this.deps.onQueued();
  }

  private hold(task: Task, deps: Dependency[]): Waiting {
    const entry: Waiting = { task, deps, reason: "waiting: dependencies are being looked up", canceling: false };
    this.waiting.set(task.id, entry);
    for (const dep of deps) {
      let set = this.dependents.get(dep.target);
      if (set === undefined) this.dependents.set(dep.target, (set = new Set()));
      set.add(task.id);
    }
    return entry;
  }

  private unhold(taskId: string): Waiting | undefined {
    const entry = this.waiting.get(taskId);
    if (entry === undefined) return undefined;
    this.waiting.delete(taskId);
    for (const dep of entry.deps) {
      const set = this.dependents.get(dep.target);
      set?.delete(taskId);
      if (set?.size === 0) {
        this.dependents.delete(dep.target);
        this.endedTargets.delete(dep.target);
      }
    }
    return entry;
  }

  /** Reads the targets nobody knows yet, then evaluates the held tasks. */
  private async settle(held: Waiting[]): Promise<void> {
    if (held.length === 0) return;
    const unknown = new Set<string>();
    for (const entry of held) for (const dep of entry.deps) if (this.statusOf(dep.target) === undefined) unknown.add(dep.target);
    if (unknown.size > 0) {
      for (const row of await this.readTargets([...unknown])) if (this.dependents.has(row.id)) this.endedTargets.set(row.id, row.status);
    }
    let queued = false;
    for (const entry of held) if (this.waiting.get(entry.task.id) === entry) queued = this.evaluate(entry) || queued;
    if (queued) this.deps.onQueued();
  }

  /** The store read, retried while the database is unreachable (the tasks stay held meanwhile). */
  private async readTargets(ids: string[]) {
    for (let delayMs = 100; ; delayMs = Math.min(delayMs * 2, 5000)) {
      try {
        return await this.deps.store.getDependencyTargets(ids);
      } catch (err) {
        this.deps.log.warn("could not read dependency targets; retrying", { error: String(err), targets: ids.length });
        await new Promise((resolve) => setTimeout(resolve, delayMs).unref());
      }
    }
  }

  private reevaluate(target: string): boolean {
    const set = this.dependents.get(target);
    if (set === undefined) return false;
    let queued = false;
    for (const taskId of [...set]) {
      const entry = this.waiting.get(taskId);
      if (entry !== undefined) queued = this.evaluate(entry) || queued;
    }
    return queued;
  }

  /** Moves one held task on if it can; whether it entered the dispatch queue. */
  private evaluate(entry: Waiting): boolean {
    const readiness = evaluateDependencies(entry.deps, this.statusOf);
    if (readiness.kind === "waiting") {
      entry.reason = readiness.reason;
      return false;
    }
    if (readiness.kind === "impossible") {
      entry.reason = readiness.reason;
      if (entry.task.spec.keepInvalidDependency === true || entry.canceling) return false;
      entry.canceling = true;
      const taskId = entry.task.id;
      this.deps.cancel(taskId, readiness.reason).catch((err) => {
        entry.canceling = false; // e.g. the database is down: the next event about its targets retries
        this.deps.log.warn("could not cancel a task whose dependency can never be met", { task: taskId, error: String(err) });
      });
      return false;
    }
    this.unhold(entry.task.id);
    return this.admit(entry.task);
  }

  /** Into its array's window (or backlog), or the dispatch queue; whether it entered the queue. */
  private admit(task: Task): boolean {
    const record = task.arrayId === undefined ? undefined : this.arrays.get(task.arrayId);
    if (record !== undefined && record.cap !== null) {
      if (record.frozen || record.admitted >= record.cap) {
        record.backlog.set(task.id, task);
        return false;
      }
      record.admitted++;
    }
    this.deps.state.queue.push(task);
    return true;
  }

  private refill(record: ArrayRecord): boolean {
    let queued = false;
    for (const [id, task] of record.backlog) {
      if (record.frozen || record.cap === null || record.admitted >= record.cap) break;
      record.backlog.delete(id);
      if (this.deps.state.activeTasks.get(id) !== task || task.state !== "QUEUED") continue;
      record.admitted++;
      this.deps.state.queue.push(task);
      queued = true;
    }
    return queued;
  }
}
