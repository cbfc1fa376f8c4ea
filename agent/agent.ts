// The agent: one WorkerService.Connect stream to the master (register, heartbeat, reports up;
// assign and control down), the attempts (attempts.ts: assignments and control messages to the
// executor, its events back as reports), and the probes behind telemetry.
// Lifecycle: starting -> connecting -> registered -> (backoff -> connecting -> registered)* ->
// stopping -> stopped. Running children survive a lost stream for as long as the lease allows
// (lease-keeper.ts). Every report is kept until the master acknowledges its commit and is sent
// again after a reconnect; `finished` reports also survive a restart of the agent (report-channel.ts).
// With several masters (HA), each connect goes to the address master-picker.ts chooses (following
// a standby's leader hint), and a `registered` from a deposed leader (an older leadership epoch
// than one already seen) is refused: to the agent a leader change is just a reconnect.
import { randomUUID } from "node:crypto";
import type { ChannelCredentials, status as GrpcStatus } from "@grpc/grpc-js";
import type { AgentMessage, MasterMessage, Register, Registered } from "../src/gen/taskgrid/v1/worker_service.js";
import { agentCredentials, resolveAgentConfig, type AgentConfig, type AgentOptions, type AgentPhase } from "./agent-config.js";
import { attemptIdOf } from "./agent-messages.js";
import { LeaseKeeper } from "./lease-keeper.js";
import { ReportChannel } from "./report-channel.js";
import { Backoff } from "./backoff.js";
import { MasterStream } from "./connection.js";
import { MasterPicker } from "./master-picker.js";
import { AttemptSpans } from "./attempt-spans.js";
import { Attempts } from "./attempts.js";
import type { Executor } from "./executor.js";
import { LogServer } from "./log-server.js";
import { closeLogLine, isStandbyWithoutLeader } from "./stream-close.js";
import { GpuProbe } from "./probes/gpu.js";
import { osMemory } from "./probes/memory.js";
import { defaultSources, TelemetrySampler } from "./probes/telemetry.js";
import { AGENT_VERSION } from "./version.js";
import type { AgentHandle } from "./agent-handle.js";

export type { AgentOptions, AgentPhase } from "./agent-config.js";
export type { AgentHandle } from "./agent-handle.js";

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
  /** Assignments, control messages and the executor's reports (attempts.ts). */
  private readonly attempts: Attempts;
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
      this.log("error", "could not write the spool of finished reports (see report-channel.ts)", { attempt, error: String(err) }),
    );
    this.picker = new MasterPicker(config.masters, new Backoff(config.backoff), config.leaderHintDelayMs);
    this.spans = new AttemptSpans(config.workerId, config.now);
    this.attempts = new Attempts({
      config,
      sampler: this.sampler,
      spans: this.spans,
      reports: this.reports,
      leaseChanged: () => this.lease.changed(),
      leaseExpired: () => this.lease.expired(),
      report: (message) => this.report(message),
      refusal: () => (this.draining || this.drainedByOperator ? (this.stopping !== null ? "agent stopping" : "agent draining") : null),
      log: (level, msg, fields) => this.log(level, msg, fields),
    });
    this.executor = this.attempts.executor;
    this.logServer = new LogServer(this.executor.logs, (msg, err) => this.log("warn", msg, { error: String(err) }));
    this.lease = new LeaseKeeper({
      executor: this.executor,
      now: config.now,
      stateDir: config.stateDir,
      python: this.executor.launcher?.python ?? null,
      checkMs: config.leaseCheckMs,
      silenced: this.attempts.silenced,
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
      this.picker.wentSilent();
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
    this.registerTimer = setTimeout(() => {
      this.picker.wentSilent();
      stream.close(`no registered answer within ${this.config.registerTimeoutMs} ms`);
    }, this.config.registerTimeoutMs);
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
    const { config } = this;
    const memoryMib = this.sampler.latest()?.memoryTotalMib || osMemory().totalMib;
    return {
      workerId: config.workerId,
      hostname: config.hostname,
      tags: config.tags,
      running: this.attempts.registered(),
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
        this.attempts.assign(body.value);
        return;
      case "cancel":
      case "preempt":
      case "pause":
      case "resume":
        this.attempts.control(body);
        return;
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
    this.attempts.killNotCurrent(registered.killAttemptIds);
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

  /**
   * Keeps the report until the master acknowledges it (a `finished` one on disk too) and sends it
   * now if a session is registered; otherwise it goes after the next `registered`.
   */
  private report(message: AgentMessage): void {
    const attemptId = attemptIdOf(message);
    if (this.attempts.silenced.has(attemptId)) return;
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
    const master = this.picker.current;
    const next = this.picker.afterClose(leaderHint, isStandbyWithoutLeader(reason, code, leaderHint));
    this.setPhase("backoff");
    const line = closeLogLine(code, leaderHint);
    const fields = { master, reason, next: next.address, why: next.why, delayMs: next.delayMs, running: this.executor.runningCount() };
    this.log(line.level, line.msg, line.hint === undefined ? fields : { ...fields, hint: line.hint });
    this.reconnectTimer = setTimeout(() => this.connect(), next.delayMs);
  }

  private async shutdown(): Promise<void> {
    this.startDraining();
    this.setPhase("stopping");
    clearTimeout(this.reconnectTimer);
    await this.attempts.stopAll();
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
    this.reports.close();
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
