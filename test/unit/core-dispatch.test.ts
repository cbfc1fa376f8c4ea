import { test } from "uvu";
import * as assert from "uvu/assert";
import { planDispatch } from "../../src/core/dispatch-plan.js";
import { feasibleGpus, neverFitsReason } from "../../src/core/feasibility.js";
import { priorityOrdering } from "../../src/core/ordering.js";
import { PendingQueue } from "../../src/core/pending-queue.js";
import { RoundRobinPlacement } from "../../src/core/placement.js";
import { release } from "../../src/core/worker-slot.js";
import type { Task } from "../../src/core/types.js";
import type { WorkerSlot } from "../../src/core/worker-slot.js";
import { gpus, slot, task } from "../helpers/domain.js";

let ids = 0;
const plan = (tasks: Task[], slots: WorkerSlot[], maxScan = 1000) => {
  const q = new PendingQueue(priorityOrdering);
  tasks.forEach((t) => q.push(t));
  return planDispatch(q.inOrder(), slots, new RoundRobinPlacement(), { nowMs: 0, maxScan, newAttemptId: () => `a${++ids}` });
};

const feasibilityCases: Array<{ name: string; t: Task; s: WorkerSlot; fits: boolean }> = [
  { name: "plain task on idle worker", t: task(), s: slot("w"), fits: true },
  { name: "worker SUSPECT", t: task(), s: slot("w", { status: "SUSPECT" }), fits: false },
  { name: "worker DRAINING", t: task(), s: slot("w", { status: "DRAINING" }), fits: false },
  { name: "missing required tag", t: task({ requiredTags: ["ssd"] }), s: slot("w", { tags: ["gpu"] }), fits: false },
  { name: "has all required tags", t: task({ requiredTags: ["ssd", "zone=eu"] }), s: slot("w", { tags: ["zone=eu", "ssd", "x"] }), fits: true },
  { name: "too much cpu", t: task({ resources: { cpuMillis: 5000, memoryMib: 1, gpuCount: 0, gpuModel: "", gpuMemoryMib: 0 } }), s: slot("w"), fits: false },
  { name: "too much memory", t: task({ resources: { cpuMillis: 1, memoryMib: 9000, gpuCount: 0, gpuModel: "", gpuMemoryMib: 0 } }), s: slot("w"), fits: false },
  {
    name: "gpu on gpu-less worker",
    t: task({ resources: { cpuMillis: 1, memoryMib: 1, gpuCount: 1, gpuModel: "", gpuMemoryMib: 0 } }),
    s: slot("w"),
    fits: false,
  },
  {
    name: "gpu model matches case-insensitively",
    t: task({ resources: { cpuMillis: 1, memoryMib: 1, gpuCount: 2, gpuModel: "h100", gpuMemoryMib: 0 } }),
    s: slot("w", { capacity: { cpuMillis: 4000, memoryMib: 8192, maxTasks: 4, gpus: gpus(2) } }),
    fits: true,
  },
  {
    name: "gpu model mismatch",
    t: task({ resources: { cpuMillis: 1, memoryMib: 1, gpuCount: 1, gpuModel: "A100", gpuMemoryMib: 0 } }),
    s: slot("w", { capacity: { cpuMillis: 4000, memoryMib: 8192, maxTasks: 4, gpus: gpus(2) } }),
    fits: false,
  },
  {
    name: "gpu memory too small",
    t: task({ resources: { cpuMillis: 1, memoryMib: 1, gpuCount: 1, gpuModel: "", gpuMemoryMib: 100_000 } }),
    s: slot("w", { capacity: { cpuMillis: 4000, memoryMib: 8192, maxTasks: 4, gpus: gpus(2) } }),
    fits: false,
  },
  { name: "no free slots (max_tasks 0)", t: task(), s: slot("w", { capacity: { cpuMillis: 4000, memoryMib: 8192, maxTasks: 0, gpus: [] } }), fits: false },
];
for (const c of feasibilityCases) test(`feasibility: ${c.name}`, () => assert.is(feasibleGpus(c.t, c.s) !== null, c.fits));

test("GPUs are allocated by lowest free index and never shared; release frees them", () => {
  const s = slot("w", { capacity: { cpuMillis: 64000, memoryMib: 1 << 20, maxTasks: 8, gpus: gpus(2) } });
  const gpuTask = () => task({ resources: { cpuMillis: 1, memoryMib: 1, gpuCount: 1, gpuModel: "", gpuMemoryMib: 0 } });
  const p = plan([gpuTask(), gpuTask(), gpuTask()], [s]);
  assert.equal(
    p.assignments.map((a) => a.gpuIndexes),
    [[0], [1]],
  );
  assert.is(p.pendingReasons.size, 1);
  assert.match([...p.pendingReasons.values()][0], /^waiting: /);
  release(s, p.assignments[0].attemptId);
  assert.equal(feasibleGpus(gpuTask(), s), [0]);
});

test("a task that can never fit is unschedulable and does not block the tasks behind it", () => {
  const big = task({ priority: "HIGH", resources: { cpuMillis: 1, memoryMib: 1, gpuCount: 16, gpuModel: "", gpuMemoryMib: 0 } });
  const small = task({ priority: "LOW" });
  const s = slot("w", { capacity: { cpuMillis: 4000, memoryMib: 8192, maxTasks: 4, gpus: gpus(8) } });
  const p = plan([big, small], [s]);
  assert.equal(
    p.assignments.map((a) => a.task.id),
    [small.id],
  );
  assert.match(p.pendingReasons.get(big.id)!, /^unschedulable: .*needs 16 GPUs, has 8 matching/);
});

test("pending reason when no workers are connected", () => {
  const t = task();
  const p = plan([t], [slot("w", { status: "OFFLINE" })]);
  assert.is(p.assignments.length, 0);
  // No worker with a free slot: the pass stops before scanning, leaving the previous reason alone.
  assert.is(p.pendingReasons.size, 0);
});

test("never over-commits slots, cpu or memory; round-robin spreads over workers", () => {
  const a = slot("a", { capacity: { cpuMillis: 2000, memoryMib: 1024, maxTasks: 10, gpus: [] } });
  const b = slot("b", { capacity: { cpuMillis: 10000, memoryMib: 1024, maxTasks: 3, gpus: [] } });
  const tasks = Array.from({ length: 20 }, () => task());
  const p = plan(tasks, [a, b]);
  assert.is(a.allocations.size, 2); // cpu-bound: 2 x 1000m
  assert.is(b.allocations.size, 3); // slot-bound
  assert.ok(a.allocatedCpuMillis <= 2000 && b.allocatedMemoryMib <= 1024);
  assert.equal(
    p.assignments.slice(0, 4).map((x) => x.slot.worker.id),
    ["a", "b", "a", "b"],
  );
});

test("maxScan bounds the work of one pass", () => {
  const s = slot("w", { tags: [] });
  const blocked = Array.from({ length: 50 }, () => task({ requiredTags: ["nope"] }));
  const p = plan(blocked, [s], 10);
  assert.is(p.pendingReasons.size, 10);
});

test("neverFitsReason names the missing tag", () => {
  assert.match(neverFitsReason(task({ requiredTags: ["gpu"] }), slot("w").worker)!, /lacks tags gpu/);
  assert.is(neverFitsReason(task(), slot("w").worker), null);
});

test.run();
