// Everything the agent owes the master about its attempts until the master has it committed: the
// report log (sequence numbers, acks, re-sending after a reconnect), the spool of `finished`
// reports on disk, and which task and start time each such attempt had (Register.running lists
// attempts whose `finished` is not acknowledged, so the master never declares them lost meanwhile).
import type { AgentMessage, RunningAttempt } from "../src/gen/taskgrid/v1/worker_service.js";
import { attemptIdOf } from "./agent-messages.js";
import { FinishedSpool } from "./finished-spool.js";
import { ReportLog } from "./report-log.js";

export class ReportChannel {
  private readonly log: ReportLog;
  private readonly spool: FinishedSpool;
  /** Task and start time of each assigned attempt until its `finished` is acknowledged. */
  private readonly attempts = new Map<string, { taskId: string; startedAt: Date }>();
  /** Called after each ack (see whenFinishedAcked). */
  private readonly ackListeners = new Set<() => void>();

  constructor(
    limit: number,
    stateDir: string | null,
    private readonly onSpoolError: (attemptId: string, err: unknown) => void,
  ) {
    this.log = new ReportLog(limit);
    this.spool = new FinishedSpool(stateDir);
  }

  /** Takes over the results a previous agent process on this state dir could not hand over. */
  restore(): void {
    for (const spooled of this.spool.loadAll()) {
      this.attempts.set(spooled.attemptId, { taskId: spooled.taskId, startedAt: spooled.startedAt });
      this.log.add(spooled.message);
    }
  }

  assigned(attemptId: string, taskId: string, at: Date): void {
    if (!this.attempts.has(attemptId)) this.attempts.set(attemptId, { taskId, startedAt: at });
  }

  started(attemptId: string, at: Date): void {
    const info = this.attempts.get(attemptId);
    if (info) info.startedAt = at;
  }

  /** Numbers the report and keeps it (a `finished` one on disk too) until it is acknowledged. */
  add(message: AgentMessage): AgentMessage {
    const stamped = this.log.add(message);
    if (stamped.body?.$case === "finished") {
      const attemptId = attemptIdOf(stamped);
      const info = this.attempts.get(attemptId);
      try {
        this.spool.save({ attemptId, taskId: info?.taskId ?? "", startedAt: info?.startedAt ?? new Date(0), message: stamped });
      } catch (err) {
        this.onSpoolError(attemptId, err);
      }
    }
    return stamped;
  }

  /** The master committed every report up to `seq`. */
  acked(seq: number): void {
    for (const { message } of this.log.ack(seq)) {
      if (message.body?.$case !== "finished") continue;
      this.attempts.delete(message.body.value.attemptId);
      this.unspool(message.body.value.attemptId);
    }
    this.notify();
  }

  /** The master said the attempt is not current: nothing about it is owed any more. */
  forget(attemptId: string): void {
    this.log.forget(attemptId);
    this.unspool(attemptId);
    this.attempts.delete(attemptId);
  }

  /** Closes the spool's file (the agent stops). */
  close(): void {
    this.spool.close();
  }

  /**
   * A removal that cannot be written leaves the report in the spool: a later agent sends it again,
   * and the master ignores it (a save that cannot be written keeps the report in memory only).
   */
  private unspool(attemptId: string): void {
    try {
      this.spool.remove(attemptId);
    } catch (err) {
      this.onSpoolError(attemptId, err);
    }
  }

  /** Reports to send again after a reconnect, oldest first. */
  unacked(): AgentMessage[] {
    return this.log.unacked();
  }

  get size(): number {
    return this.log.size;
  }

  get dropped(): number {
    return this.log.dropped;
  }

  /** Attempts that ended but whose `finished` is not acknowledged, for Register.running. */
  endedUnacknowledged(exclude: ReadonlySet<string>): RunningAttempt[] {
    return this.log.finishedAttemptIds().flatMap((attemptId) => {
      const info = this.attempts.get(attemptId);
      return info && !exclude.has(attemptId) ? [{ attemptId, ...info }] : [];
    });
  }

  /** Resolves once every `finished` is acknowledged, `gone()` holds, or `timeoutMs` passed. */
  whenFinishedAcked(timeoutMs: number, gone: () => boolean): Promise<void> {
    const settled = () => gone() || this.log.finishedAttemptIds().length === 0;
    if (settled()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.ackListeners.delete(check);
        resolve();
      };
      const check = () => settled() && done();
      const timer = setTimeout(done, timeoutMs);
      this.ackListeners.add(check);
    });
  }

  /** Wakes whenFinishedAcked waiters (after an ack, or when the stream closed). */
  notify(): void {
    for (const listener of [...this.ackListeners]) listener();
  }
}
