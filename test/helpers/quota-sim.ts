// The random worlds of the quota ledger's property test (test/unit/quota-ledger.property.test.ts):
// clusters of workers with GPUs of two models, projects with random quotas (nominal, borrowing and
// lending limits per resource), and tasks, one project submitting most of them. Seeded: a case is
// reproducible from its seed.
import { QuotaLedger } from "../../src/core/fairshare/quota-ledger.js";
import type { DefaultQuota, ProjectQuota } from "../../src/core/fairshare/types.js";
import { int, mulberry32, pick, type Rng } from "../../src/core/random.js";
import type { Gpu, Task, Worker } from "../../src/core/types.js";
import { newWorkerSlot, type WorkerSlot } from "../../src/core/worker-slot.js";
import { task as makeTask } from "./domain.js";

export const MODELS = ["NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-40GB"];
export const RESOURCES = ["cpu", "memory", "gpu", "gpu:h100", "gpu:a100", "tasks"];

export interface Running {
  attemptId: string;
  task: Task;
  slot: WorkerSlot;
  /** Raw model names of the allocated GPUs. */
  models: string[];
  demand: Record<string, number>;
}

export interface Sim {
  r: Rng;
  seed: number;
  step: number;
  slots: WorkerSlot[];
  projects: string[];
  quotas: Map<string, ProjectQuota>;
  defaultQuota: DefaultQuota;
  ledger: QuotaLedger;
  queue: Task[];
  running: Map<string, Running>;
  /** Per "project\0resource": the most that may be in use (nominal + borrowing limit, or the use an edit left above it, ratcheting down). */
  ceilings: Map<string, number>;
  /** Per resource: the most that may be borrowed in all (lendable, or what an edit left above it, ratcheting down). */
  borrowCeilings: Map<string, number>;
  nextAttempt: number;
}

/** A random amount for a resource, in its unit (quarters of cores and GiB keep sums exact). */
export function amount(r: Rng, resource: string, scale: number): number {
  if (resource === "cpu") return int(r, 0, 32 * scale) / 4;
  if (resource === "memory") return int(r, 0, 64 * scale) / 4;
  if (resource === "tasks") return int(r, 0, 4 * scale);
  return int(r, 0, 3 * scale);
}

export function randomLimits(r: Rng): Omit<ProjectQuota, "project"> {
  const nominal: Record<string, number> = {};
  const borrowingLimit: Record<string, number> = {};
  const lendingLimit: Record<string, number> = {};
  for (const resource of RESOURCES) {
    if (r() < 0.5) continue;
    nominal[resource] = amount(r, resource, 1);
    if (r() < 0.5) borrowingLimit[resource] = amount(r, resource, 1);
    if (r() < 0.4) lendingLimit[resource] = Math.min(nominal[resource], amount(r, resource, 1));
  }
  return { nominal, borrowingLimit, lendingLimit };
}

export function randomWorker(r: Rng, i: number): WorkerSlot {
  const gpus: Gpu[] = [];
  const main = pick(r, MODELS);
  for (let g = 0, n = r() < 0.3 ? 0 : int(r, 1, 4); g < n; g++) {
    gpus.push({ index: g, uuid: `G${i}-${g}`, model: r() < 0.8 ? main : pick(r, MODELS), memoryMib: 40960, numaNode: 0 });
  }
  const worker = {
    id: `w${i}`,
    hostname: `h${i}`,
    tags: [],
    capacity: { cpuMillis: int(r, 4, 32) * 1000, memoryMib: int(r, 8, 64) * 1024, maxTasks: int(r, 2, 8), gpus },
    status: "ONLINE",
    agentVersion: "p",
    registeredAtMs: 0,
    lastSeenAtMs: 0,
    telemetry: null,
    deadlineMisses: 0,
  } satisfies Worker;
  return newWorkerSlot(worker);
}

export function randomTask(sim: Sim): Task {
  const r = sim.r;
  // One noisy project submits most of the work, so quotas and borrowing are exercised.
  const project = r() < 0.4 ? sim.projects[0] : pick(r, sim.projects);
  const gpuCount = r() < 0.5 ? 0 : int(r, 1, 2);
  return makeTask({
    project,
    resources: {
      cpuMillis: int(r, 1, 16) * 250,
      memoryMib: int(r, 1, 32) * 256,
      gpuCount,
      gpuModel: gpuCount > 0 ? pick(r, ["", "h100", "a100"]) : "",
      gpuMemoryMib: 0,
    },
  });
}

export function setLedgerQuotas(sim: Sim): void {
  sim.ledger.setQuotas(sim.quotas.values(), sim.defaultQuota);
}

/** A random cluster, projects and quotas for case `seed`, nothing submitted yet (its ceilings not set). */
export function newWorld(seed: number): Sim {
  const r = mulberry32(seed);
  const slots = Array.from({ length: int(r, 2, 5) }, (_, i) => randomWorker(r, i));
  const projects = Array.from({ length: int(r, 3, 6) }, (_, i) => `p${i}`);
  const quotas = new Map<string, ProjectQuota>();
  for (const project of projects) if (r() < 0.75) quotas.set(project, { project, ...randomLimits(r) });
  const defaultQuota = r() < 0.5 ? null : randomLimits(r);
  return {
    r,
    seed,
    step: 0,
    slots,
    projects,
    quotas,
    defaultQuota,
    ledger: new QuotaLedger(quotas.values(), defaultQuota),
    queue: [],
    running: new Map(),
    ceilings: new Map(),
    borrowCeilings: new Map(),
    nextAttempt: 0,
  };
}
