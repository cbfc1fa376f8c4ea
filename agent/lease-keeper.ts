// The agent's side of its lease on running attempts: renews it from heartbeat answers
// (attempt-lease.ts), stops the attempts itself when it expires, and keeps the lease file that the
// lease guard process reads (lease-file.ts) up to date.
import { AttemptOutcome } from "../src/gen/taskgrid/v1/types.js";
import { AttemptLease } from "./attempt-lease.js";
import type { Executor } from "./executor.js";
import { LeaseFile } from "./lease-file.js";

export interface LeaseKeeperDeps {
  executor: Executor;
  now: () => number;
  stateDir: string | null;
  checkMs: number;
  /** The python3 that runs the lease guard (the launcher's); null: the JavaScript guard. */
  python?: string | null;
  /** Attempts whose reports are dropped (the master told us to kill them): not ours to stop. */
  silenced: ReadonlySet<string>;
  log: (level: "info" | "warn" | "error", msg: string, fields: Record<string, unknown>) => void;
}

export class LeaseKeeper {
  private readonly lease = new AttemptLease();
  private readonly file: LeaseFile | null;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: LeaseKeeperDeps) {
    this.file =
      deps.stateDir === null
        ? null
        : new LeaseFile(
            deps.stateDir,
            () => this.snapshot(),
            (msg, fields) => deps.log("warn", msg, fields),
            deps.python ?? null,
          );
  }

  start(): void {
    this.timer = setInterval(() => this.check(), this.deps.checkMs);
    this.timer.unref();
    this.file?.start(this.deps.checkMs);
  }

  /** The lease or the set of running processes changed: the lease file follows. */
  changed(): void {
    this.file?.changed();
  }

  granted(leaseMs: number, graceMs: number, registerSentAtMs: number): void {
    this.lease.grant(leaseMs, graceMs, registerSentAtMs);
    this.changed();
  }

  heartbeatSent(seq: number): void {
    this.lease.heartbeatSent(seq, this.deps.now());
  }

  heartbeatAnswered(seq: number): void {
    this.lease.heartbeatAnswered(seq);
    this.changed();
  }

  expired(): boolean {
    return this.lease.expired(this.deps.now());
  }

  /** Clean stop: every attempt has ended; the guard exits once this process is gone. */
  stop(): void {
    clearInterval(this.timer);
    this.file?.remove();
  }

  /**
   * No answer from the master for the whole lease: it may already run our attempts elsewhere, so
   * stop them (LOST: they are requeued without using a retry). Their reports go when we reconnect.
   */
  private check(): void {
    const { executor, silenced } = this.deps;
    if (executor.runningCount() === 0 || !this.expired()) return;
    const running = executor.running().filter((a) => !silenced.has(a.attemptId));
    if (running.length === 0) return;
    const message = `lease expired: no answer from the master for ${this.lease.durationMs} ms`;
    this.deps.log("warn", "lease expired: stopping attempts", { leaseMs: this.lease.durationMs, attempts: running.length });
    for (const a of running) executor.cancel(a.attemptId, this.lease.graceMs, AttemptOutcome.ATTEMPT_OUTCOME_LOST, message);
  }

  private snapshot() {
    const expiresAt = this.lease.expiresAt;
    return {
      expiresAtWallMs: expiresAt === null ? null : Date.now() + (expiresAt - this.deps.now()),
      graceMs: this.lease.graceMs,
      groups: this.deps.executor.running().map((a) => ({ pid: a.pid, start: a.processStart })),
    };
  }
}
