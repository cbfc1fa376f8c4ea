// The agent: one WorkerService.Connect stream to the master (register, heartbeat, reports up;
// assign and control down), the executor that runs attempts, and the probes behind telemetry.
// Lifecycle: starting -> connecting -> registered -> (backoff -> connecting -> registered)* ->
// stopping -> stopped. Running children survive a lost stream for as long as the lease allows
// (lease-keeper.ts). Every report is kept until the master acknowledges its commit and is sent
// again after a reconnect; `finished` reports also survive a restart of the agent (report-channel.ts).
// With several masters (HA), each connect goes to the address master-picker.ts chooses (following
// a standby's leader hint), and a `registered` from a deposed leader (an older leadership epoch
// than one already seen) is refused: to the agent a leader change is just a reconnect.
import { randomUUID } from "node:crypto";
import { status as GrpcStatus, type ChannelCredentials } from "@grpc/grpc-js";
import { AttemptOutcome } from "../src/gen/taskgrid/v1/types.js";
import type { TaskResult } from "../src/gen/taskgrid/v1/task.js";
import type { AgentMessage, Assign, MasterMessage, Register, Registered, RunningAttempt } from "../src/gen/taskgrid/v1/worker_service.js";
import { agentCredentials, resolveAgentConfig, type AgentConfig, type AgentOptions, type AgentPhase } from "./agent-config.js";
import { attemptIdOf, finishedMessage } from "./agent-messages.js";
import { LeaseKeeper } from "./lease-keeper.js";
import { ReportChannel } from "./report-channel.js";
import { Backoff } from "./backoff.js";
import { MasterStream } from "./connection.js";
import { MasterPicker } from "./master-picker.js";
import { startFailed } from "./attempt-result.js";
import { AttemptSpans } from "./attempt-spans.js";
import { Executor } from "./executor.js";
import { LogServer } from "./log-server.js";
import { GpuProbe } from "./probes/gpu.js";
import { osMemory } from "./probes/memory.js";
import { defaultSources, TelemetrySampler } from "./probes/telemetry.js";
import { AGENT_VERSION } from "./version.js";

/** A standby's refusal (NotLeaderError in src/core/errors.ts), as the stream's close reason carries it. */
const STANDBY_REFUSAL = /this master is a standby/;

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
  private readonly reports: ReportChannel;
  private readonly lease: LeaseKeeper;
  /** Random per process: the master tells a reconnect of this agent from a second agent with our id. */
  private readonly instanceId = randomUUID();
  private heartbeatSeq = 0;
  /** When the master last sent anything on the current stream (its heartbeat answers, at least). */
  private lastHeardAtMs = 0;
  /** Silence after which the master counts as gone (0: never, see onRegistered). */
  private silentMasterMs = 0;
  private registerSentAtMs = 0;
  /** The address of each next connect, and the delay before it. */
  private readonly picker: MasterPicker;
  /**
   * The highest leadership epoch a master registered us with (0: none yet, or masters without
   * epochs). A lower non-zero epoch is a deposed leader that has not noticed yet.
   */
  private highestEpoch = 0;
  private readonly spans: AttemptSpans;
  /** The open stream, registered or not yet. */
  private stream: MasterStream | null = null;
  /** Set once the open stream got `registered`: only then do reports go out. */
  private registered = false;
  /** This agent drains: it is stopping, or drain() was called; announced to every master it registers with. */
  private draining = false;
  /** An operator drained this worker (the master's `drain`); ended by `undrain`. */
  private drainedByOperator = false;
  private stopping: Promise<void> | null = null;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private registerTimer: NodeJS.Timeout | undefined;
  /** Attempts the master told us to kill: not current there, so their reports are dropped. */
  private readonly silenced = new Set<string>();
  /** Reads of the attempts' log files asked by the master (issue 17). */
  private readonly logServer: LogServer;
  /** The last usable TLS credentials (the files are read again for each new stream). */
  private credentials: ChannelCredentials;

  constructor(readonly config: AgentConfig) {
    this.credentials = config.credentials;
    this.ready = new Promise<void>((resolve, reject) => {
      this.markReady = resolve;
      this.failReady = reject;
    });
    this.ready.catch(() => {}); // Nobody may be waiting on it; a stop before registering is not a crash.
    this.sampler = new TelemetrySampler(defaultSources(new GpuProbe(config.gpuProbe)), config.now);
    this.reports = new ReportChannel(config.maxBufferedReports, config.stateDir, (attempt, err) =>
      this.log("error", "could not spool a finished report (it is kept in memory)", { attempt, error: String(err) }),
    );
    this.picker = new MasterPicker(config.masters, new Backoff(config.backoff), config.leaderHintDelayMs);
    this.spans = new AttemptSpans(config.workerId, config.now);
    this.executor = new Executor({
      maxTasks: config.maxTasks,
      now: config.now,
      checkpointRoot: config.checkpointDir ?? undefined,
      logRoot: config.logRoot ?? undefined,
      logMaxAttemptBytes: config.taskLogMaxBytes,
      logMaxTotalBytes: config.taskLogTotalBytes,
      workerId: config.workerId,
      onLogError: (msg, err) => this.log("warn", msg, { error: String(err) }),
      machineHasGpus: () => this.sampler.gpus().length > 0,
      gpuUuid: (index) => this.sampler.gpus().find((g) => g.index === index)?.uuid,
      events: {
        started: (attemptId, pid, startedAt) => {
          this.reports.started(attemptId, startedAt);
          this.spans.started(attemptId, pid, startedAt);
          this.lease.changed();
          this.report({ seq: 0, body: { $case: "started", value: { attemptId, pid, startedAt } } });
        },
        progress: (attemptId, percent, message) => this.report({ seq: 0, body: { $case: "progress", value: { attemptId, percent, message } } }),
        finished: (attemptId, result, finishedAt) => {
          this.spans.finished(attemptId, result, finishedAt);
          this.lease.changed();
          this.reportFinished(attemptId, result, finishedAt);
        },
      },
    });
    this.logServer = new LogServer(this.executor.logs, (msg, err) => this.log("warn", msg, { error: String(err) }));
    this.lease = new LeaseKeeper({
      executor: this.executor,
      now: config.now,
      stateDir: config.stateDir,
      checkMs: config.leaseCheckMs,
      silenced: this.silenced,
      log: (level, msg, fields) => this.log(level, msg, fields),
    });
  }

  start(): void {
    const exposed = this.config.masters.filter((address) => !isLoopback(address));
    if (this.config.token !== null && this.config.tls === null && exposed.length > 0) {
      this.log("warn", "sending the agent token without TLS: anyone on the network path can read it", { master: exposed.join(",") });
    }
    this.reports.restore();
    this.lease.start();
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
    this.startDraining();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.executor.whenIdle(), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  heartbeatTick(): void {
    if (!this.registered || !this.stream) return;
    // A stopped or cut-off master keeps the connection open and answers nothing: leave it for the
    // next address (a standby may lead by now) well before the lease on our attempts runs out.
    const silentMs = this.config.now() - this.lastHeardAtMs;
    if (this.silentMasterMs > 0 && silentMs > this.silentMasterMs) {
      this.log("warn", "the master stopped answering; reconnecting", { master: this.picker.current, silentMs, running: this.executor.runningCount() });
      this.stream.close(`master silent for ${silentMs} ms`);
      return;
    }
    const sample = this.sampler.latest();
    const telemetry = sample ? { ...sample, runningAttempts: this.executor.runningCount() } : undefined;
    const seq = ++this.heartbeatSeq;
    this.lease.heartbeatSent(seq);
    this.stream.send({ seq: 0, body: { $case: "heartbeat", value: { telemetry, seq } } });
    // Sample for the next heartbeat in the background: a slow probe never delays this one.
    void this.sampler.tick();
    void this.executor.pollProgressFiles();
  }

  private connect(): void {
    if (this.stopping !== null) return;
    this.setPhase("connecting");
    const stream: MasterStream = new MasterStream(
      this.picker.current,
      {
        onMessage: (message) => {
          if (stream === this.stream) this.onMessage(message);
        },
        onClosed: (reason, code, leaderHint) => {
          if (stream === this.stream) this.onClosed(reason, code, leaderHint);
        },
      },
      { credentials: this.streamCredentials(), token: this.config.token },
    );
    this.stream = stream;
    this.registerSentAtMs = this.config.now();
    stream.send({ seq: 0, body: { $case: "register", value: this.registration() } });
    this.registerTimer = setTimeout(() => stream.close(`no registered answer within ${this.config.registerTimeoutMs} ms`), this.config.registerTimeoutMs);
  }

  /** Re-reads the TLS files, so a rotated client certificate is used from the next stream on. */
  private streamCredentials(): ChannelCredentials {
    if (this.config.tls === null) return this.credentials;
    try {
      this.credentials = agentCredentials(this.config.tls);
    } catch (err) {
      this.log("error", "tls files unusable; connecting with the previous ones", { error: err instanceof Error ? err.message : String(err) });
    }
    return this.credentials;
  }

  private registration(): Register {
    const running: RunningAttempt[] = this.executor
      .running()
      .filter((a) => !this.silenced.has(a.attemptId))
      .map((a) => ({ attemptId: a.attemptId, taskId: a.taskId, startedAt: a.startedAt }));
    // Attempts that ended but whose `finished` is not acknowledged are listed too: the master must
    // keep them current (not end them as LOST) until those reports, sent again next, arrive.
    running.push(...this.reports.endedUnacknowledged(new Set(running.map((r) => r.attemptId))));
    const { config } = this;
    const memoryMib = this.sampler.latest()?.memoryTotalMib || osMemory().totalMib;
    return {
      workerId: config.workerId,
      hostname: config.hostname,
      tags: config.tags,
      running,
      agentVersion: AGENT_VERSION,
      instanceId: this.instanceId,
      capacity: { cpuMillis: config.cpuMillis, memoryMib, maxTasks: config.maxTasks, gpus: this.sampler.gpus() },
    };
  }

  private onMessage(message: MasterMessage): void {
    this.lastHeardAtMs = this.config.now();
    const body = message.body;
    if (!this.registered && body?.$case !== "registered") {
      // A master answers `register` before anything else; whatever comes on a stream that is not
      // (or was refused as) registered is not acted on.
      this.log("warn", "ignored a master message before registered", { kind: body?.$case ?? "none", master: this.picker.current });
      return;
    }
    switch (body?.$case) {
      case "registered":
        this.onRegistered(body.value);
        return;
      case "assign":
        this.onAssign(body.value);
        return;
      case "cancel":
        if (!this.executor.cancel(body.value.attemptId, body.value.graceMs, AttemptOutcome.ATTEMPT_OUTCOME_CANCELED, body.value.reason || "canceled")) {
          this.log("info", "cancel for an attempt that is not running", { attempt: body.value.attemptId });
        }
        return;
      case "preempt": {
        const { attemptId, signal, graceMs, reason } = body.value;
        if (!this.executor.preempt(attemptId, signal, graceMs, reason || "preempted")) {
          this.log("info", "preempt for an attempt that is not running", { attempt: attemptId });
        }
        return;
      }
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
        // The master keeps an operator's drain itself (it is in the worker's row); the agent only
        // stops accepting what was assigned before the master knew.
        this.drainedByOperator = true;
        this.log("info", "draining", { reason: body.value.reason });
        return;
      case "undrain":
        this.drainedByOperator = false;
        this.log("info", this.draining ? "undrained by the master, but this agent is stopping: still draining" : "undrained: taking new work again", {});
        return;
      case "ack":
        this.reports.acked(body.value.seq);
        return;
      case "heartbeatAck":
        this.lease.heartbeatAnswered(body.value.seq);
        return;
      case "readLog":
      case "cancelLogRead":
      case "logReadCredit": {
        // Chunks go back on the stream that asked; its close cancels the read (onClosed).
        const stream = this.stream;
        this.logServer.handle(body, (chunk) => stream?.send({ seq: 0, body: { $case: "logChunk", value: chunk } }));
        return;
      }
      default:
        this.log("warn", "ignored a master message without a known body", {});
    }
  }

  private onRegistered(registered: Registered): void {
    clearTimeout(this.registerTimer);
    if (this.registered) {
      this.log("warn", "ignored a second registered on one stream", { master: this.picker.current });
      return;
    }
    if (registered.epoch !== 0 && registered.epoch < this.highestEpoch) {
      // A deposed leader (partitioned from the database, not yet aware): nothing it sent is acted
      // on (its kill list least of all); closing makes this an ordinary failed connect.
      this.log("warn", "refused a deposed leader: its leadership epoch is older than one already seen; reconnecting elsewhere", {
        master: this.picker.current,
        epoch: registered.epoch,
        highestEpoch: this.highestEpoch,
      });
      this.stream?.close(`deposed leader (epoch ${registered.epoch} < ${this.highestEpoch})`);
      return;
    }
    this.highestEpoch = Math.max(this.highestEpoch, registered.epoch);
    this.registered = true;
    this.picker.registered();
    this.setPhase("registered");
    this.log("info", "registered", {
      master: this.picker.current,
      epoch: registered.epoch,
      killed: registered.killAttemptIds.length,
      unacknowledged: this.reports.size,
    });
    this.lease.granted(registered.leaseMs, registered.leaseGraceMs, this.registerSentAtMs);
    for (const attemptId of registered.killAttemptIds) {
      if (this.executor.cancel(attemptId, this.config.stopGraceMs, AttemptOutcome.ATTEMPT_OUTCOME_CANCELED, "not current on the master")) {
        this.silenced.add(attemptId);
      }
      this.reports.forget(attemptId);
    }
    // Whatever the previous session did not see acknowledged goes again, in order.
    for (const report of this.reports.unacked()) this.stream?.send(report);
    if (this.reports.dropped > 0) this.log("warn", "progress reports were dropped while disconnected", { dropped: this.reports.dropped });
    if (this.draining) this.announceDraining();
    const intervalMs = registered.heartbeatIntervalMs > 0 ? registered.heartbeatIntervalMs : this.config.heartbeatIntervalMs;
    // Half the lease (at least two heartbeats): time left to register elsewhere before it runs out.
    // Without a lease (a master that grants none) the connection's keepalive is the only judge.
    this.silentMasterMs = registered.leaseMs > 0 ? Math.max(2 * intervalMs, registered.leaseMs / 2) : 0;
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => this.heartbeatTick(), intervalMs);
    this.heartbeatTick();
    this.markReady();
  }

  private onAssign(assign: Assign): void {
    const { attemptId, taskId } = assign;
    if (this.draining || this.drainedByOperator) {
      // Assigned before the master learnt we drain: hand it back as LOST (requeued elsewhere
      // without using a retry), never START_FAILED, which would burn the task's retries.
      const result = { ...startFailed(this.stopping !== null ? "agent stopping" : "agent draining"), outcome: AttemptOutcome.ATTEMPT_OUTCOME_LOST };
      this.reports.assigned(attemptId, taskId, new Date(this.config.now()));
      this.report(finishedMessage(attemptId, result, new Date(this.config.now())));
      return;
    }
    this.reports.assigned(attemptId, taskId, new Date(this.config.now()));
    const spec = assign.spec;
    this.spans.assigned(assign);
    void this.executor.run({
      attemptId,
      taskId,
      command: spec?.command ?? [],
      env: spec?.env ?? {},
      workingDir: spec?.workingDir ?? "",
      timeoutMs: spec?.timeoutMs ?? 0,
      gpuIndexes: assign.gpuIndexes,
      attemptNumber: assign.attemptNumber,
    });
  }

  private reportFinished(attemptId: string, result: TaskResult, finishedAt: Date): void {
    if (this.silenced.delete(attemptId)) {
      this.reports.forget(attemptId);
      return;
    }
    if (result.outcome !== AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED && this.lease.expired()) {
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
    if (this.registered) this.stream?.send(stamped);
  }

  /** Takes no new work from now on, and tells the master so (once). */
  private startDraining(): void {
    if (this.draining) return;
    this.draining = true;
    this.announceDraining();
  }

  /** Tells the master to stop assigning work here (sent again after each registration). */
  private announceDraining(): void {
    if (this.registered)
      this.stream?.send({ seq: 0, body: { $case: "draining", value: { reason: this.stopping !== null ? "agent stopping" : "agent draining" } } });
  }

  private onClosed(reason: string, code?: GrpcStatus, leaderHint?: string): void {
    this.stream = null;
    this.registered = false;
    this.logServer.cancelAll();
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.registerTimer);
    this.reports.notify();
    if (this.stopping !== null) return;
    // Refused credentials go through the same growing backoff (reset only by `registered`): a bad
    // token is retried ever more slowly, never in a loop, and works once the master accepts it.
    const master = this.picker.current;
    // A standby that knows no leader yet (a failover is under way) is alive and will either lead or
    // name the leader within a lease: worth asking again soon rather than backing off.
    const standbyWithoutLeader = code === GrpcStatus.UNAVAILABLE && leaderHint === undefined && STANDBY_REFUSAL.test(reason);
    const next = this.picker.afterClose(leaderHint, standbyWithoutLeader);
    this.setPhase("backoff");
    const fields = { master, reason, next: next.address, why: next.why, delayMs: next.delayMs, running: this.executor.runningCount() };
    if (code === GrpcStatus.UNAUTHENTICATED || code === GrpcStatus.PERMISSION_DENIED) {
      const hint =
        code === GrpcStatus.UNAUTHENTICATED
          ? "the master did not accept the agent's token (missing, malformed, unknown or revoked)"
          : "the master accepted the agent's token but it may not connect as this worker (check its role and project)";
      this.log("error", "master refused the agent; retrying with backoff", { ...fields, hint });
    } else if (leaderHint !== undefined) {
      this.log("info", "master is not the leader; following its leader hint", fields);
    } else {
      this.log("warn", "master stream closed; reconnecting", fields);
    }
    this.reconnectTimer = setTimeout(() => this.connect(), next.delayMs);
  }

  private async shutdown(): Promise<void> {
    this.startDraining();
    this.setPhase("stopping");
    clearTimeout(this.reconnectTimer);
    // LOST, not CANCELED: nobody asked to cancel these tasks; the master should run them again.
    await this.executor.cancelAll(this.config.stopGraceMs, AttemptOutcome.ATTEMPT_OUTCOME_LOST, "agent stopped");
    this.lease.stop();
    await this.executor.logs.dispose().catch((err) => this.log("warn", "could not remove the temporary log directory", { error: String(err) }));
    // Give the master a moment to commit the last results (they are spooled in any case).
    await this.reports.whenFinishedAcked(this.config.stopAckWaitMs, () => !this.registered);
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.registerTimer);
    const stream = this.stream;
    this.stream = null;
    this.registered = false;
    this.logServer.cancelAll();
    await stream?.end();
    await this.spans.shutdown();
    this.failReady(new Error("agent stopped before it registered"));
    this.setPhase("stopped");
    this.log("info", "stopped", {});
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

/** Whether a host:port names this machine (a token sent there in plaintext does not leave it). */
function isLoopback(address: string): boolean {
  const colon = address.lastIndexOf(":");
  const host = (colon > 0 && !address.endsWith("]") ? address.slice(0, colon) : address).replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}
