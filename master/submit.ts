// Submission: validated specs become QUEUED tasks, committed (group commit) before the call is
// acknowledged, then enter the in-memory queue (through the dependency gate, which holds the ones
// whose dependencies are not met) and wake the dispatcher. An array spec becomes a record and its
// first chunk of elements (one task per index, sharing one spec object, written by one statement:
// store/arrays-sql.ts); the ArrayElementsCreator (array-elements.ts) creates the rest as they end.
import { createHash } from "node:crypto";
import { elementsAtSubmit } from "../src/core/array-elements.js";
import { DEFAULT_MAX_ARRAY_SIZE, parseArrayRange } from "../src/core/arrays.js";
import { checkBatchDag, checkDependencyRefs, hasDependencies } from "../src/core/dependencies.js";
import { AlreadyExistsError, InvalidArgumentError, UnavailableError } from "../src/core/errors.js";
import { checkDeadlineAhead, effectiveDeadline } from "../src/core/spec-rules.js";
import type { Task, TaskEvent, TaskSpec } from "../src/core/types.js";
import type { ArrayElementsInsert, Store } from "../src/store/store-types.js";
import { newId, type Clock } from "./clock.js";
import type { ArrayElementsCreator } from "./array-elements.js";
import type { DependencyGate } from "./dependency-gate.js";
import type { SubmitPlacement } from "./dispatcher.js";
import type { EventHub } from "./event-hub.js";
import type { Logger } from "./logger.js";
import { resolveDependencies } from "./resolve-dependencies.js";
import type { MasterState } from "./state.js";
import type { SubmitOrigin, TaskTracing } from "./task-tracing.js";

export const MAX_BATCH = 10_000;

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

export function specHash(spec: TaskSpec): string {
  return createHash("sha256").update(canonicalJson(spec)).digest("hex").slice(0, 32);
}

export interface SubmitterDeps {
  state: MasterState;
  store: Store;
  hub: EventHub;
  clock: Clock;
  slaMultiplier: number;
  isAccepting: () => boolean;
  onQueued: () => void;
  tracing: TaskTracing;
  /** Most indexes of one job array; default DEFAULT_MAX_ARRAY_SIZE. */
  maxArraySize?: number;
  /** Holds tasks whose dependencies are not met, and the arrays' windows; absent: every task is queued at once. */
  gate?: DependencyGate;
  /** Places tasks at submission when nothing waits (Dispatcher.placeAtSubmit); absent: every task goes through the queue. */
  placer?: { placeAtSubmit(tasks: readonly Task[]): SubmitPlacement | null };
  /** Creates arrays' later elements (absent: every element is created at submission). */
  arrays?: Pick<ArrayElementsCreator, "add" | "pacing">;
  log?: Logger;
}

/** A submission from no RPC (tests, embedding code): no caller trace context. */
const LOCAL_ORIGIN: SubmitOrigin = { method: "SubmitTasks", carrier: () => undefined };

/** One spec of a request, planned: its task, or its array's first elements (the first carries the key). */
interface Planned {
  /** The id others refer to it by: the task's, or the array's. */
  refId: string;
  spec: TaskSpec;
  /** `template`: the shared fields of elements created later (a copy: the first element's object lives on in memory). */
  array: { id: string; indexes: number[]; cap: number | null; template: Task } | null;
  tasks: Task[];
}

export interface SubmitResult {
  /** Per spec, in request order: its task, or its array's first element. */
  tasks: Task[];
  /** Per spec: the task id, or for an array spec the array id. */
  ids: string[];
  existing: boolean;
}

export class Submitter {
  constructor(private readonly deps: SubmitterDeps) {}

  private newTask(id: string, spec: TaskSpec, nowMs: number, deadlineMs: number | null, hash: string, element?: { arrayId: string; index: number }): Task {
    return {
      id,
      spec,
      state: "QUEUED",
      progress: 0,
      progressMessage: "",
      createdAtMs: nowMs,
      updatedAtMs: nowMs,
      deadlineMs,
      currentAttemptId: null,
      attemptCount: 0,
      result: null,
      specHash: hash,
      deadlineMissed: false,
      retriesUsed: 0,
      requeues: 0,
      notBeforeMs: null,
      ...(element ? { arrayId: element.arrayId, arrayIndex: element.index } : {}),
    };
  }

  private queuedEvent(task: Task, actor: string): TaskEvent {
    return { taskId: task.id, state: "QUEUED", progress: 0, progressMessage: "", timeMs: task.createdAtMs, attemptId: "", workerId: "", result: null, actor };
  }

  /**
   * Commits the specs as one all-or-nothing request. `actor`: who submitted (audit; "" when auth is
   * off). Specs may refer to each other ("#N" in after/after_any/after_fail): checked acyclic.
   */
  async submit(specs: TaskSpec[], origin: SubmitOrigin = LOCAL_ORIGIN, actor = ""): Promise<SubmitResult> {
    if (!this.deps.isAccepting()) throw new UnavailableError("master is shutting down");
    if (specs.length === 0) throw new InvalidArgumentError("specs", "must contain at least one task");
    if (specs.length > MAX_BATCH) throw new InvalidArgumentError("specs", `at most ${MAX_BATCH} tasks per call (got ${specs.length})`);
    const field = (i: number) => (origin.method === "SubmitTask" ? "spec" : `specs[${i}]`);
    specs.forEach((spec, i) => checkDependencyRefs(spec, field(i)));
    checkBatchDag(specs, field);
    const checkedAtMs = this.deps.clock.now();
    specs.forEach((spec, i) => checkDeadlineAhead(spec, checkedAtMs, field(i)));
    const maxArraySize = this.deps.maxArraySize ?? DEFAULT_MAX_ARRAY_SIZE;
    const ranges = specs.map((spec, i) => (spec.array === undefined ? null : parseArrayRange(spec.array, maxArraySize, `${field(i)}.array`)));
    const total = ranges.reduce((sum, r) => sum + (r === null ? 1 : r.indexes.length), 0);
    const maxTotal = Math.max(MAX_BATCH, maxArraySize);
    if (total > maxTotal) throw new InvalidArgumentError("specs", `at most ${maxTotal} tasks per call, arrays' elements included (got ${total})`);
    // Ids first: "#N" references resolve to them.
    const refIds = specs.map(() => newId(this.deps.clock));
    const resolved = await resolveDependencies(specs, refIds, field, this.deps);
    const nowMs = this.deps.clock.now();
    // Hashed as submitted: a retry's "#N" references resolve to other ids, yet it is the same request.
    // Only a spec with an idempotency key is ever compared (apply-batch.ts): the others skip the hash
    // (canonical JSON + sha256 were ~3% of the master's CPU in the e2e bench).
    const planned = resolved.map((spec, i) => this.plan(spec, specs[i].idempotencyKey ? specHash(specs[i]) : "", refIds[i], ranges[i], nowMs));
    const heads = planned.map((p) => p.tasks[0]);
    // Before the commit: the submit span's traceparent is stored with each task (an array's elements share its first's).
    const trace = this.deps.tracing.submitted(heads, origin, nowMs);
    for (const p of planned) {
      const traceParent = p.tasks[0].traceParent;
      if (traceParent !== undefined) for (const task of p.tasks) task.traceParent = traceParent;
    }
    const arrays: ArrayElementsInsert[] = [];
    for (const p of planned) {
      if (p.array === null) continue;
      p.array.template.traceParent = p.tasks[0].traceParent;
      const elements = p.tasks.slice(1).map((t) => ({ id: t.id, index: t.arrayIndex ?? 0 }));
      arrays.push({ template: p.tasks[0], total: p.array.indexes.length, elements, actor });
    }
    // Plain tasks (no array, no dependency, not held: nothing for the gate to hold) may be placed at
    // once and their assignments committed with them, one commit before their start instead of two.
    const plain = heads.filter((t) => t.arrayId === undefined && !hasDependencies(t.spec) && t.spec.hold !== true);
    const placement = this.deps.placer?.placeAtSubmit(plain) ?? null;
    let outcome: Awaited<ReturnType<Store["submit"]>>;
    try {
      outcome = await this.deps.store.submit({ tasks: heads, actor, arrays, writes: placement?.writes });
    } catch (err) {
      placement?.abandoned();
      trace.end(err);
      throw err;
    }
    if (outcome.kind !== "created") placement?.abandoned();
    if (outcome.kind === "conflict") {
      const err = new AlreadyExistsError(outcome.idempotencyKey, outcome.existingTaskId);
      trace.end(err);
      throw err;
    }
    if (outcome.kind === "existing") {
      trace.end(undefined, outcome.tasks[0].id);
      return { tasks: outcome.tasks, ids: outcome.tasks.map((t) => t.arrayId ?? t.id), existing: true };
    }
    this.apply(planned, actor);
    placement?.committed();
    trace.end();
    return { tasks: heads, ids: planned.map((p) => p.refId), existing: false };
  }

  /** The tasks of one spec: one, or one per index of its array (sharing the spec object). */
  private plan(spec: TaskSpec, hash: string, refId: string, range: ReturnType<typeof parseArrayRange> | null, nowMs: number): Planned {
    const deadlineMs = effectiveDeadline(spec, nowMs, this.deps.slaMultiplier);
    if (range === null) {
      const task = this.newTask(refId, spec, nowMs, deadlineMs, hash);
      return { refId, spec, array: null, tasks: [task] };
    }
    // The first chunk now; the rest as elements end (ArrayElementsCreator).
    const first = range.indexes.slice(0, elementsAtSubmit(range.indexes.length, this.deps.arrays?.pacing));
    const tasks = first.map((index) => this.newTask(newId(this.deps.clock), spec, nowMs, deadlineMs, hash, { arrayId: refId, index }));
    const template = { ...tasks[0], id: "" };
    return { refId, spec, array: { id: refId, indexes: range.indexes, cap: range.maxRunning, template }, tasks };
  }

  /** After the commit: into memory, through the gate (or straight into the queue), and to watchers. */
  private apply(planned: Planned[], actor: string): void {
    const { state, hub, gate } = this.deps;
    const all: Task[] = [];
    const waiting: Task[] = [];
    for (const p of planned) {
      if (p.array !== null) gate?.addArray(p.array.id, p.spec.project, p.array.indexes.length, p.array.cap);
      for (const task of p.tasks) {
        state.activeTasks.set(task.id, task);
        all.push(task);
        if (task.state === "QUEUED") waiting.push(task); // not placed at submission
      }
    }
    if (gate) {
      gate.add(waiting).catch((err) => this.deps.log?.error("could not settle submitted tasks' dependencies", { error: String(err) }));
    } else {
      for (const task of waiting) state.queue.push(task);
    }
    for (const task of all) hub.publish(this.queuedEvent(task, actor), task.spec.project);
    // After the gate knows the first elements: the creator's next ones follow them in.
    for (const p of planned)
      if (p.array !== null) this.deps.arrays?.add({ template: p.array.template, actor, indexes: p.array.indexes, created: p.tasks.length });
    this.deps.onQueued();
  }
}
