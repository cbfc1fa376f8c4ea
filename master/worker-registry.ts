// Worker membership: registration (with reconciliation of the attempts an agent still runs),
// heartbeats, status changes and liveness (ONLINE -> SUSPECT -> OFFLINE). Owns the in-memory worker
// slots; persists status changes (not every heartbeat) through the store.
import type { Capacity, Telemetry, Worker, WorkerStatus } from "../src/core/types.js";
import { newWorkerSlot, type WorkerSlot } from "../src/core/worker-slot.js";
import type { Store } from "../src/store/store-types.js";
import type { Clock } from "./clock.js";
import type { Logger } from "./logger.js";
import type { MasterState } from "./state.js";
import type { TaskLifecycle } from "./task-lifecycle.js";

export interface RegistryDeps {
  state: MasterState;
  store: Store;
  clock: Clock;
  lifecycle: TaskLifecycle;
  log: Logger;
  suspectAfterMs: number;
  offlineAfterMs: number;
  onCapacityChange: () => void;
  /** Ends the worker's open session, if any (used when it goes OFFLINE). */
  closeSession: (workerId: string, reason: string) => void;
}

export interface Registration {
  workerId: string;
  hostname: string;
  tags: string[];
  capacity: Capacity;
  agentVersion: string;
  runningAttemptIds: string[];
  /** The agent process (Register.instance_id); "" when the agent does not say. */
  instanceId?: string;
}

export class WorkerRegistry {
  /** Workers an operator asked to drain; they stay DRAINING across heartbeats and reconnects. */
  private readonly draining = new Set<string>();
  /**
   * Workers whose agent process said it drains (it is stopping), by that process's instance id:
   * they stay DRAINING across its reconnects, but a new agent process on the worker starts ONLINE.
   */
  private readonly agentDraining = new Map<string, string>();
  /** Instance id of each worker's latest registration. */
  private readonly instances = new Map<string, string>();
  /**
   * Registration count per worker. A session remembers the epoch it registered with, so the late
   * close of a replaced stream cannot mark the worker SUSPECT under its newer session.
   */
  private readonly epochs = new Map<string, number>();

  constructor(private readonly deps: RegistryDeps) {}

  /**
   * Registers (or re-registers) a worker. Returns the attempts the agent reported that are not
   * current any more (it must kill them). Attempts the master placed there that the agent did not
   * report are ended as LOST once the returned `afterRegistered` callback runs.
   */
  async register(r: Registration): Promise<{ epoch: number; killAttemptIds: string[]; afterRegistered: () => Promise<void> }> {
    const { state, clock } = this.deps;
    const now = clock.now();
    const existing = state.slots.get(r.workerId);
    const worker: Worker = {
      id: r.workerId,
      hostname: r.hostname,
      tags: r.tags,
      capacity: r.capacity,
      status: this.isDraining(r.workerId, r.instanceId ?? "") ? "DRAINING" : "ONLINE",
      agentVersion: r.agentVersion,
      registeredAtMs: existing?.worker.registeredAtMs ?? now,
      lastSeenAtMs: now,
      telemetry: existing?.worker.telemetry ?? null,
      deadlineMisses: existing?.worker.deadlineMisses ?? 0,
    };
    // Commit first: a worker the database does not know is never schedulable, and a failed upsert
    // (a database blip) leaves memory as it was and ends the session; the agent retries.
    await this.deps.store.write([{ kind: "upsert_worker", worker }]);
    const epoch = (this.epochs.get(r.workerId) ?? 0) + 1;
    this.epochs.set(r.workerId, epoch);
    this.instances.set(r.workerId, r.instanceId ?? "");
    let slot: WorkerSlot;
    if (existing) {
      // Keep allocations of attempts that are still running there; refresh what the agent says it has.
      slot = existing;
      slot.worker = worker;
      slot.tagSet = new Set(worker.tags);
    } else {
      slot = newWorkerSlot(worker);
      state.slots.set(worker.id, slot);
    }
    const reported = new Set(r.runningAttemptIds);
    const killAttemptIds = r.runningAttemptIds.filter((id) => state.liveAttempts.get(id)?.workerId !== r.workerId);
    const lostAttemptIds = [...slot.allocations.keys()].filter((id) => !reported.has(id));
    this.deps.log.info("worker registered", { worker: worker.id, readopted: reported.size - killAttemptIds.length, lost: lostAttemptIds.length, killed: killAttemptIds.length });
    return {
      epoch,
      killAttemptIds,
      afterRegistered: async () => {
        if (lostAttemptIds.length > 0) await this.deps.lifecycle.workerLost(r.workerId, lostAttemptIds, "worker re-registered without this attempt");
        this.deps.onCapacityChange();
      },
    };
  }

  heartbeat(workerId: string, telemetry: Telemetry | null): void {
    const slot = this.deps.state.slots.get(workerId);
    if (!slot) return;
    slot.worker.lastSeenAtMs = this.deps.clock.now();
    if (telemetry) slot.worker.telemetry = telemetry;
    if (slot.worker.status === "SUSPECT") this.setStatusInBackground(slot, this.isDraining(workerId, this.instances.get(workerId) ?? "") ? "DRAINING" : "ONLINE");
  }

  /** The worker's stream closed: no new work until it reconnects (DESIGN §2: no zombie workers). */
  sessionClosed(workerId: string, epoch: number): void {
    if (this.epochs.get(workerId) !== epoch) return; // a newer session has registered since
    const slot = this.deps.state.slots.get(workerId);
    if (slot && slot.worker.status !== "OFFLINE") this.setStatusInBackground(slot, "SUSPECT");
  }

  /** Whether the worker takes no new work: an operator drained it, or its current agent process drains. */
  private isDraining(workerId: string, instanceId: string): boolean {
    if (this.draining.has(workerId)) return true;
    const drainingInstance = this.agentDraining.get(workerId);
    return drainingInstance !== undefined && drainingInstance === instanceId;
  }

  /** The worker's agent process says it drains (it is stopping): no new work for this process. */
  async agentDrains(workerId: string): Promise<void> {
    const slot = this.deps.state.slots.get(workerId);
    if (!slot) return;
    this.agentDraining.set(workerId, this.instances.get(workerId) ?? "");
    if (slot.worker.status === "ONLINE") await this.setStatus(slot, "DRAINING");
  }

  /** An operator drains the worker: it stays DRAINING until undrained (across agent restarts too). */
  async drain(workerId: string): Promise<WorkerSlot | null> {
    const slot = this.deps.state.slots.get(workerId);
    if (!slot) return null;
    this.draining.add(workerId);
    if (slot.worker.status === "ONLINE") await this.setStatus(slot, "DRAINING");
    return slot;
  }

  /** For callers that cannot wait: a failed write is logged (the next status change writes again). */
  private setStatusInBackground(slot: WorkerSlot, status: WorkerStatus): void {
    this.setStatus(slot, status).catch((err) => this.deps.log.error("could not record a worker status", { worker: slot.worker.id, status, error: String(err) }));
  }

  private async setStatus(slot: WorkerSlot, status: WorkerStatus): Promise<void> {
    if (slot.worker.status === status) return;
    this.deps.log.info("worker status", { worker: slot.worker.id, from: slot.worker.status, to: status });
    slot.worker.status = status;
    if (status === "ONLINE") this.deps.onCapacityChange();
    await this.deps.store.write([{ kind: "update_worker_status", workerId: slot.worker.id, status, lastSeenAtMs: slot.worker.lastSeenAtMs }]);
  }

  /** Liveness pass: SUSPECT after suspectAfterMs without a message, OFFLINE (attempts LOST) after offlineAfterMs. */
  async tick(): Promise<void> {
    const now = this.deps.clock.now();
    for (const slot of this.deps.state.slots.values()) {
      const silentMs = now - slot.worker.lastSeenAtMs;
      const status = slot.worker.status;
      if (status === "OFFLINE") continue;
      if (silentMs >= this.deps.offlineAfterMs) {
        this.deps.closeSession(slot.worker.id, "no heartbeat: worker is OFFLINE");
        await this.setStatus(slot, "OFFLINE");
        const attempts = [...slot.allocations.keys()];
        if (attempts.length > 0) await this.deps.lifecycle.workerLost(slot.worker.id, attempts, `worker ${slot.worker.id} went OFFLINE`);
      } else if (silentMs >= this.deps.suspectAfterMs && status !== "SUSPECT") {
        await this.setStatus(slot, "SUSPECT");
      }
    }
  }
}
