// Sim-only priority functions over a waiting queue of rigid batch jobs (lowest score runs first),
// as in the RLScheduler evaluation (../shared/traces/README.md). `w` is the published reading:
// their code computes scheduled_time - submit while scheduled_time is still -1, so w = -1 - submit
// (a per-job constant). The "true" variants use the actual waiting time and are not validated.

export interface BatchJob {
  id: number;
  submit: number;
  run: number;
  reqTime: number;
  procs: number;
  nodes: number;
  start: number;
  seq: number;
}

export type OrderName = "fcfs" | "sjf" | "wfp3" | "unicep" | "f1";
export const ORDER_NAMES: readonly OrderName[] = ["fcfs", "sjf", "wfp3", "unicep", "f1"];

const publishedW = (j: BatchJob): number => -1 - j.submit;
const EPS = 1e-15;

export const SCORES: Record<OrderName, (j: BatchJob) => number | readonly number[]> = {
  fcfs: (j) => j.submit,
  sjf: (j) => [j.reqTime, j.submit],
  wfp3: (j) => -Math.pow(publishedW(j) / j.reqTime, 3) * j.procs,
  unicep: (j) => -publishedW(j) / (Math.log2(j.procs + EPS) * j.reqTime),
  f1: (j) => Math.log10(j.reqTime) * j.procs + 870 * Math.log10(j.submit),
};
