// Submission: validated specs become QUEUED tasks, committed (group commit) before the call is
// acknowledged, then enter the in-memory queue and wake the dispatcher.
import { createHash } from "node:crypto";
import { AlreadyExistsError, InvalidArgumentError, UnavailableError } from "../src/core/errors.js";
import { effectiveDeadline } from "../src/core/spec-rules.js";
import type { Task, TaskEvent, TaskSpec } from "../src/core/types.js";
import type { Store } from "../src/store/store-types.js";
import { newId, type Clock } from "./clock.js";
import type { EventHub } from "./event-hub.js";
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
}

/** A submission from no RPC (tests, embedding code): no caller trace context. */
const LOCAL_ORIGIN: SubmitOrigin = { method: "SubmitTasks", carrier: () => undefined };

export class Submitter {
  constructor(private readonly deps: SubmitterDeps) {}

  private newTask(spec: TaskSpec, nowMs: number, actor: string): { task: Task; event: TaskEvent } {
    const task: Task = {
      id: newId(this.deps.clock),
      spec,
      state: "QUEUED",
      progress: 0,
      progressMessage: "",
      createdAtMs: nowMs,
      updatedAtMs: nowMs,
      deadlineMs: effectiveDeadline(spec, nowMs, this.deps.slaMultiplier),
      currentAttemptId: null,
      attemptCount: 0,
      result: null,
      specHash: specHash(spec),
      deadlineMissed: false,
      retriesUsed: 0,
      requeues: 0,
      notBeforeMs: null,
    };
    const event: TaskEvent = {
      taskId: task.id,
      state: "QUEUED",
      progress: 0,
      progressMessage: "",
      timeMs: nowMs,
      attemptId: "",
      workerId: "",
      result: null,
      actor,
    };
    return { task, event };
  }

  /** Commits the specs as one all-or-nothing request. `actor`: who submitted (audit; "" when auth is off). */
  async submit(specs: TaskSpec[], origin: SubmitOrigin = LOCAL_ORIGIN, actor = ""): Promise<{ tasks: Task[]; existing: boolean }> {
    if (!this.deps.isAccepting()) throw new UnavailableError("master is shutting down");
    if (specs.length === 0) throw new InvalidArgumentError("specs", "must contain at least one task");
    if (specs.length > MAX_BATCH) throw new InvalidArgumentError("specs", `at most ${MAX_BATCH} tasks per call (got ${specs.length})`);
    const nowMs = this.deps.clock.now();
    const created = specs.map((spec) => this.newTask(spec, nowMs, actor));
    // Before the commit: the submit span's traceparent is stored with each task.
    const trace = this.deps.tracing.submitted(
      created.map((c) => c.task),
      origin,
      nowMs,
    );
    let outcome: Awaited<ReturnType<Store["submit"]>>;
    try {
      outcome = await this.deps.store.submit({ tasks: created.map((c) => c.task), events: created.map((c) => c.event) });
    } catch (err) {
      trace.end(err);
      throw err;
    }
    if (outcome.kind === "conflict") {
      const err = new AlreadyExistsError(outcome.idempotencyKey, outcome.existingTaskId);
      trace.end(err);
      throw err;
    }
    if (outcome.kind === "existing") {
      trace.end(undefined, outcome.task.id);
      return { tasks: [outcome.task], existing: true };
    }
    const { state, hub } = this.deps;
    for (const { task, event } of created) {
      state.activeTasks.set(task.id, task);
      state.queue.push(task);
      hub.publish(event, task.spec.project);
    }
    this.deps.onQueued();
    trace.end();
    return { tasks: created.map((c) => c.task), existing: false };
  }
}
