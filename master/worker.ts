// One worker, as the master knows it: everything about one worker id lives in this object. Its slot
// (the worker's record and the allocations of the attempts placed there, what the pure core plans
// over), its link to the agent (the registered stream, the registration's epoch and the agent
// process's instance id), the operator's drain (in the record, so it is written with the worker's
// row and survives restarts) and the agent's own drain (of one agent process, in memory), and its
// liveness (ONLINE -> SUSPECT -> OFFLINE). The WorkerRegistry is a map of these by id.
//
// Status changes are applied in memory (so the next dispatch decision sees them) and written
// through the store; every heartbeat is not. A registration and an operator's drain are committed
// first and applied after (the registry runs them one at a time per worker).
import { status as grpcStatus, type Metadata } from "@grpc/grpc-js";
import type { Caller } from "../src/core/access.js";
import { FencedError, WorkerConnectedError } from "../src/core/errors.js";
import type { Telemetry, Worker, WorkerStatus } from "../src/core/types.js";
import { newWorkerSlot, type WorkerSlot } from "../src/core/worker-slot.js";
import type { MasterMessage } from "../src/gen/taskgrid/v1/worker_service.js";
import type { Store } from "../src/store/store-types.js";
import type { Clock } from "./clock.js";
import type { AgentRegistration } from "./convert/registration.js";
import type { Logger } from "./logger.js";

/** What a worker needs of its agent's stream (an AgentSession). */
export interface WorkerSession {
  /** Who connected: a takeover needs the same token. */
  readonly caller: Caller;
  readonly peer: string;
  /** False once the stream is closed. */
  readonly open: boolean;
  send(message: MasterMessage): boolean;
  close(error: SessionEndError | null): void;
}

/** How the master ends a session: a status, with metadata such as the leader's address. */
export interface SessionEndError {
  code: grpcStatus;
  details: string;
  metadata?: Metadata;
}

/**
 * The worker's link to its agent. `epoch` numbers the worker's registrations with this master;
 * `instanceId` is the registered agent process (Register.instance_id, "" when it does not say).
 */
export type WorkerLink =
  /** No agent has registered as this worker with this master process: rebuilt from the database, or being created. */
  | { kind: "unregistered" }
  /** A registered stream is open: the one way commands reach the worker. */
  | { kind: "connected"; session: WorkerSession; epoch: number; instanceId: string }
  /** The registered stream closed at `sinceMs`; the worker is SUSPECT (or OFFLINE) until its agent registers again. */
  | { kind: "disconnected"; epoch: number; instanceId: string; sinceMs: number };

/** What every worker object shares. */
export interface WorkerContext {
  store: Store;
  clock: Clock;
  log: Logger;
  suspectAfterMs: number;
  offlineAfterMs: number;
  /** The worker may take work now (joined, or ONLINE again): asks for a dispatch pass. */
  onCapacityChange: () => void;
}

export class WorkerEntity {
  readonly slot: WorkerSlot;
  private linkState: WorkerLink = { kind: "unregistered" };
  /**
   * The agent process that said it drains (it is stopping), by instance id: the worker stays
   * DRAINING across that process's reconnects, but a new agent process on it starts ONLINE.
   */
  private agentDrain: { instanceId: string } | null = null;
  private livenessHeldUntilMs = 0;

  constructor(
    private readonly ctx: WorkerContext,
    record: Worker,
  ) {
    this.slot = newWorkerSlot(record);
  }

  get id(): string {
    return this.slot.worker.id;
  }

  /** The worker's row: what the agent said at registration, status, last seen, telemetry, drain. */
  get record(): Worker {
    return this.slot.worker;
  }

  get link(): WorkerLink {
    return this.linkState;
  }

  /** Whether the worker takes no new work: an operator drained it, or its agent process `instanceId` drains. */
  private drainsWork(instanceId: string): boolean {
    return this.record.drain !== undefined || this.agentDrain?.instanceId === instanceId;
  }

  /**
   * A worker has at most one live session: another agent registering its id is refused. A reconnect
   * may replace the open session only when it comes from the same agent process and with the same
   * token: knowing an instance id is not enough to take a session over.
   */
  checkTakeover(session: WorkerSession, instanceId: string): void {
    const link = this.linkState;
    if (link.kind !== "connected" || link.session === session) return;
    if (link.instanceId === "" || link.instanceId !== instanceId || link.session.caller.tokenId !== session.caller.tokenId) {
      throw new WorkerConnectedError(this.id, link.session.peer);
    }
  }

  /** The row a re-registration commits: what the agent says now, plus what the master keeps (drain included). */
  registrationRecord(r: AgentRegistration, nowMs: number): Worker {
    const { registeredAtMs, telemetry, deadlineMisses, drain } = this.record;
    return {
      ...newWorkerRecord(r, nowMs, this.drainsWork(r.instanceId) ? "DRAINING" : "ONLINE"),
      registeredAtMs,
      telemetry,
      deadlineMisses,
      ...(drain ? { drain } : {}),
    };
  }

  /**
   * The registration's row is committed: it becomes the worker's, and the registering session its
   * link, closing the stream it replaces. Returns the registration's epoch and the attempts the
   * master placed here that the agent did not report (the caller ends them as LOST).
   */
  registered(session: WorkerSession, r: AgentRegistration, record: Worker): { epoch: number; lostAttemptIds: string[] } {
    const now = this.ctx.clock.now();
    const { instanceId } = r;
    // Keep allocations of attempts that are still running there; refresh what the agent says it has.
    this.slot.worker = record;
    this.slot.tagSet = new Set(record.tags);
    this.slot.version++; // its GPUs (and their models) may have changed: derived views recompute
    const previous = this.linkState;
    const epoch = (previous.kind === "unregistered" ? 0 : previous.epoch) + 1;
    if (session.open) {
      this.linkState = { kind: "connected", session, epoch, instanceId };
      // The replaced stream's close, now or late, finds another session in the link: it changes nothing.
      if (previous.kind === "connected" && previous.session !== session) {
        previous.session.close({ code: grpcStatus.ABORTED, details: "replaced by a newer session of the same worker" });
      }
      this.ctx.onCapacityChange();
    } else if (previous.kind !== "connected") {
      // Its stream closed while the registration committed: no new work until it reconnects.
      this.linkState = { kind: "disconnected", epoch, instanceId, sinceMs: now };
      this.setStatusInBackground("SUSPECT");
    } // else the same agent process's older stream is still open and stays the link
    const reported = new Set(r.runningAttemptIds);
    return { epoch, lostAttemptIds: [...this.slot.allocations.keys()].filter((id) => !reported.has(id)) };
  }

  /** Any message from the registered agent: it is alive; a SUSPECT worker takes work again. */
  heartbeat(telemetry: Telemetry | null): void {
    const record = this.record;
    record.lastSeenAtMs = this.ctx.clock.now();
    if (telemetry) record.telemetry = telemetry;
    if (record.status === "SUSPECT") this.setStatusInBackground(this.drainsWork(this.linkedInstance()) ? "DRAINING" : "ONLINE");
  }

  /**
   * The session's stream closed: no new work until the agent reconnects (DESIGN §2: no zombie
   * workers). The close of a stream that is not the link any more (replaced by a newer
   * registration of the same agent process) changes nothing.
   */
  sessionClosed(session: WorkerSession): void {
    const link = this.linkState;
    if (link.kind !== "connected" || link.session !== session) return;
    this.linkState = { kind: "disconnected", epoch: link.epoch, instanceId: link.instanceId, sinceMs: this.ctx.clock.now() };
    if (this.record.status !== "OFFLINE") this.setStatusInBackground("SUSPECT");
  }

  /** The registered agent process says it drains (it is stopping): no new work for this process. */
  async agentDrains(): Promise<void> {
    this.agentDrain = { instanceId: this.linkedInstance() };
    if (this.record.status === "ONLINE") await this.setStatus("DRAINING");
  }

  /**
   * An operator drains the worker: it stays DRAINING until undrained, across agent and master
   * restarts, because the drain is part of the worker's row. The drain is committed, then applied
   * (a failed commit leaves the worker as it was), then the status follows; then the agent is told
   * (it takes no new work either, and hands back what crossed the drain as LOST). Draining a
   * drained worker keeps the first drain's time and reason, and tells the agent again.
   */
  async drain(reason: string): Promise<void> {
    const record = this.record;
    if (record.drain === undefined) {
      const drain = { atMs: this.ctx.clock.now(), reason };
      await this.ctx.store.write([{ kind: "upsert_worker", worker: { ...record, drain } }]);
      record.drain = drain;
      if (record.status === "ONLINE") await this.setStatus("DRAINING");
    }
    this.send({ body: { $case: "drain", value: { reason } } });
  }

  /**
   * Ends an operator's drain: the row loses it, a connected worker is ONLINE again and its agent is
   * told. An agent process that drains because it is stopping keeps the worker DRAINING.
   */
  async undrain(): Promise<void> {
    const record = this.record;
    if (record.drain !== undefined) {
      const { drain: _, ...undrained } = record;
      await this.ctx.store.write([{ kind: "upsert_worker", worker: undrained }]);
      delete record.drain;
    }
    const stopping = this.drainsWork(this.linkedInstance());
    if (record.status === "DRAINING" && !stopping && this.linkState.kind === "connected") await this.setStatus("ONLINE");
    this.send({ body: { $case: "undrain", value: {} } });
  }

  /** Sends to the registered agent; false when no stream is open (the message is not delivered). */
  send(message: MasterMessage): boolean {
    return this.linkState.kind === "connected" && this.linkState.session.send(message);
  }

  /** Silence is counted from this time at the earliest (see WorkerRegistry.restore). */
  holdLivenessUntil(atMs: number): void {
    this.livenessHeldUntilMs = atMs;
  }

  /** Ends the open stream, if any (the master is stopping: `error` null ends it cleanly). */
  closeSession(error: SessionEndError | null): void {
    if (this.linkState.kind === "connected") this.linkState.session.close(error);
  }

  /**
   * Liveness: SUSPECT after suspectAfterMs without a message, OFFLINE after offlineAfterMs (its
   * stream is ended). Returns the attempts of a worker that went OFFLINE now: the caller ends them
   * as LOST.
   */
  async checkLiveness(nowMs: number): Promise<string[]> {
    const silentMs = nowMs - Math.max(this.record.lastSeenAtMs, this.livenessHeldUntilMs);
    const status = this.record.status;
    if (status === "OFFLINE") return [];
    if (silentMs >= this.ctx.offlineAfterMs) {
      this.closeSession({ code: grpcStatus.UNAVAILABLE, details: "no heartbeat: worker is OFFLINE" });
      await this.setStatus("OFFLINE");
      return [...this.slot.allocations.keys()];
    }
    if (silentMs >= this.ctx.suspectAfterMs && status !== "SUSPECT") await this.setStatus("SUSPECT");
    return [];
  }

  private linkedInstance(): string {
    return this.linkState.kind === "unregistered" ? "" : this.linkState.instanceId;
  }

  /** For callers that cannot wait: a failed write is logged (the next status change writes again). */
  private setStatusInBackground(status: WorkerStatus): void {
    this.setStatus(status).catch((err) =>
      // A deposed leader's write: expected while it steps down, not an error of this worker.
      err instanceof FencedError
        ? this.ctx.log.info("worker status not recorded: this master no longer leads", { worker: this.id, status })
        : this.ctx.log.error("could not record a worker status", { worker: this.id, status, error: String(err) }),
    );
  }

  private async setStatus(status: WorkerStatus): Promise<void> {
    if (this.record.status === status) return;
    this.applyStatus(status);
    await this.ctx.store.write([{ kind: "update_worker_status", workerId: this.id, status, lastSeenAtMs: this.record.lastSeenAtMs }]);
  }

  private applyStatus(status: WorkerStatus): void {
    this.ctx.log.info("worker status", { worker: this.id, from: this.record.status, to: status });
    this.record.status = status;
    if (status === "ONLINE") this.ctx.onCapacityChange();
  }
}

/** The row of a worker as a registration describes it. */
export function newWorkerRecord(r: AgentRegistration, nowMs: number, status: WorkerStatus): Worker {
  return {
    id: r.workerId,
    hostname: r.hostname,
    tags: r.tags,
    capacity: r.capacity,
    status,
    agentVersion: r.agentVersion,
    registeredAtMs: nowMs,
    lastSeenAtMs: nowMs,
    telemetry: null,
    deadlineMisses: 0,
  };
}
