// One agent's WorkerService.Connect stream. Explicit lifecycle: awaiting_register -> registered ->
// closed; once registered, the session is its worker's link (master/worker.ts), and its close is
// reported to that worker. Messages are handled strictly in arrival order (a promise chain), so
// "started" is always processed before "finished" of the same attempt. A malformed or
// out-of-order message ends this session with INVALID_ARGUMENT; it never throws into the master.
//
// Reports carry sequence numbers; once a report's commit finished (or it was found stale) and so
// did every earlier one, a ReportAck tells the agent it may forget them. Heartbeats are answered at
// once: that answer renews the agent's lease on its attempts (agent/attempt-lease.ts).
import { status, type ServerDuplexStream } from "@grpc/grpc-js";
import { type Caller, workerIdAllowed } from "../src/core/access.js";
import { PermissionDeniedError, ProtocolError, TaskgridError } from "../src/core/errors.js";
import type { AgentMessage, MasterMessage } from "../src/gen/taskgrid/v1/worker_service.js";
import { resultFromProto, telemetryFromProto } from "./convert/from-proto.js";
import { registrationFromProto } from "./convert/registration.js";
import { escapeNul, hasNul } from "../src/core/text-rules.js";
import type { Clock } from "./clock.js";
import { toServiceError } from "./grpc-errors.js";
import type { Logger } from "./logger.js";
import type { TaskLifecycle } from "./task-lifecycle.js";
import type { SessionEndError, WorkerEntity } from "./worker.js";
import type { WorkerRegistry } from "./worker-registry.js";

export type SessionPhase = "awaiting_register" | "registered" | "closed";

/** Reports of one agent that may wait for their commit before its stream is paused. */
export const MAX_UNCOMMITTED = 4096;

export interface SessionDeps {
  /** Registers the worker for this session: refuses another agent's worker id, commits, links. */
  workers: Pick<WorkerRegistry, "register"> & Partial<Pick<WorkerRegistry, "logs">>;
  lifecycle: TaskLifecycle;
  clock: Clock;
  log: Logger;
  heartbeatIntervalMs: number;
  /** Lease granted to the agent on its attempts, and its SIGTERM -> SIGKILL grace (see MasterConfig). */
  leaseMs: number;
  leaseGraceMs: number;
  /** Leadership epoch of the term this session belongs to; the agent refuses a lower one than it has seen. */
  epoch: number;
}

export class AgentSession {
  phase: SessionPhase = "awaiting_register";
  workerId = "";
  /** The worker this session registered as (set with phase "registered"); its link is this session. */
  private worker: Pick<WorkerEntity, "heartbeat" | "agentDrains" | "sessionClosed"> | null = null;
  private chain: Promise<void> = Promise.resolve();
  /** Sequenced reports in arrival order whose handling has not finished, oldest first. */
  private readonly unacked: Array<{ seq: number; done: boolean }> = [];
  private ackedSeq = 0;
  private ackScheduled = false;
  /** Reports applied to memory whose commit has not finished yet (see dispatch). */
  private uncommitted = 0;

  constructor(
    private readonly call: ServerDuplexStream<AgentMessage, MasterMessage>,
    private readonly deps: SessionDeps,
    /** Who connected (the agent's token): which worker ids it may register as, and the actor of its reports. */
    readonly caller: Caller,
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

  get open(): boolean {
    return this.phase !== "closed";
  }

  /** Ends the stream: cleanly (status OK) when `error` is null. */
  close(error: SessionEndError | null): void {
    if (this.phase === "closed") return;
    this.phase = "closed";
    this.worker?.sessionClosed(this);
    this.deps.workers.logs?.sessionClosed(this);
    try {
      if (error) this.call.emit("error", error);
      else this.call.end();
    } catch {
      // The transport is already gone; nothing more to tell the agent.
    }
  }

  get peer(): string {
    try {
      return this.call.getPeer();
    } catch {
      return "unknown peer";
    }
  }

  private fail(err: unknown): void {
    if (err instanceof TaskgridError) this.deps.log.warn("agent session refused or ended", { worker: this.workerId, error: err.message });
    const { code, details } = toServiceError(err, this.deps.log, "agent session");
    this.close({ code: code ?? status.INTERNAL, details: details ?? "internal error" });
  }

  /** Marks a sequenced report handled; acks the longest handled prefix (one ack per event-loop turn). */
  private tracked(seq: number): () => void {
    if (!(seq > 0)) return () => {};
    const entry = { seq, done: false };
    this.unacked.push(entry);
    return () => {
      entry.done = true;
      let advanced = false;
      while (this.unacked.length > 0 && this.unacked[0].done) {
        this.ackedSeq = Math.max(this.ackedSeq, this.unacked.shift()!.seq);
        advanced = true;
      }
      if (!advanced || this.ackScheduled) return;
      this.ackScheduled = true;
      setImmediate(() => {
        this.ackScheduled = false;
        this.send({ body: { $case: "ack", value: { seq: this.ackedSeq } } });
      });
    };
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
    const handled = this.tracked(msg.seq);
    const committed = () => {
      if (this.uncommitted-- === MAX_UNCOMMITTED) this.call.resume();
    };
    this.handle(msg).then(
      () => (committed(), handled()),
      (err) => (committed(), this.fail(err)),
    );
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
    const { lifecycle, clock } = this.deps;
    const worker = this.worker!;
    worker.heartbeat(null);
    switch (body.$case) {
      case "register":
        throw new ProtocolError("register sent twice on one stream");
      case "heartbeat":
        worker.heartbeat(telemetryFromProto(body.value.telemetry, clock.now()));
        if (body.value.seq > 0) this.send({ body: { $case: "heartbeatAck", value: { seq: body.value.seq } } });
        return;
      case "draining":
        this.deps.log.info("agent asked to drain", { worker: this.workerId, reason: body.value.reason });
        await worker.agentDrains();
        return;
      case "started":
        requireAttemptId(body.value.attemptId, "started.attempt_id");
        return lifecycle.attemptStarted(this.workerId, body.value.attemptId, body.value.startedAt?.getTime() ?? clock.now(), this.caller.actor);
      case "progress":
        requireAttemptId(body.value.attemptId, "progress.attempt_id");
        if (!Number.isFinite(body.value.percent)) throw new ProtocolError("progress.percent must be a finite number");
        return lifecycle.attemptProgress(
          this.workerId,
          body.value.attemptId,
          body.value.percent,
          escapeNul(body.value.message).slice(0, 1024),
          this.caller.actor,
        );
      case "finished": {
        requireAttemptId(body.value.attemptId, "finished.attempt_id");
        const result = resultFromProto(body.value.result, "finished.result");
        return lifecycle.attemptFinished(this.workerId, body.value.attemptId, result, body.value.finishedAt?.getTime() ?? clock.now(), this.caller.actor);
      }
      case "paused":
        return; // The master records PAUSED/RUNNING when it sends the signal; this is the agent's ack.
      case "logChunk":
        // Not a report: routed to the log read that asked (log-relay.ts), nothing is committed.
        this.deps.workers.logs?.chunk(this, body.value);
        return;
    }
  }

  private async register(message: Extract<AgentMessage["body"], { $case: "register" }>["value"]): Promise<void> {
    const reg = registrationFromProto(message);
    if (!workerIdAllowed(this.caller.workerPattern, reg.workerId)) {
      throw new PermissionDeniedError(
        `this token may register only worker ids matching ${JSON.stringify(this.caller.workerPattern)}, not ${JSON.stringify(reg.workerId)}`,
      );
    }
    // Refused while another agent's session of the worker id is open (a reconnect of the same
    // agent process with the same token replaces its old one); committed before it is schedulable.
    this.workerId = reg.workerId;
    const { worker, killAttemptIds, lostAttemptIds } = await this.deps.workers.register(this, reg);
    if (this.phase === "closed") return;
    this.worker = worker;
    this.phase = "registered";
    const { heartbeatIntervalMs, leaseMs, leaseGraceMs, epoch } = this.deps;
    this.send({ body: { $case: "registered", value: { workerId: this.workerId, heartbeatIntervalMs, killAttemptIds, leaseMs, leaseGraceMs, epoch } } });
    // After `registered` (an agent acts on nothing before it): log follows that lost this worker's previous stream go on here.
    this.deps.workers.logs?.sessionOpened(this.workerId, this);
    if (lostAttemptIds.length > 0) await this.deps.lifecycle.workerLost(this.workerId, lostAttemptIds, "worker re-registered without this attempt");
  }
}

function requireAttemptId(id: string, field: string): void {
  if (!id) throw new ProtocolError(`${field} is required`);
  if (id.length > 128 || hasNul(id)) throw new ProtocolError(`${field}: at most 128 characters, without NUL`);
}
