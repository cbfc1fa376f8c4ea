// The agent: one WorkerService.Connect stream to the master (register, heartbeat, reports up;
// assign and control down), the executor that runs attempts, and the probes behind telemetry.
// Lifecycle: starting -> connecting -> registered -> (backoff -> connecting -> registered)* ->
// stopping -> stopped. Running children survive a lost stream; their reports wait in a bounded
// buffer and are flushed after the next `registered`.
import { AttemptOutcome } from "../src/gen/taskgrid/v1/types.js";
import type { TaskResult } from "../src/gen/taskgrid/v1/task.js";
import type { AgentMessage, Assign, MasterMessage, Register, Registered, RunningAttempt } from "../src/gen/taskgrid/v1/worker_service.js";
import { resolveAgentConfig, type AgentConfig, type AgentOptions, type AgentPhase } from "./agent-config.js";
import { attemptIdOf, finishedMessage } from "./agent-messages.js";
import { Backoff } from "./backoff.js";
import { MasterStream } from "./connection.js";
import { startFailed } from "./attempt-result.js";
import { AttemptSpans } from "./attempt-spans.js";
import { Executor } from "./executor.js";
import { GpuProbe } from "./probes/gpu.js";
import { osMemory } from "./probes/memory.js";
import { defaultSources, TelemetrySampler } from "./probes/telemetry.js";
import { ReportBuffer } from "./report-buffer.js";
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
  private readonly buffer: ReportBuffer;
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
    this.buffer = new ReportBuffer(config.maxBufferedReports);
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
          this.report({ body: { $case: "started", value: { attemptId, pid, startedAt } } }, true);
        },
        progress: (attemptId, percent, message) =>
          this.report({ body: { $case: "progress", value: { attemptId, percent, message } } }, false),
        finished: (attemptId, result, finishedAt) => {
          this.spans.finished(attemptId, result, finishedAt);
          this.reportFinished(attemptId, result, finishedAt);
        },
      },
    });
  }

  start(): void {
    // The first sample discovers the GPUs that Register announces.
    const tracing = this.spans.start(this.config.tracing, (msg, fields) => this.log("warn", msg, fields));
    void Promise.all([this.sampler.tick(), tracing]).then(() => this.connect());
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  async drain(timeoutMs = this.config.drainTimeoutMs): Promise<void> {
    this.draining = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.executor.whenIdle(), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  heartbeatTick(): void {
    if (!this.registered || !this.stream) return;
    const sample = this.sampler.latest();
    const telemetry = sample ? { ...sample, runningAttempts: this.executor.runningCount() } : undefined;
    this.stream.send({ body: { $case: "heartbeat", value: { telemetry } } });
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
    stream.send({ body: { $case: "register", value: this.registration() } });
    this.registerTimer = setTimeout(() => stream.close(`no registered answer within ${this.config.registerTimeoutMs} ms`), this.config.registerTimeoutMs);
  }

  private registration(): Register {
    const running: RunningAttempt[] = this.executor.running()
      .filter((a) => !this.silenced.has(a.attemptId))
      .map((a) => ({ attemptId: a.attemptId, taskId: a.taskId, startedAt: a.startedAt }));
    // Attempts that ended while disconnected are listed too: the master must keep them current
    // (not end them as LOST) until the buffered `finished` reports, flushed next, arrive.
    for (const attemptId of this.buffer.finishedAttemptIds()) {
      const info = this.attemptInfo.get(attemptId);
      if (info && !running.some((r) => r.attemptId === attemptId)) running.push({ attemptId, ...info });
    }
    const { config } = this;
    const memoryMib = this.sampler.latest()?.memoryTotalMib || osMemory().totalMib;
    return {
      workerId: config.workerId, hostname: config.hostname, tags: config.tags, running, agentVersion: AGENT_VERSION,
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
        if (done) this.report({ body: { $case: "paused", value: { attemptId, paused } } }, true);
        else this.log("warn", `${body.$case} for an attempt that is not running`, { attempt: attemptId });
        return;
      }
      case "drain":
        this.draining = true;
        this.log("info", "draining", { reason: body.value.reason });
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
    this.log("info", "registered", { master: this.config.master, killed: registered.killAttemptIds.length });
    const killed = new Set(registered.killAttemptIds);
    for (const attemptId of killed) {
      if (this.executor.cancel(attemptId, this.config.stopGraceMs, AttemptOutcome.ATTEMPT_OUTCOME_CANCELED, "not current on the master")) {
        this.silenced.add(attemptId);
      }
    }
    for (const report of this.buffer.takeAll()) {
      const attemptId = attemptIdOf(report);
      if (killed.has(attemptId) || this.silenced.has(attemptId)) this.attemptInfo.delete(attemptId);
      else this.report(report, true);
    }
    if (this.buffer.dropped > 0) this.log("warn", "reports were dropped while disconnected", { dropped: this.buffer.dropped });
    const intervalMs = registered.heartbeatIntervalMs > 0 ? registered.heartbeatIntervalMs : this.config.heartbeatIntervalMs;
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => this.heartbeatTick(), intervalMs);
    this.heartbeatTick();
    this.markReady();
  }

  private onAssign(assign: Assign): void {
    const { attemptId, taskId } = assign;
    if (this.draining) {
      this.report(finishedMessage(attemptId, startFailed(this.stopping ? "agent stopping" : "draining"), new Date(this.config.now())), true);
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
    this.log("info", "attempt finished", { attempt: attemptId, outcome: AttemptOutcome[result.outcome], exitCode: result.exitCode });
    this.report(finishedMessage(attemptId, result, finishedAt), true);
  }

  /** Sends a report on the registered stream, else buffers it (`buffer`) or drops it (progress). */
  private report(message: AgentMessage, buffer: boolean): void {
    const attemptId = attemptIdOf(message);
    if (this.silenced.has(attemptId)) return;
    if (this.registered && this.stream?.send(message)) {
      if (message.body?.$case === "finished") this.attemptInfo.delete(attemptId);
      return;
    }
    if (buffer) this.buffer.push(message);
  }

  private onClosed(reason: string): void {
    this.stream = null;
    this.registered = false;
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.registerTimer);
    if (this.stopping) return;
    const delayMs = this.backoff.next();
    this.setPhase("backoff");
    this.log("warn", "master stream closed; reconnecting", { reason, delayMs, running: this.executor.runningCount() });
    this.reconnectTimer = setTimeout(() => this.connect(), delayMs);
  }

  private async shutdown(): Promise<void> {
    this.draining = true;
    this.setPhase("stopping");
    clearTimeout(this.reconnectTimer);
    // LOST, not CANCELED: nobody asked to cancel these tasks; the master should run them again.
    await this.executor.cancelAll(this.config.stopGraceMs, AttemptOutcome.ATTEMPT_OUTCOME_LOST, "agent stopped");
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

  private setPhase(phase: AgentPhase): void {
    if (phase === this.currentPhase) return;
    this.currentPhase = phase;
    this.config.onPhase(phase);
  }

  private log(level: "info" | "warn" | "error", msg: string, fields: Record<string, unknown>): void {
    this.config.logger[level](msg, fields);
  }
}
