// Seeded generators of realistic clusters and task queues, shared by benchmarks (and usable by
// tests). Deterministic for a seed: mulberry32 PRNG, no Math.random, no clock.
import type { Gpu, QueueClass, Priority, Task, TaskSpec, Worker } from "../../src/core/types.js";

export { int, mulberry32, pick, type Rng } from "../../src/core/random.js";
import { int, pick, type Rng } from "../../src/core/random.js";
import { spec as specWith } from "../helpers/domain.js";

export const GPU_MODELS = [
  { model: "NVIDIA H100 80GB HBM3", memoryMib: 81559 },
  { model: "NVIDIA A100-SXM4-40GB", memoryMib: 40960 },
  { model: "NVIDIA L4", memoryMib: 23034 },
] as const;
export const ZONES = ["zone=a", "zone=b", "zone=c"] as const;
export const KINDS = Array.from({ length: 24 }, (_, i) => `kind-${i}`);

/**
 * `n` workers: cpu sizes 8-128 cores, memory 4-8 GiB per core, max tasks = cores/2 (4..32); tags
 * zone=a/b/c, ssd (40%), arch=arm64 (15%) else arch=amd64; 30% GPU workers with 4 or 8 GPUs of one
 * of three models (10% of those mix two models); fresh telemetry with random load and io pressure.
 */
export function makeWorkers(rng: Rng, n: number, nowMs: number): Worker[] {
  const workers: Worker[] = [];
  for (let i = 0; i < n; i++) {
    const cores = pick(rng, [8, 16, 32, 64, 128]);
    const tags: string[] = [pick(rng, ZONES), rng() < 0.15 ? "arch=arm64" : "arch=amd64"];
    if (rng() < 0.4) tags.push("ssd");
    const gpus: Gpu[] = [];
    if (rng() < 0.3) {
      const count = rng() < 0.5 ? 4 : 8;
      const first = pick(rng, GPU_MODELS);
      const second = rng() < 0.1 ? pick(rng, GPU_MODELS) : first;
      for (let g = 0; g < count; g++) {
        const m = g < count / 2 ? first : second;
        gpus.push({ index: g, uuid: `GPU-${i}-${g}`, model: m.model, memoryMib: m.memoryMib, numaNode: g < count / 2 ? 0 : 1 });
      }
      tags.push("gpu");
    }
    workers.push({
      id: `w-${String(i).padStart(5, "0")}`,
      hostname: `host-${i}`,
      tags,
      capacity: { cpuMillis: cores * 1000, memoryMib: cores * pick(rng, [4096, 8192]), maxTasks: Math.min(32, Math.max(4, cores / 2)), gpus },
      status: "ONLINE",
      agentVersion: "bench",
      registeredAtMs: 0,
      lastSeenAtMs: nowMs,
      telemetry: {
        sampledAtMs: nowMs - int(rng, 0, 3000),
        cpuLoad: rng() * 1.2,
        memoryUsedMib: 0,
        memoryTotalMib: cores * 4096,
        ioPressure: rng() * 0.6,
        runningAttempts: 0,
        gpus: gpus.map((g) => ({ index: g.index, utilizationPercent: int(rng, 0, 100), memoryUsedMib: 0 })),
        probeErrors: [],
      },
      deadlineMisses: 0,
    });
  }
  return workers;
}

function baseSpec(): TaskSpec {
  return specWith({ name: "bench", resources: { cpuMillis: 1000, memoryMib: 512, gpuCount: 0, gpuModel: "", gpuMemoryMib: 0 } });
}

/**
 * `n` tasks: 75% CPU (0.5-8 cores, 256 MiB-16 GiB), 25% GPU (1, 2 or 4 GPUs; half name a model,
 * a quarter a GPU memory floor); 30% require a zone, 15% ssd, 5% arm64; 40% prefer a zone or ssd;
 * 24 kinds; estimates 1 s-10 min (10% none); 30% explicit deadlines, the rest derived (x2);
 * queue classes and priorities mixed.
 */
export function makeTasks(rng: Rng, n: number, nowMs: number, idPrefix = "t"): Task[] {
  const tasks: Task[] = [];
  for (let i = 0; i < n; i++) {
    const spec = baseSpec();
    spec.queueClass = pick<QueueClass>(rng, ["LIVE", "DEFAULT", "DEFAULT", "BATCH", "BATCH"]);
    spec.priority = pick<Priority>(rng, ["HIGH", "NORMAL", "NORMAL", "NORMAL", "LOW"]);
    spec.kind = pick(rng, KINDS);
    spec.ioIntensity = rng() < 0.5 ? 0 : Math.round(rng() * 100) / 100;
    spec.estimateMs = rng() < 0.1 ? 0 : int(rng, 1, 600) * 1000;
    if (rng() < 0.25) {
      spec.resources = {
        cpuMillis: pick(rng, [1000, 2000, 4000, 8000]),
        memoryMib: pick(rng, [4096, 8192, 16384]),
        gpuCount: pick(rng, [1, 1, 2, 4]),
        gpuModel: rng() < 0.5 ? pick(rng, ["h100", "a100", "l4"]) : "",
        gpuMemoryMib: rng() < 0.25 ? 40000 : 0,
      };
    } else {
      spec.resources = {
        cpuMillis: pick(rng, [500, 1000, 2000, 4000, 8000]),
        memoryMib: pick(rng, [256, 512, 1024, 4096, 16384]),
        gpuCount: 0,
        gpuModel: "",
        gpuMemoryMib: 0,
      };
    }
    if (rng() < 0.3) spec.requiredTags.push(pick(rng, ZONES));
    if (rng() < 0.15) spec.requiredTags.push("ssd");
    if (rng() < 0.05) spec.requiredTags.push("arch=arm64");
    if (rng() < 0.4) spec.preferredTags.push(rng() < 0.5 ? pick(rng, ZONES) : "ssd");
    const explicit = rng() < 0.3;
    const deadlineMs = explicit ? nowMs + int(rng, 10, 1800) * 1000 : spec.estimateMs > 0 ? nowMs + spec.estimateMs * 2 : null;
    if (explicit) spec.deadlineMs = deadlineMs;
    tasks.push({
      id: `${idPrefix}-${String(i).padStart(6, "0")}`,
      spec,
      state: "QUEUED",
      progress: 0,
      progressMessage: "",
      createdAtMs: nowMs + i,
      updatedAtMs: nowMs + i,
      deadlineMs,
      currentAttemptId: null,
      attemptCount: 0,
      result: null,
      specHash: "",
      deadlineMissed: false,
      retriesUsed: 0,
      requeues: 0,
      notBeforeMs: null,
    });
  }
  return tasks;
}
