// The workers by id (one WorkerEntity each, see worker.ts), and what is done to them as a whole:
// registration (with reconciliation of the attempts an agent still runs), an operator's drain, the
// liveness pass, and the commands to agents (WorkerCommands: sent down the worker's open stream).
// Each worker's slot is also in MasterState.slots, the view the dispatcher plans over.
import type { Attempt, Task, Worker } from "../src/core/types.js";
import { assignedSpecToProto } from "./convert/to-proto.js";
import type { MasterState } from "./state.js";
import type { WorkerCommands } from "./worker-commands.js";
import type { AgentRegistration } from "./convert/registration.js";
import { KeyedSerializer } from "./keyed-serializer.js";
import { LogRelay } from "./log-relay.js";
import { newWorkerRecord, type SessionEndError, type WorkerContext, WorkerEntity, type WorkerSession } from "./worker.js";

export interface RegistryDeps extends WorkerContext {
  state: MasterState;
}

export interface Registered {
  worker: WorkerEntity;
  /** The worker's registration count with this master, this one included. */
  epoch: number;
  /** Attempts the agent reported that are not current any more: it must kill them. */
  killAttemptIds: string[];
  /** Attempts the master placed there that the agent did not report: the caller ends them as LOST. */
  lostAttemptIds: string[];
}

export class WorkerRegistry implements WorkerCommands {
  private readonly workers = new Map<string, WorkerEntity>();
  /**
   * Registrations and drains, one at a time per worker: each is planned from the row the previous
   * one committed (and a second agent is checked against the session the first one linked). Other
   * workers' changes run concurrently and share commits.
   */
  private readonly serial = new KeyedSerializer();
  /** Log reads relayed through the workers' sessions (TaskService.StreamLogs). */
  readonly logs = new LogRelay();

  constructor(private readonly deps: RegistryDeps) {}

  /** How long a worker may be silent before it is OFFLINE (and its attempts lost). */
  get offlineAfterMs(): number {
    return this.deps.offlineAfterMs;
  }

  get(workerId: string): WorkerEntity | undefined {
    return this.workers.get(workerId);
  }

  all(): IterableIterator<WorkerEntity> {
    return this.workers.values();
  }

  /**
   * A worker row loaded on master start. It comes back SUSPECT (OFFLINE stays OFFLINE) with a fresh
   * "last seen", so its agent has the whole OFFLINE threshold to re-register; an operator's drain
   * comes back with it.
   */
  /**
   * A worker rebuilt from the database. `graceMs` postpones its liveness verdicts beyond the usual
   * thresholds (a new leader waits for agents that a deposed one may still hold, see outageHoldMs).
   */
  restore(record: Worker, nowMs: number, graceMs = 0): WorkerEntity {
    const worker = new WorkerEntity(this.deps, { ...record, status: record.status === "OFFLINE" ? "OFFLINE" : "SUSPECT", lastSeenAtMs: nowMs });
    worker.holdLivenessUntil(nowMs + graceMs);
    return this.add(worker);
  }

  private add(worker: WorkerEntity): WorkerEntity {
    this.workers.set(worker.id, worker);
    this.deps.state.slots.set(worker.id, worker.slot);
    return worker;
  }

  /**
   * Registers (or re-registers) a worker for `session`: refused (WorkerConnectedError) while another
   * agent's session of the worker is open. Commits the worker's row, then makes the session the
   * worker's link (when it is still open).
   */
  register(session: WorkerSession, r: AgentRegistration): Promise<Registered> {
    return this.serial.run(r.workerId, async () => {
      const { state, clock, store } = this.deps;
      const existing = this.workers.get(r.workerId);
      existing?.checkTakeover(session, r.instanceId);
      const now = clock.now();
      const record = existing ? existing.registrationRecord(r, now) : newWorkerRecord(r, now, "ONLINE");
      // Commit first: a worker the database does not know is never schedulable, and a failed upsert
      // (a database blip) leaves memory as it was and ends the session; the agent retries.
      await store.write([{ kind: "upsert_worker", worker: record }]);
      const worker = existing ?? this.add(new WorkerEntity(this.deps, record));
      const { epoch, lostAttemptIds } = worker.registered(session, r, record);
      const killAttemptIds = r.runningAttemptIds.filter((id) => state.liveAttempts.get(id)?.workerId !== r.workerId);
      const readopted = new Set(r.runningAttemptIds).size - killAttemptIds.length;
      this.deps.log.info("worker registered", {
        worker: worker.id,
        registration: epoch,
        readopted,
        lost: lostAttemptIds.length,
        killed: killAttemptIds.length,
      });
      return { worker, epoch, killAttemptIds, lostAttemptIds };
    });
  }

  /** An operator drains the worker (see WorkerEntity.drain); null when there is no such worker. */
  async drain(workerId: string, reason: string): Promise<WorkerEntity | null> {
    const worker = this.workers.get(workerId);
    if (!worker) return null;
    await this.serial.run(workerId, () => worker.drain(reason));
    return worker;
  }

  async undrain(workerId: string): Promise<WorkerEntity | null> {
    const worker = this.workers.get(workerId);
    if (!worker) return null;
    await this.serial.run(workerId, () => worker.undrain());
    return worker;
  }

  /** Liveness pass over every worker (see WorkerEntity.checkLiveness): the workers that went OFFLINE now, with their attempts. */
  async tick(): Promise<Array<{ workerId: string; attemptIds: string[] }>> {
    const now = this.deps.clock.now();
    const offline = [];
    for (const worker of this.workers.values()) {
      const attemptIds = await worker.checkLiveness(now);
      if (attemptIds.length > 0) offline.push({ workerId: worker.id, attemptIds });
    }
    return offline;
  }

  /** Ends every open agent stream cleanly (the master is stopping). */
  /** Ends every agent stream: cleanly (null, the master stops) or with `error` (it steps down). */
  closeAll(error: SessionEndError | null = null): void {
    for (const worker of this.workers.values()) worker.closeSession(error);
  }

  assign(workerId: string, task: Task, attempt: Attempt, traceParent = ""): boolean {
    const worker = this.workers.get(workerId);
    if (!worker) return false;
    return worker.send({
      body: {
        $case: "assign",
        value: {
          attemptId: attempt.id,
          taskId: task.id,
          spec: assignedSpecToProto(task),
          gpuIndexes: attempt.gpuIndexes,
          deadline: task.deadlineMs === null ? undefined : new Date(task.deadlineMs),
          attemptNumber: attempt.number,
          traceParent,
        },
      },
    });
  }

  cancel(workerId: string, attemptId: string, graceMs: number, reason: string): void {
    this.workers.get(workerId)?.send({ body: { $case: "cancel", value: { attemptId, graceMs, reason } } });
  }

  preempt(workerId: string, attemptId: string, signal: string, graceMs: number, reason: string): boolean {
    return this.workers.get(workerId)?.send({ body: { $case: "preempt", value: { attemptId, signal, graceMs, reason } } }) ?? false;
  }

  pause(workerId: string, attemptId: string): void {
    this.workers.get(workerId)?.send({ body: { $case: "pause", value: { attemptId } } });
  }

  resume(workerId: string, attemptId: string): void {
    this.workers.get(workerId)?.send({ body: { $case: "resume", value: { attemptId } } });
  }
}
