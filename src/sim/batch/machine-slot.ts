// The protocol's machine as one core WorkerSlot with one cpu "core" (1000 millis) per node:
// fitting and allocation go through the core's feasibleGpus/allocate/release, so whatever a
// batch loop decides, nodes are never over-committed.
import { feasibleGpus } from "../../core/feasibility.js";
import type { Task } from "../../core/types.js";
import { allocate, release, type WorkerSlot } from "../../core/worker-slot.js";
import { buildSlot, buildTask } from "../build.js";
import type { BatchJob } from "./orders.js";

export interface Machine {
  nodes: number;
  ppn: number;
  maxProcs: number;
}

export interface MachineSlot {
  fits(j: BatchJob): boolean;
  /** Allocates the job's nodes; returns the attempt id to release them with. */
  allocate(j: BatchJob): string;
  release(attemptId: string): void;
  freeNodes(): number;
}

export function machineSlot(machine: Machine, jobs: readonly BatchJob[]): MachineSlot {
  const slot: WorkerSlot = buildSlot({
    id: "machine",
    tags: [],
    cpuMillis: machine.nodes * 1000,
    memoryMib: 0,
    maxTasks: machine.nodes,
    gpus: [],
    speed: { cpu: 1, gpu: 1, io: 1 },
    failureRate: 0,
  });
  const asTask = new Map<BatchJob, Task>();
  for (const j of jobs) {
    asTask.set(
      j,
      buildTask(
        {
          id: String(j.id),
          submitMs: j.submit,
          runtimeMs: j.run,
          estimateMs: j.reqTime,
          deadlineMs: null,
          kind: "",
          family: "cpu",
          cpuMillis: j.nodes * 1000,
          memoryMib: 0,
          gpuCount: 0,
          gpuModel: "",
          ioIntensity: 0,
          requiredTags: [],
          preferredTags: [],
          maxRetries: 0,
        },
        1,
      ),
    );
  }
  let seq = 0;
  return {
    fits: (j) => feasibleGpus(asTask.get(j)!, slot) !== null,
    allocate: (j) => {
      const attemptId = `a${seq++}`;
      allocate(slot, attemptId, asTask.get(j)!.spec.resources, []);
      return attemptId;
    },
    release: (attemptId) => release(slot, attemptId),
    freeNodes: () => machine.nodes - slot.allocatedCpuMillis / 1000,
  };
}
