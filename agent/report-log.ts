// Reports (started, progress, finished, paused) the master has not acknowledged yet. Each gets a
// sequence number; a ReportAck from the master removes every report up to its number (the master
// acks only once the report is committed, or known to be stale). After a reconnect every report
// still here is sent again, in order: the master applies them idempotently by attempt id, so a
// `finished` whose commit was lost with the stream is never forgotten.
//
// Bounded: past the limit the oldest *progress* report is dropped (and counted): progress is
// superseded by later progress or by `finished`. started, paused and finished are never dropped.
import type { AgentMessage } from "../src/gen/taskgrid/v1/worker_service.js";
import { attemptIdOf } from "./agent-messages.js";

export interface AckedReport {
  seq: number;
  message: AgentMessage;
}

export class ReportLog {
  private readonly reports = new Map<number, AgentMessage>();
  private nextSeq = 1;
  /** Progress reports dropped because the log was full. */
  dropped = 0;

  constructor(private readonly limit: number = 10_000) {}

  /** Stamps the report with the next sequence number and keeps it until acknowledged. */
  add(message: AgentMessage): AgentMessage {
    const seq = this.nextSeq++;
    const stamped = { ...message, seq };
    this.reports.set(seq, stamped);
    if (this.reports.size > this.limit) this.dropOldestProgress();
    return stamped;
  }

  /** Removes and returns every report with a sequence number <= `seq`, oldest first. */
  ack(seq: number): AckedReport[] {
    const acked: AckedReport[] = [];
    for (const [s, message] of this.reports) {
      if (s > seq) break; // Map iteration is insertion order, which is sequence order
      this.reports.delete(s);
      acked.push({ seq: s, message });
    }
    return acked;
  }

  /** Every report not acknowledged yet, oldest first (to send again after a reconnect). */
  unacked(): AgentMessage[] {
    return [...this.reports.values()];
  }

  /** Attempt ids whose `finished` report is not acknowledged yet. */
  finishedAttemptIds(): string[] {
    return [...this.reports.values()].flatMap((r) => (r.body?.$case === "finished" ? [r.body.value.attemptId] : []));
  }

  /** Forgets every report about `attemptId` (the master said the attempt is not current). */
  forget(attemptId: string): void {
    for (const [s, message] of this.reports) if (attemptIdOf(message) === attemptId) this.reports.delete(s);
  }

  get size(): number {
    return this.reports.size;
  }

  private dropOldestProgress(): void {
    for (const [s, message] of this.reports) {
      if (message.body?.$case === "progress") {
        this.reports.delete(s);
        this.dropped++;
        return;
      }
    }
  }
}
