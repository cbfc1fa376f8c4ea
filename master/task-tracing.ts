// One trace per task (DESIGN §7; span and attribute names in src/telemetry/trace-names.ts).
//
// A task outlives any one request and survives master restarts, so its trace context is data: the
// submit span's W3C `traceparent` is stored with the task (Task.traceParent, a column of its row),
// and every later span of the task is a child of it, recorded with explicit start and end times from
// the master's clock. Only the run span of each attempt is open for a while (assignment -> result);
// it is held here by attempt id, and its context goes down to the agent in the Assign message.
//
// With tracing off every method returns at its first line: no span objects, no traceparent
// stored, no metadata parsed. A task submitted while tracing was off gets no spans later either
// (it has no trace to join).
import { SpanKind, SpanStatusCode, type Attributes, type Span } from "@opentelemetry/api";
import type { Attempt, Task, TaskResult } from "../src/core/types.js";
import { ATTR, EVENT_PROCESS_STARTED, SPAN } from "../src/telemetry/trace-names.js";
import type { TraceCarrier, Tracing } from "../src/telemetry/tracing.js";
import type { Clock } from "./clock.js";

/** Where a submission came from: the RPC and (read only when tracing is on) the caller's context. */
export interface SubmitOrigin {
  method: "SubmitTask" | "SubmitTasks";
  carrier(): TraceCarrier | undefined;
}

/** Ends the submit spans of one call. */
export interface SubmitTrace {
  /** `error` when the call failed; `existingTaskId` when an idempotency key matched another task. */
  end(error?: unknown, existingTaskId?: string): void;
}

const NO_SUBMIT_TRACE: SubmitTrace = Object.freeze({ end() {} });

/** Outcomes that are failures of the attempt (CANCELED is a request honoured, not an error). */
const ERROR_OUTCOMES = new Set(["FAILED", "TIMEOUT", "LOST", "START_FAILED"]);

export class TaskTracing {
  /** Open run spans by attempt id. */
  private readonly runs = new Map<string, Span>();

  constructor(
    readonly tracing: Tracing,
    private readonly clock: Clock,
  ) {}

  get enabled(): boolean {
    return this.tracing.enabled;
  }

  /**
   * Starts one submit span per task (so each task is its own trace unless the caller's context
   * joins them) and stores each span's traceparent on its task, before the tasks are committed.
   */
  submitted(tasks: readonly Task[], origin: SubmitOrigin, nowMs: number): SubmitTrace {
    if (!this.tracing.enabled) return NO_SUBMIT_TRACE;
    const { tracer } = this.tracing;
    const parent = this.tracing.extract(origin.carrier());
    const spans = tasks.map((task) => {
      const span = tracer.startSpan(
        SPAN.submit,
        {
          kind: SpanKind.SERVER,
          startTime: nowMs,
          attributes: {
            [ATTR.rpcSystem]: "grpc",
            [ATTR.rpcService]: "taskgrid.v1.TaskService",
            [ATTR.rpcMethod]: origin.method,
            [ATTR.submitBatchSize]: tasks.length,
            ...taskAttributes(task),
          },
        },
        parent,
      );
      const traceParent = this.tracing.carrierOf(span).traceparent;
      if (traceParent) task.traceParent = traceParent;
      return span;
    });
    return {
      end: (error, existingTaskId) => {
        const endMs = this.clock.now();
        for (const span of spans) {
          if (existingTaskId) span.setAttribute(ATTR.submitExistingTaskId, existingTaskId);
          if (error) span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
          span.end(endMs);
        }
      },
    };
  }

  /**
   * Records a committed placement: the queue wait (queue entry -> the pass that placed it) and the
   * placement (that pass, up to the commit of its assignments).
   */
  placed(task: Task, attempt: Attempt, queuedSinceMs: number, decidedAtMs: number, dispatchBatchSize: number): void {
    if (!this.tracing.enabled || !task.traceParent) return;
    const { tracer } = this.tracing;
    const parent = this.tracing.extract({ traceparent: task.traceParent });
    const ids = { [ATTR.taskId]: task.id, [ATTR.attemptId]: attempt.id, [ATTR.attemptNumber]: attempt.number };
    tracer.startSpan(SPAN.queueWait, { startTime: Math.min(queuedSinceMs, decidedAtMs), attributes: ids }, parent).end(decidedAtMs);
    const placement = tracer.startSpan(
      SPAN.placement,
      { startTime: decidedAtMs, attributes: { ...ids, ...placementAttributes(attempt), [ATTR.dispatchBatchSize]: dispatchBatchSize } },
      parent,
    );
    placement.end(Math.max(decidedAtMs, this.clock.now()));
  }

  /** Opens the run span of an assignment about to be sent; returns its traceparent for the agent ("" = none). */
  runStarted(task: Task, attempt: Attempt): string {
    if (!this.tracing.enabled || !task.traceParent) return "";
    const span = this.startRun(task, attempt, this.clock.now());
    this.runs.set(attempt.id, span);
    return this.tracing.carrierOf(span).traceparent ?? "";
  }

  /** The agent reported the attempt's process started. */
  processStarted(attemptId: string, startedAtMs: number): void {
    if (!this.tracing.enabled) return;
    this.runs.get(attemptId)?.addEvent(EVENT_PROCESS_STARTED, startedAtMs);
  }

  /**
   * Ends the attempt's run span with its result. Without an open span (the master restarted while
   * the attempt ran) one is rebuilt from the attempt, if the task still names its trace.
   */
  runEnded(attempt: Attempt, task: Task | undefined, result: TaskResult): void {
    if (!this.tracing.enabled) return;
    let span = this.runs.get(attempt.id);
    this.runs.delete(attempt.id);
    if (!span) {
      if (!task?.traceParent) return;
      span = this.startRun(task, attempt, attempt.assignedAtMs);
      span.setAttribute(ATTR.recovered, true);
    }
    span.setAttributes({ [ATTR.outcome]: result.outcome, [ATTR.exitCode]: result.exitCode, [ATTR.durationMs]: result.durationMs });
    if (result.signal) span.setAttribute(ATTR.signal, result.signal);
    if (ERROR_OUTCOMES.has(result.outcome)) span.setStatus({ code: SpanStatusCode.ERROR, message: result.message || result.outcome });
    span.end(this.clock.now());
  }

  /** Ends the run spans still open (marked as such, so the agent's spans keep their parent) and flushes. */
  async shutdown(): Promise<void> {
    const now = this.clock.now();
    for (const span of this.runs.values()) {
      span.setAttribute(ATTR.openAtShutdown, true);
      span.end(now);
    }
    this.runs.clear();
    await this.tracing.shutdown();
  }

  private startRun(task: Task, attempt: Attempt, startMs: number): Span {
    const attributes: Attributes = {
      [ATTR.taskId]: task.id,
      [ATTR.attemptId]: attempt.id,
      [ATTR.attemptNumber]: attempt.number,
      [ATTR.workerId]: attempt.workerId,
    };
    if (attempt.gpuIndexes.length > 0) attributes[ATTR.gpuIndexes] = attempt.gpuIndexes;
    return this.tracing.tracer.startSpan(SPAN.run, { startTime: startMs, attributes }, this.tracing.extract({ traceparent: task.traceParent }));
  }
}

function taskAttributes(task: Task): Attributes {
  const s = task.spec;
  const attributes: Attributes = {
    [ATTR.taskId]: task.id,
    [ATTR.taskProject]: s.project,
    [ATTR.taskQueue]: s.queueClass,
    [ATTR.taskPriority]: s.priority,
  };
  if (s.name) attributes[ATTR.taskName] = s.name;
  if (s.kind) attributes[ATTR.taskKind] = s.kind;
  return attributes;
}

/** The decision as attributes: strategy, chosen worker, its score and factor breakdown, why RTS fell back. */
function placementAttributes(attempt: Attempt): Attributes {
  const attributes: Attributes = { [ATTR.workerId]: attempt.workerId };
  const d = attempt.decision;
  if (!d) return attributes;
  attributes[ATTR.strategy] = d.strategy;
  attributes[ATTR.feasibleWorkers] = d.feasibleWorkers;
  if (d.fallbackReason) attributes[ATTR.fallbackReason] = d.fallbackReason;
  if (d.weightsVersion) attributes[ATTR.weightsVersion] = d.weightsVersion;
  if (d.chosen) {
    const c = d.chosen;
    attributes[ATTR.score] = c.score;
    for (const [factor, value] of [
      ["deadline", c.deadline],
      ["affinity", c.affinity],
      ["load", c.load],
      ["io", c.io],
      ["success", c.success],
      ["penalty", c.penalty],
    ] as const) {
      attributes[ATTR.factorPrefix + factor] = value;
    }
  }
  if (d.runnerUp) attributes[ATTR.runnerUpScore] = d.runnerUp.score;
  return attributes;
}
