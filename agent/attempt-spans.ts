// The agent's part of a task's trace: one `taskgrid.execute` span per attempt, a child of the
// master's run span whose W3C traceparent came in the Assign message. Only when tracing is on in
// the agent (its own OTEL_* settings) and the master sent a trace context; otherwise every method
// returns at its first line.
import { SpanStatusCode, type Span } from "@opentelemetry/api";
import { AttemptOutcome } from "../src/gen/taskgrid/v1/types.js";
import type { TaskResult } from "../src/gen/taskgrid/v1/task.js";
import type { Assign } from "../src/gen/taskgrid/v1/worker_service.js";
import { ATTR, EVENT_PROCESS_STARTED, SPAN } from "../src/telemetry/trace-names.js";
import { startTracing, TRACING_OFF, type Tracing, type TracingOptions } from "../src/telemetry/tracing.js";

/** "ATTEMPT_OUTCOME_FAILED" -> "FAILED": the same values as the master's spans. */
const outcomeName = (o: AttemptOutcome) => (AttemptOutcome[o] ?? String(o)).replace(/^ATTEMPT_OUTCOME_/, "");
// A preempted attempt did what it was told (stop for a higher-ranked task): not an error either.
const OK_OUTCOMES = new Set([AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED, AttemptOutcome.ATTEMPT_OUTCOME_CANCELED, AttemptOutcome.ATTEMPT_OUTCOME_PREEMPTED]);

export class AttemptSpans {
  private tracing: Tracing = TRACING_OFF;
  private readonly open = new Map<string, Span>();

  constructor(
    private readonly workerId: string,
    private readonly now: () => number,
  ) {}

  /** Starts tracing as configured; on failure (a malformed endpoint, say) it stays off and says why. */
  async start(options: TracingOptions, warn: (message: string, fields: Record<string, unknown>) => void): Promise<void> {
    try {
      this.tracing = await startTracing(options);
    } catch (err) {
      warn("tracing could not start; running without it", { error: String(err) });
    }
  }

  assigned(assign: Assign): void {
    if (!this.tracing.enabled || !assign.traceParent) return;
    const span = this.tracing.tracer.startSpan(
      SPAN.execute,
      {
        startTime: this.now(),
        attributes: {
          [ATTR.workerId]: this.workerId,
          [ATTR.taskId]: assign.taskId,
          [ATTR.attemptId]: assign.attemptId,
          [ATTR.attemptNumber]: assign.attemptNumber,
        },
      },
      this.tracing.extract({ traceparent: assign.traceParent }),
    );
    this.open.set(assign.attemptId, span);
  }

  started(attemptId: string, pid: number, startedAt: Date): void {
    const span = this.open.get(attemptId);
    if (!span) return;
    span.setAttribute(ATTR.processPid, pid);
    span.addEvent(EVENT_PROCESS_STARTED, startedAt);
  }

  finished(attemptId: string, result: TaskResult, finishedAt: Date): void {
    const span = this.open.get(attemptId);
    if (!span) return;
    this.open.delete(attemptId);
    span.setAttributes({ [ATTR.outcome]: outcomeName(result.outcome), [ATTR.exitCode]: result.exitCode, [ATTR.durationMs]: result.durationMs });
    if (result.signal) span.setAttribute(ATTR.signal, result.signal);
    if (!OK_OUTCOMES.has(result.outcome)) span.setStatus({ code: SpanStatusCode.ERROR, message: result.message || outcomeName(result.outcome) });
    span.end(finishedAt);
  }

  /** Ends spans still open (attempts outliving the agent) and flushes. */
  async shutdown(): Promise<void> {
    for (const span of this.open.values()) span.end(this.now());
    this.open.clear();
    await this.tracing.shutdown();
  }
}
