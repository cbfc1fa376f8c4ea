// The protocol's per-sequence figures, the same for every loop: bounded slowdown
// max(1, (wait + run) / max(run, 10)) averaged over the jobs, and utilisation up to the time the
// last job STARTS (their definition, see ../shared/traces/README.md).
import type { Machine } from "./machine-slot.js";
import type { BatchJob } from "./orders.js";

export interface SequenceResult {
  startIndex: number;
  avgBoundedSlowdown: number;
  utilisation: number;
}

export function summarise(jobs: readonly BatchJob[], startIndex: number, machine: Machine): SequenceResult {
  let sum = 0;
  let work = 0;
  let lastStart = -Infinity;
  for (const j of jobs) {
    if (j.start < 0) throw new Error(`job ${j.id} never started`);
    sum += Math.max(1, (j.start - j.submit + j.run) / Math.max(j.run, 10));
    work += j.run * j.procs;
    lastStart = Math.max(lastStart, j.start);
  }
  const span = lastStart - jobs[0].submit;
  return { startIndex, avgBoundedSlowdown: sum / jobs.length, utilisation: span > 0 ? work / (span * machine.maxProcs) : 0 };
}
