// One agent's WorkerService.Connect stream. Explicit lifecycle: awaiting_register -> registered ->
// closed. Messages are handled strictly in arrival order (a promise chain), so "started" is always
// processed before "finished" of the same attempt. A malformed or out-of-order message ends this
// session with INVALID_ARGUMENT; it never throws into the master.
import { status, type ServerDuplexStream } from "@grpc/grpc-js";
import { ProtocolError, TaskgridError } from "../src/core/errors.js";
import type { AgentMessage, MasterMessage } from "../src/gen/taskgrid/v1/worker_service.js";
import { capacityFromProto, resultFromProto, telemetryFromProto } from "./convert/from-proto.js";
import type { Clock } from "./clock.js";
import type { Logger } from "./logger.js";
import type { TaskLifecycle } from "./task-lifecycle.js";
import type { WorkerRegistry } from "./worker-registry.js";

export type SessionPhase = "awaiting_register" | "registered" | "closed";

const WORKER_ID = /^[A-Za-z0-9._-]{1,128}$/;
/** Reports of one agent that may wait for their commit before its stream is paused. */
export const MAX_UNCOMMITTED = 4096;

export interface SessionDeps {
  registry: WorkerRegistry;
  lifecycle: TaskLifecycle;
  clock: Clock;
  log: Logger;
  heartbeatIntervalMs: number;
  /** Called once registered: the registry of open sessions takes it (replacing an older one). */
  attach(session: AgentSession): void;
  detach(session: AgentSession): void;
}

export class AgentSession {
  phase: SessionPhase = "awaiting_register";
  workerId = "";
  /** The worker registry's registration epoch of this session (see WorkerRegistry.sessionClosed). */
  epoch = 0;
  private chain: Promise<void> = Promise.resolve();
  /** Reports applied to memory whose commit has not finished yet (see dispatch). */
  private uncommitted = 0;

  constructor(
    private readonly call: ServerDuplexStream<AgentMessage, MasterMessage>,
    private readonly deps: SessionDeps,
  ) {
    call.on("data", (msg: AgentMessage) => {
      this.chain = this.chain.then(() => this.dispatch(msg)).catch((err) => this.fail(err));
    });
    call.on("end", () => this.close(null));
    call.on("error", () => this.close(null));
    call.on("cancelled", () => this.close(null));
  }

  send(message: MasterMessage): boolean {
    if (this.phase === "closed") return false;
    this.call.write(message);
    return true;
  }

  /** Ends the stream: cleanly (status OK) when `error` is null. */
  close(error: { code: status; details: string } | null): void {
    if (this.phase === "closed") return;
    const wasRegistered = this.phase === "registered";
    this.phase = "closed";
    if (wasRegistered) this.deps.detach(this);
    try {
      if (error) this.call.emit("error", error);
      else this.call.end();
    } catch {
      // The transport is already gone; nothing more to tell the agent.
    }
  }

  private fail(err: unknown): void {
    const details = err instanceof TaskgridError ? err.message : "internal error";
    if (!(err instanceof TaskgridError)) this.deps.log.error("agent session failed", { worker: this.workerId, error: String(err) });
    else this.deps.log.warn("agent session ended: protocol error", { worker: this.workerId, error: details });
    this.close({ code: status.INVALID_ARGUMENT, details });
  }

  /**
   * Until registered, each message waits for the previous one to finish (register commits the
   * worker first). After that, each report is applied to memory at once, in arrival order, and its
   * commit is not awaited before the next message is read: the store group-commits writes in the
   * order they were made, and waiting one commit per report would cap an agent at one report per
   * commit. At most MAX_UNCOMMITTED reports wait for their commit; then the stream is paused
   * (HTTP/2 flow control holds the agent back) until they drain.
   */
  private dispatch(msg: AgentMessage): Promise<void> | undefined {
    if (this.phase !== "registered") return this.handle(msg);
    if (++this.uncommitted === MAX_UNCOMMITTED) this.call.pause();
    const committed = () => {
      if (this.uncommitted-- === MAX_UNCOMMITTED) this.call.resume();
    };
    this.handle(msg).then(committed, (err) => (committed(), this.fail(err)));
    return undefined;
  }

  private async handle(msg: AgentMessage): Promise<void> {
    if (this.phase === "closed") return;
    const body = msg.body;
    if (!body) throw new ProtocolError("agent message has no body");
    if (this.phase === "awaiting_register") {
      if (body.$case !== "register") throw new ProtocolError(`first message must be register, got ${body.$case}`);
      return this.register(body.value);
    }
    const { registry, lifecycle, clock } = this.deps;
    registry.heartbeat(this.workerId, null);
    switch (body.$case) {
      case "register":
        throw new ProtocolError("register sent twice on one stream");
      case "heartbeat":
        registry.heartbeat(this.workerId, telemetryFromProto(body.value.telemetry, clock.now()));
        return;
      case "started":
        requireAttemptId(body.value.attemptId, "started.attempt_id");
        return lifecycle.attemptStarted(this.workerId, body.value.attemptId, body.value.startedAt?.getTime() ?? clock.now());
      case "progress":
        requireAttemptId(body.value.attemptId, "progress.attempt_id");
        if (!Number.isFinite(body.value.percent)) throw new ProtocolError("progress.percent must be a finite number");
        return lifecycle.attemptProgress(this.workerId, body.value.attemptId, body.value.percent, body.value.message.slice(0, 1024));
      case "finished": {
        requireAttemptId(body.value.attemptId, "finished.attempt_id");
        const result = resultFromProto(body.value.result, "finished.result");
        return lifecycle.attemptFinished(this.workerId, body.value.attemptId, result, body.value.finishedAt?.getTime() ?? clock.now());
      }
      case "paused":
        return; // The master records PAUSED/RUNNING when it sends the signal; this is the agent's ack.
    }
  }

  private async register(reg: Extract<AgentMessage["body"], { $case: "register" }>["value"]): Promise<void> {
    if (!WORKER_ID.test(reg.workerId)) throw new ProtocolError("register.worker_id must be 1..128 characters of [A-Za-z0-9._-]");
    const capacity = capacityFromProto(reg.capacity, "register.capacity");
    this.workerId = reg.workerId;
    const { epoch, killAttemptIds, afterRegistered } = await this.deps.registry.register({
      workerId: reg.workerId,
      hostname: reg.hostname,
      tags: reg.tags.filter((t) => t.length > 0),
      capacity,
      agentVersion: reg.agentVersion,
      runningAttemptIds: reg.running.map((r) => r.attemptId),
    });
    this.epoch = epoch;
    if (this.phase === "closed") return;
    this.phase = "registered";
    this.deps.attach(this);
    this.send({ body: { $case: "registered", value: { workerId: this.workerId, heartbeatIntervalMs: this.deps.heartbeatIntervalMs, killAttemptIds } } });
    await afterRegistered();
  }
}

function requireAttemptId(id: string, field: string): void {
  if (!id) throw new ProtocolError(`${field} is required`);
}
