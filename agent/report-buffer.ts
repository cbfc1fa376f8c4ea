// Reports (started, finished, paused) produced while the agent has no registered session. They
// are flushed, in order, after the next `registered`. Bounded: past the limit the oldest report
// is dropped (and counted), so a long outage cannot exhaust memory.
import type { AgentMessage } from "../src/gen/taskgrid/v1/worker_service.js";

export class ReportBuffer {
  private reports: AgentMessage[] = [];
  /** Reports dropped because the buffer was full. */
  dropped = 0;

  constructor(private readonly limit: number = 10_000) {}

  push(report: AgentMessage): void {
    this.reports.push(report);
    if (this.reports.length > this.limit) {
      this.reports.shift();
      this.dropped++;
    }
  }

  get size(): number {
    return this.reports.length;
  }

  /** Attempt ids whose `finished` report is still waiting here. */
  finishedAttemptIds(): string[] {
    return this.reports.flatMap((r) => (r.body?.$case === "finished" ? [r.body.value.attemptId] : []));
  }

  /** Removes and returns every buffered report, oldest first. */
  takeAll(): AgentMessage[] {
    const all = this.reports;
    this.reports = [];
    return all;
  }
}
