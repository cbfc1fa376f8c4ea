// The agent: one WorkerService.Connect stream to the master (register, heartbeat, reports up;
// assign and control down), the executor that runs attempts, and the probes behind telemetry.
// Lifecycle: starting -> connecting -> registered -> (backoff -> connecting -> registered)* ->
// stopping -> stopped. Running children survive a lost stream for as long as the lease allows
// (attempt-lease.ts). Every report is kept until the master acknowledges its commit and is sent
// again after a reconnect (report-log.ts); `finished` reports also survive a restart of the agent
// (finished-spool.ts).
import { randomUUID } from "node:crypto";
import { AttemptOutcome } from "../src/gen/taskgrid/v1/types.js";
import type { TaskResult } from "../src/gen/taskgrid/v1/task.js";
import type { AgentMessage, Assign, MasterMessage, Register, Registered, RunningAttempt } from "../src/gen/taskgrid/v1/worker_service.js";
import { resolveAgentConfig, type AgentConfig, type AgentOptions, type AgentPhase } from "./agent-config.js";
import { attemptIdOf, finishedMessage } from "./agent-messages.js";
import { AttemptLease } from "./attempt-lease.js";
import { FinishedSpool } from "./finished-spool.js";
import { LeaseFile } from "./lease-file.js";
import { Backoff } from "./backoff.js";
import { MasterStream } from "./connection.js";
import { startFailed } from "./attempt-result.js";
import { AttemptSpans } from "./attempt-spans.js";
import { Executor } from "./executor.js";
import { GpuProbe } from "./probes/gpu.js";
import { osMemory } from "./probes/memory.js";
import { defaultSources, TelemetrySampler } from "./probes/telemetry.js";
import { ReportLog } from "./report-log.js";
import { AGENT_VERSION } from "./version.js";

export type { AgentOptions, AgentPhase } from "./agent-config.js";

export interface AgentHandle {
  readonly workerId: string;
  /** Resolves on the first `registered`; rejects if the agent is stopped before that. */
  readonly ready: Promise<void>;
  /** Kills running attempts (reported LOST, so the master retries them) and ends the stream cleanly. */
  stop(): Promise<void>;
  /** Takes no new work and waits (at most `timeoutMs`, default drainTimeoutMs) for running attempts. */
  drain(timeoutMs?: number): Promise<void>;
  /** Attempt ids currently running on this agent. */
  runningAttempts(): string[];
  phase(): AgentPhase;
  /** Sends one heartbeat now (the periodic loop calls the same). */
  heartbeatTick(): void;
}

export function startAgent(options: AgentOptions): AgentHandle {
  const agent = new Agent(resolveAgentConfig(options));
  agent.start();
  return {
    workerId: agent.config.workerId,
    ready: agent.ready,
    stop: () => agent.stop(),
    drain: (timeoutMs) => agent.drain(timeoutMs),
    runningAttempts: () => agent.executor.running().map((a) => a.attemptId),
    phase: () => agent.currentPhase,
    heartbeatTick: () => agent.heartbeatTick(),
  };
}

class Agent {
  currentPhase: AgentPhase = "starting";
  readonly executor: Executor;
  readonly ready: Promise<void>;
  private markReady!: () => void;
  private failReady!: (err: Error) => void;
  private readonly sampler: TelemetrySampler;
  private readonly reports: ReportLog;
  private readonly spool: FinishedSpool;
  private readonly lease = new AttemptLease();
  /** Random per process: the master tells a reconnect of this agent from a second agent with our id. */
  private readonly instanceId = randomUUID();
  private heartbeatSeq = 0;
  private registerSentAtMs = 0;
  private leaseTimer: NodeJS.Timeout | undefined;
  /** What the lease guard process reads; null without a state dir (no guard). */
  private readonly leaseFile: LeaseFile | null;
  /** Called after each ack and when the stream closes (see acknowledged()). */
  private readonly ackListeners = new Set<() => void>();
  private readonly backoff: Backoff;
  private readonly spans: AttemptSpans;
  /** The open stream, registered or not yet. */
  private stream: MasterStream | null = null;
  /** Set once the open stream got `registered`: only then do reports go out. */
  private registered = false;
  private draining = false;
  private stopping: Promise<void> | null = null;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private registerTimer: NodeJS.Timeout | undefined;
  /** Attempts the master told us to kill: not current there, so their reports are dropped. */
  private readonly silenced = new Set<string>();
  /** Task and start time of each assigned attempt until its `finished` went out (for Register.running). */
  private readonly attemptInfo = new Map<string, { taskId: string; startedAt: Date }>();

  constructor(readonly config: AgentConfig) {
    this.ready = new Promise<void>((resolve, reject) => {
      this.markReady = resolve;
      this.failReady = reject;
    });
    this.ready.catch(() => {}); // Nobody may be waiting on it; a stop before registering is not a crash.
    this.sampler = new TelemetrySampler(defaultSources(new GpuProbe(config.gpuProbe)), config.now);
    this.reports = new ReportLog(config.maxBufferedReports);
    this.spool = new FinishedSpool(config.stateDir);
    this.leaseFile = config.stateDir === null ? null : new LeaseFile(config.stateDir, () => this.leaseSnapshot(), (msg, fields) => this.log("warn", msg, fields));
    this.backoff = new Backoff(config.backoff);
    this.spans = new AttemptSpans(config.workerId, config.now);
    this.executor = new Executor({
      maxTasks: config.maxTasks,
      now: config.now,
      machineHasGpus: () => this.sampler.gpus().length > 0,
      gpuUuid: (index) => this.sampler.gpus().find((g) => g.index === index)?.uuid,
      events: {
        started: (attemptId, pid, startedAt) => {
          const info = this.attemptInfo.get(attemptId);
          if (info) info.startedAt = startedAt;
          this.spans.started(attemptId, pid, startedAt);
          this.leaseFile?.changed();
          this.report({ seq: 0, body: { $case: "started", value: { attemptId, pid, startedAt } } });
        },
        progress: (attemptId, percent, message) => this.report({ seq: 0, body: { $case: "progress", value: { attemptId, percent, message } } }),
        finished: (attemptId, result, finishedAt) => {
          this.spans.finished(attemptId, result, finishedAt);
          this.leaseFile?.changed();
          this.reportFinished(attemptId, result, finishedAt);
        },
      },
    });
  }

  start(): void {
    // Results of attempts that ended before the last agent process could hand them over.
    for (const spooled of this.spool.loadAll()) {
      this.attemptInfo.set(spooled.attemptId, { taskId: spooled.taskId, startedAt: spooled.startedAt });
      this.reports.add(spooled.message);
    }
    this.leaseTimer = setInterval(() => this.checkLease(), this.config.leaseCheckMs);
    this.leaseTimer.unref();
    this.leaseFile?.start(this.config.leaseCheckMs);
    // The first sample discovers the GPUs that Register announces.
    const tracing = this.spans.start(this.config.tracing, (msg, fields) => this.log("warn", msg, fields));
    Promise.all([this.sampler.tick(), tracing])
      .catch((err) => this.log("warn", "first telemetry sample or tracing start failed", { error: String(err) }))
      .finally(() => this.connect());
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  async drain(timeoutMs = this.config.drainTimeoutMs): Promise<void> {
    if (!this.draining) {
      this.draining = true;
      this.announceDraining();
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.executor.whenIdle(), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  heartbeatTick(): void {
    if (!this.registered || !this.stream) return;
    const sample = this.sampler.latest();
    const telemetry = sample ? { ...sample, runningAttempts: this.executor.runningCount() } : undefined;
    const seq = ++this.heartbeatSeq;
    this.lease.heartbeatSent(seq, this.config.now());
    this.stream.send({ seq: 0, body: { $case: "heartbeat", value: { telemetry, seq } } });
    // Sample for the next heartbeat in the background: a slow probe never delays this one.
    void this.sampler.tick();
    void this.executor.pollProgressFiles();
  }

  private connect(): void {
    if (this.stopping) return;
    this.setPhase("connecting");
    const stream: MasterStream = new MasterStream(this.config.master, {
      onMessage: (message) => {
        if (stream === this.stream) this.onMessage(message);
      },
      onClosed: (reason) => {
        if (stream === this.stream) this.onClosed(reason);
      },
    });
    this.stream = stream;
    this.registerSentAtMs = this.config.now();
    stream.send({ seq: 0, body: { $case: "register", value: this.registration() } });
    this.registerTimer = setTimeout(() => stream.close(`no registered answer within ${this.config.registerTimeoutMs} ms`), this.config.registerTimeoutMs);
  }

  private registration(): Register {
    const running: RunningAttempt[] = this.executor.running()
      .filter((a) => !this.silenced.has(a.attemptId))
      .map((a) => ({ attemptId: a.attemptId, taskId: a.taskId, startedAt: a.startedAt }));
    // Attempts that ended but whose `finished` is not acknowledged are listed too: the master must
    // keep them current (not end them as LOST) until those reports, sent again next, arrive.
    for (const attemptId of this.reports.finishedAttemptIds()) {
      const info = this.attemptInfo.get(attemptId);
      if (info && !running.some((r) => r.attemptId === attemptId)) running.push({ attemptId, ...info });
    }
    const { config } = this;
    const memoryMib = this.sampler.latest()?.memoryTotalMib || osMemory().totalMib;
    return {
      workerId: config.workerId, hostname: config.hostname, tags: config.tags, running, agentVersion: AGENT_VERSION, instanceId: this.instanceId,
      capacity: { cpuMillis: config.cpuMillis, memoryMib, maxTasks: config.maxTasks, gpus: this.sampler.gpus() },
    };
  }

  private onMessage(message: MasterMessage): void {
    const body = message.body;
    switch (body?.$case) {
      case "registered":
        return this.onRegistered(body.value);
      case "assign":
        return this.onAssign(body.value);
      case "cancel":
        if (!this.executor.cancel(body.value.attemptId, body.value.graceMs, AttemptOutcome.ATTEMPT_OUTCOME_CANCELED, body.value.reason || "canceled")) {
          this.log("info", "cancel for an attempt that is not running", { attempt: body.value.attemptId });
        }
        return;
      case "pause":
      case "resume": {
        const paused = body.$case === "pause";
        const { attemptId } = body.value;
        const done = paused ? this.executor.pause(attemptId) : this.executor.resume(attemptId);
        if (done) this.report({ seq: 0, body: { $case: "paused", value: { attemptId, paused } } });
        else this.log("warn", `${body.$case} for an attempt that is not running`, { attempt: attemptId });
        return;
      }
      case "drain":
        this.draining = true;
        this.log("info", "draining", { reason: body.value.reason });
        return;
      case "ack":
        for (const { message: acked } of this.reports.ack(body.value.seq)) {
          if (acked.body?.$case !== "finished") continue;
          this.attemptInfo.delete(acked.body.value.attemptId);
          this.spool.remove(acked.body.value.attemptId);
        }
        for (const listener of [...this.ackListeners]) listener();
        return;
      case "heartbeatAck":
        this.lease.heartbeatAnswered(body.value.seq);
        this.leaseFile?.changed();
        return;
      default:
        this.log("warn", "ignored a master message without a known body", {});
    }
  }

  private onRegistered(registered: Registered): void {
    clearTimeout(this.registerTimer);
    this.registered = true;
    this.backoff.reset();
    this.setPhase("registered");
    this.log("info", "registered", { master: this.config.master, killed: registered.killAttemptIds.length, unacknowledged: this.reports.size });
    this.lease.grant(registered.leaseMs, registered.leaseGraceMs, this.registerSentAtMs);
    this.leaseFile?.changed();
    for (const attemptId of registered.killAttemptIds) {
      if (this.executor.cancel(attemptId, this.config.stopGraceMs, AttemptOutcome.ATTEMPT_OUTCOME_CANCELED, "not current on the master")) {
        this.silenced.add(attemptId);
      }
      this.reports.forget(attemptId);
      this.spool.remove(attemptId);
      this.attemptInfo.delete(attemptId);
    }
    // Whatever the previous session did not see acknowledged goes again, in order.
    for (const report of this.reports.unacked()) this.stream?.send(report);
    if (this.reports.dropped > 0) this.log("warn", "progress reports were dropped while disconnected", { dropped: this.reports.dropped });
    if (this.draining) this.announceDraining();
    const intervalMs = registered.heartbeatIntervalMs > 0 ? registered.heartbeatIntervalMs : this.config.heartbeatIntervalMs;
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => this.heartbeatTick(), intervalMs);
    this.heartbeatTick();
    this.markReady();
  }

  private onAssign(assign: Assign): void {
    const { attemptId, taskId } = assign;
    if (this.draining) {
      // Assigned before the master learnt we drain: hand it back as LOST (requeued elsewhere
      // without using a retry), never START_FAILED, which would burn the task's retries.
      const result = { ...startFailed(this.stopping ? "agent stopping" : "agent draining"), outcome: AttemptOutcome.ATTEMPT_OUTCOME_LOST };
      this.attemptInfo.set(attemptId, { taskId, startedAt: new Date(this.config.now()) });
      this.report(finishedMessage(attemptId, result, new Date(this.config.now())));
      return;
    }
    if (!this.attemptInfo.has(attemptId)) this.attemptInfo.set(attemptId, { taskId, startedAt: new Date(this.config.now()) });
    const spec = assign.spec;
    this.spans.assigned(assign);
    void this.executor.run({
      attemptId, taskId, command: spec?.command ?? [], env: spec?.env ?? {}, workingDir: spec?.workingDir ?? "",
      timeoutMs: spec?.timeoutMs ?? 0, gpuIndexes: assign.gpuIndexes,
    });
  }

  private reportFinished(attemptId: string, result: TaskResult, finishedAt: Date): void {
    if (this.silenced.delete(attemptId)) {
      this.attemptInfo.delete(attemptId);
      return;
    }
    if (result.outcome !== AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED && this.lease.expired(this.config.now())) {
      // Stopped for an expired lease (by us or by the lease guard): the infrastructure's doing, not the task's.
      result = { ...result, outcome: AttemptOutcome.ATTEMPT_OUTCOME_LOST, message: `lease expired: ${result.message || "stopped"}` };
    }
    this.log("info", "attempt finished", { attempt: attemptId, outcome: AttemptOutcome[result.outcome], exitCode: result.exitCode });
    this.report(finishedMessage(attemptId, result, finishedAt));
  }

  /**
   * Keeps the report until the master acknowledges it (a `finished` one on disk too) and sends it
   * now if a session is registered; otherwise it goes after the next `registered`.
   */
  private report(message: AgentMessage): void {
    const attemptId = attemptIdOf(message);
    if (this.silenced.has(attemptId)) return;
    const stamped = this.reports.add(message);
    if (stamped.body?.$case === "finished") {
      const info = this.attemptInfo.get(attemptId);
      try {
        this.spool.save({ attemptId, taskId: info?.taskId ?? "", startedAt: info?.startedAt ?? new Date(this.config.now()), message: stamped });
      } catch (err) {
        this.log("error", "could not spool a finished report (it is kept in memory)", { attempt: attemptId, error: String(err) });
      }
    }
    if (this.registered) this.stream?.send(stamped);
  }

  private leaseSnapshot() {
    const expiresAt = this.lease.expiresAt;
    return {
      expiresAtWallMs: expiresAt === null ? null : Date.now() + (expiresAt - this.config.now()),
      graceMs: this.lease.graceMs,
      pids: this.executor.running().map((a) => a.pid),
    };
  }

  /** Tells the master to stop assigning work here (sent again after each registration). */
  private announceDraining(): void {
    if (this.registered) this.stream?.send({ seq: 0, body: { $case: "draining", value: { reason: this.stopping ? "agent stopping" : "agent draining" } } });
  }

  /**
   * No answer from the master for the whole lease: it may already run our attempts elsewhere, so
   * stop them (LOST: they are requeued without using a retry). Their reports go when we reconnect.
   */
  private checkLease(): void {
    if (this.executor.runningCount() === 0 || !this.lease.expired(this.config.now())) return;
    const running = this.executor.running().filter((a) => !this.silenced.has(a.attemptId));
    if (running.length === 0) return;
    this.log("warn", "lease expired: stopping attempts", { leaseMs: this.lease.durationMs, attempts: running.length });
    for (const a of running) {
      this.executor.cancel(a.attemptId, this.lease.graceMs, AttemptOutcome.ATTEMPT_OUTCOME_LOST, `lease expired: no answer from the master for ${this.lease.durationMs} ms`);
    }
  }

  private onClosed(reason: string): void {
    this.stream = null;
    this.registered = false;
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.registerTimer);
    for (const listener of [...this.ackListeners]) listener();
    if (this.stopping) return;
    const delayMs = this.backoff.next();
    this.setPhase("backoff");
    this.log("warn", "master stream closed; reconnecting", { reason, delayMs, running: this.executor.runningCount() });
    this.reconnectTimer = setTimeout(() => this.connect(), delayMs);
  }

  private async shutdown(): Promise<void> {
    if (!this.draining) {
      this.draining = true;
      this.announceDraining();
    }
    this.setPhase("stopping");
    clearInterval(this.leaseTimer);
    clearTimeout(this.reconnectTimer);
    // LOST, not CANCELED: nobody asked to cancel these tasks; the master should run them again.
    await this.executor.cancelAll(this.config.stopGraceMs, AttemptOutcome.ATTEMPT_OUTCOME_LOST, "agent stopped");
    this.leaseFile?.remove();
    await this.acknowledged(this.config.stopAckWaitMs);
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.registerTimer);
    const stream = this.stream;
    this.stream = null;
    this.registered = false;
    await stream?.end();
    await this.spans.shutdown();
    this.failReady(new Error("agent stopped before it registered"));
    this.setPhase("stopped");
    this.log("info", "stopped", {});
  }

  /** Waits (bounded) until the master acknowledged every `finished` report, or the stream is gone. */
  private acknowledged(timeoutMs: number): Promise<void> {
    const settled = () => !this.registered || this.reports.finishedAttemptIds().length === 0;
    if (settled()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const check = () => {
        if (!settled()) return;
        clearTimeout(timer);
        this.ackListeners.delete(check);
        resolve();
      };
      const timer = setTimeout(() => (this.ackListeners.delete(check), resolve()), timeoutMs);
      this.ackListeners.add(check);
    });
  }

  private setPhase(phase: AgentPhase): void {
    if (phase === this.currentPhase) return;
    this.currentPhase = phase;
    this.config.onPhase(phase);
  }

  private log(level: "info" | "warn" | "error", msg: string, fields: Record<string, unknown>): void {
    this.config.logger[level](msg, fields);
  }
}
