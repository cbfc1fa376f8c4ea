// The one owner of job arrays still creating elements (issue 17: an array of 100,000 indexes is
// acknowledged after writing its record and its first chunk, src/core/array-elements.ts). As the
// array's elements end (the lifecycle's hook, after each commit) the next chunk is created: its rows
// and the record's count in one write, then into memory, through the dependency gate (windows and
// dependencies apply as to any element) and to watchers, like a submission's.
//
// One write per array at a time; a failed one (the database away) is retried with backoff. Canceling
// an array stops creation first (stop), so no element appears after its cancel. A new leader resumes
// the open arrays from their records (load, then start once the gate has its arrays back).
import { type ArrayPacing, DEFAULT_ARRAY_PACING, elementsToCreate } from "../src/core/array-elements.js";
import { parseArrayRange } from "../src/core/arrays.js";
import type { Task, TaskSpec } from "../src/core/types.js";
import type { Store } from "../src/store/store-types.js";
import { newId, type Clock } from "./clock.js";
import type { DependencyGate } from "./dependency-gate.js";
import type { EventHub } from "./event-hub.js";
import type { Logger } from "./logger.js";
import type { MasterState } from "./state.js";

export interface ArrayElementsDeps {
  state: MasterState;
  store: Pick<Store, "write" | "getOpenArrays">;
  hub: EventHub;
  clock: Clock;
  gate: Pick<DependencyGate, "add">;
  log: Logger;
  /** New elements entered the gate: a pass should run. */
  onQueued(): void;
  pacing?: ArrayPacing;
}

/** An array that has indexes without an element yet. */
export interface OpenArray {
  /** The elements' shared fields (spec, times, trace, arrayId); id and index are each element's. */
  template: Task;
  /** Who submitted it (the elements' QUEUED events). */
  actor: string;
  /** Every index, ascending. */
  indexes: readonly number[];
  /** Elements created: those of the first `created` indexes. */
  created: number;
  /** Of those, ended. */
  ended: number;
}

interface Entry extends OpenArray {
  canceled: boolean;
  writing: Promise<void> | null;
  retryDelayMs: number;
}

const FIRST_RETRY_MS = 200;
const MAX_RETRY_MS = 5_000;

export class ArrayElementsCreator {
  readonly pacing: ArrayPacing;
  private readonly open = new Map<string, Entry>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly deps: ArrayElementsDeps) {
    this.pacing = deps.pacing ?? DEFAULT_ARRAY_PACING;
  }

  /** An array just committed with its first `created` elements: creates the rest as they end. */
  add(array: Omit<OpenArray, "ended"> & { ended?: number }): void {
    const arrayId = array.template.arrayId;
    if (arrayId === undefined || array.created >= array.indexes.length) return;
    const entry: Entry = { ...array, ended: array.ended ?? 0, canceled: false, writing: null, retryDelayMs: FIRST_RETRY_MS };
    this.open.set(arrayId, entry);
    this.pump(arrayId, entry);
  }

  /**
   * On taking office: the open arrays from their records (not created from yet: start() does, once
   * the gate knows them). Returns them for the gate's rebuild.
   */
  async load(): Promise<OpenArray[]> {
    const loaded: OpenArray[] = [];
    for (const row of await this.deps.store.getOpenArrays()) {
      // The range was accepted at submission: no size bound applies now.
      const indexes = parseArrayRange(row.template.spec.array ?? "", Number.MAX_SAFE_INTEGER).indexes;
      const array: OpenArray = { template: row.template, actor: row.actor, indexes, created: row.created, ended: row.ended };
      this.open.set(row.arrayId, { ...array, canceled: false, writing: null, retryDelayMs: FIRST_RETRY_MS });
      loaded.push(array);
    }
    return loaded;
  }

  /** Creates what the loaded arrays lack (after the gate's rebuild). */
  start(): void {
    for (const [arrayId, entry] of this.open) this.pump(arrayId, entry);
  }

  /** An element ended (after its commit): its array may create the next chunk. */
  ended(task: Task): void {
    if (task.arrayId === undefined) return;
    const entry = this.open.get(task.arrayId);
    if (entry === undefined) return;
    entry.ended++;
    this.pump(task.arrayId, entry);
  }

  /** Indexes of `arrayId` without an element yet (0 when it has them all or is not known here). */
  notCreated(arrayId: string): number {
    const entry = this.open.get(arrayId);
    return entry === undefined || entry.canceled ? 0 : entry.indexes.length - entry.created;
  }

  /**
   * The array is being canceled: creates nothing more, waits for a creation in flight (its elements
   * are then in memory, to be canceled with the rest) and commits the cancel on the array's record.
   * Returns the indexes that will never have an element (0 when all exist already). When the write
   * fails, creation resumes and the error is thrown (the caller's cancel failed).
   */
  async cancel(arrayId: string, reason: string): Promise<number> {
    const entry = this.open.get(arrayId);
    if (entry === undefined || entry.canceled) return 0;
    entry.canceled = true;
    await entry.writing?.catch(() => undefined); // its failure was logged; nothing was created
    try {
      await this.deps.store.write([{ kind: "cancel_array", arrayId, canceledAtMs: this.deps.clock.now(), reason }]);
    } catch (err) {
      entry.canceled = false;
      this.pump(arrayId, entry);
      throw err;
    }
    this.open.delete(arrayId);
    return entry.indexes.length - entry.created;
  }

  /**
   * The array is being held or released: the elements it creates from now on are so too (their rows
   * copy this template), and a creation in flight (made with the old template) is waited for, so
   * its elements are in memory when this resolves. Returns the undo (the write failed). Nothing to
   * do for an array that has created all its elements.
   */
  async setHold(arrayId: string, hold: boolean): Promise<() => void> {
    const entry = this.open.get(arrayId);
    if (entry === undefined) return () => undefined;
    const before = entry.template;
    entry.template = { ...before, spec: withHold(before.spec, hold) };
    await entry.writing?.catch(() => undefined); // its failure was logged; nothing was created
    return () => {
      entry.template = before;
    };
  }

  /** Leaving office: nothing more is created or retried. */
  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  /** Arrays still creating (tests, metrics). */
  get openCount(): number {
    return this.open.size;
  }

  private pump(arrayId: string, entry: Entry): void {
    if (this.closed || entry.writing !== null) return;
    const count = elementsToCreate({ total: entry.indexes.length, created: entry.created, ended: entry.ended, canceled: entry.canceled }, this.pacing);
    if (count === 0) {
      if (entry.created >= entry.indexes.length) this.open.delete(arrayId);
      return;
    }
    const tasks = entry.indexes.slice(entry.created, entry.created + count).map((index) => this.element(entry.template, index));
    entry.writing = this.create(arrayId, entry, tasks);
  }

  /** The array's creation time, as at submission (and as the row has it): its elements keep their place in the queue. */
  private element(template: Task, index: number): Task {
    return { ...template, id: newId(this.deps.clock), arrayIndex: index };
  }

  private async create(arrayId: string, entry: Entry, tasks: Task[]): Promise<void> {
    const { state, hub, gate, log } = this.deps;
    try {
      await this.deps.store.write([
        {
          kind: "create_array_elements",
          template: entry.template,
          actor: entry.actor,
          fromCreated: entry.created,
          elements: tasks.map((t) => ({ id: t.id, index: t.arrayIndex ?? 0 })),
        },
      ]);
    } catch (err) {
      entry.writing = null;
      if (this.closed) return;
      log.warn("could not create job array elements; retrying", { array: arrayId, elements: tasks.length, error: String(err) });
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.pump(arrayId, entry);
      }, entry.retryDelayMs);
      timer.unref();
      this.timers.add(timer);
      entry.retryDelayMs = Math.min(entry.retryDelayMs * 2, MAX_RETRY_MS);
      return;
    }
    entry.writing = null;
    entry.retryDelayMs = FIRST_RETRY_MS;
    entry.created += tasks.length;
    if (this.closed) return; // committed under a term that ended: the next leader loads them
    for (const task of tasks) state.activeTasks.set(task.id, task);
    gate.add(tasks).catch((err) => log.error("could not settle new array elements' dependencies", { array: arrayId, error: String(err) }));
    for (const task of tasks) {
      hub.publish(
        {
          taskId: task.id,
          state: "QUEUED",
          progress: 0,
          progressMessage: "",
          timeMs: task.createdAtMs,
          attemptId: "",
          workerId: "",
          result: null,
          actor: entry.actor,
        },
        task.spec.project,
      );
    }
    this.deps.onQueued();
    this.pump(arrayId, entry);
  }
}

/** `spec` held or not (a new object: elements share their spec objects). */
export function withHold(spec: TaskSpec, hold: boolean): TaskSpec {
  const { hold: _, ...rest } = spec;
  return hold ? { ...rest, hold: true } : rest;
}
