// What each project holds now, read off the worker slots (src/core/fairshare/running-usage.ts): sums
// per project and resource, GPUs by model, and the per-slot cache follows every allocate, release
// and change of the worker's GPUs.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runningUsage } from "../../src/core/fairshare/running-usage.js";
import { allocate, newWorkerSlot, release } from "../../src/core/worker-slot.js";
import type { Worker } from "../../src/core/types.js";
import { worker as domainWorker } from "../helpers/domain.js";

const gpu = (index: number, model: string) => ({ index, uuid: `GPU-${index}`, model, memoryMib: 81920, numaNode: 0 });
const worker = (id: string, models: string[]): Worker =>
  domainWorker(id, { capacity: { cpuMillis: 16_000, memoryMib: 65_536, maxTasks: 8, gpus: models.map((m, i) => gpu(i, m)) } });
const res = (cpuMillis: number, memoryMib: number, gpuCount = 0) => ({ cpuMillis, memoryMib, gpuCount, gpuModel: "", gpuMemoryMib: 0 });

test("sums per project and resource, GPUs counted by their model", () => {
  const a = newWorkerSlot(worker("a", ["NVIDIA H100 80GB HBM3", "NVIDIA H100 80GB HBM3"]));
  const b = newWorkerSlot(worker("b", ["NVIDIA A100-SXM4-40GB"]));
  allocate(a, "x1", res(2000, 4096, 1), [0], "vision");
  allocate(a, "x2", res(1000, 1024), [], "nlp");
  allocate(b, "x3", res(500, 512, 1), [0], "vision");
  const usage = runningUsage([a, b]);
  assert.equal(usage.get("vision"), { tasks: 2, cpu: 2.5, memory: 4.5, gpu: 2, "gpu:nvidia-h100-80gb-hbm3": 1, "gpu:nvidia-a100-sxm4-40gb": 1 });
  assert.equal(usage.get("nlp"), { tasks: 1, cpu: 1, memory: 1 });
});

test("the per-slot cache follows allocate, release and a worker whose GPUs changed", () => {
  const a = newWorkerSlot(worker("a", ["H100"]));
  allocate(a, "x1", res(1000, 1024, 1), [0], "p");
  assert.is(runningUsage([a]).get("p")?.["gpu:h100"], 1);
  allocate(a, "x2", res(1000, 1024), [], "q");
  assert.is(runningUsage([a]).get("q")?.tasks, 1, "a new allocation shows");
  release(a, "x1");
  assert.is(runningUsage([a]).get("p"), undefined, "a release shows");
  allocate(a, "x3", res(1000, 1024, 1), [0], "p");
  assert.is(runningUsage([a]).get("p")?.["gpu:h100"], 1);
  // The agent re-registers with another GPU model in that index: the master bumps the version.
  a.worker = worker("a", ["A100"]);
  a.version++;
  assert.equal(runningUsage([a]).get("p")?.["gpu:a100"], 1);
  assert.is(runningUsage([a]).get("p")?.["gpu:h100"], undefined);
  // Callers get a fresh map each time: changing it does not touch the cache.
  runningUsage([a]).get("p")!.cpu = 999;
  assert.is(runningUsage([a]).get("p")?.cpu, 1);
});

test.run();
