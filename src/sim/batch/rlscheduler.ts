// The RLScheduler (SC'20) evaluation protocol of ../shared/traces/README.md: rigid SWF jobs on a
// machine of MaxNodes nodes, 10 sequences of 1,024 jobs, a committed-head scheduling loop, their
// simplified backfilling or classic EASY, average bounded slowdown per sequence, then the mean.
// The machine is one core WorkerSlot with one cpu "core" (1000 millis) per node: fitting and
// allocation go through the core's feasibleGpus/allocate/release, so nodes are never over-committed.
import { feasibleGpus } from "../../core/feasibility.js";
import type { Task } from "../../core/types.js";
import { allocate, release, type WorkerSlot } from "../../core/worker-slot.js";
import { buildSlot, buildTask } from "../build.js";
import type { SwfTrace } from "../workloads/swf.js";
import { scoreFor, sortQueue, type BatchJob, type OrderName, type WaitReading } from "./orders.js";

export type BackfillName = "none" | "rlscheduler" | "easy";

/** 0-based start indexes of their 10 sequences for a 10,000-job trace (README: gym np_random(1)). */
export const RLSCHEDULER_STARTS_10K = [1981, 2756, 4299, 8850, 3316, 2714, 5228, 7762, 4022, 7085];
export const SEQUENCE_LENGTH = 1024;

export interface Machine {
  nodes: number;
  ppn: number;
  maxProcs: number;
}

/** Their loader: drop run == 0, requested -1 -> raw run, run < 0 -> 10, procs = max(alloc, req), by id. */
export function loadJobs(trace: SwfTrace): { jobs: BatchJob[]; machine: Machine } {
  const nodes = trace.maxNodes ?? trace.maxProcs ?? 1;
  const maxProcs = trace.maxProcs ?? nodes;
  const ppn = Math.max(1, Math.floor(maxProcs / nodes));
  const jobs: BatchJob[] = [];
  for (const j of [...trace.jobs].sort((a, b) => a.id - b.id)) {
    if (j.run === 0) continue;
    const reqTime = j.reqTime === -1 ? j.run : j.reqTime;
    const run = j.run < 0 ? 10 : j.run;
    const procs = Math.max(j.allocProcs, j.reqProcs);
    jobs.push({ id: j.id, submit: j.submit, run, reqTime, procs, nodes: Math.ceil(procs / ppn), start: -1, seq: jobs.length });
  }
  return { jobs, machine: { nodes, ppn, maxProcs } };
}

export interface SequenceResult {
  startIndex: number;
  avgBoundedSlowdown: number;
  utilisation: number;
}

export interface ProtocolResult {
  order: OrderName;
  backfill: BackfillName;
  /** Which reading of `w` WFP3/UNICEP used (see orders.ts); FCFS, SJF and F1 ignore it. */
  wait: WaitReading;
  /** Mean over the sequences of each sequence's mean bounded slowdown. */
  avgBoundedSlowdown: number;
  utilisation: number;
  sequences: SequenceResult[];
}

interface Run {
  job: BatchJob;
  end: number;
  reqEnd: number;
  attemptId: string;
}

/**
 * Simulates one sequence (jobs are copied; start times are written on the copies). The queue is
 * re-sorted at every pick with the clock of that moment, so a score that reads `now` (the true
 * waiting time) is evaluated at each decision time.
 */
export function runSequence(
  all: readonly BatchJob[],
  startIndex: number,
  machine: Machine,
  order: OrderName,
  backfill: BackfillName,
  wait: WaitReading = "published",
): SequenceResult {
  const jobs = all.slice(startIndex, startIndex + SEQUENCE_LENGTH).map((j) => ({ ...j, start: -1 }));
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
  const score = scoreFor(order, wait);
  const queue: BatchJob[] = [];
  const running: Run[] = [];
  let now = jobs[0].submit;
  let next = 1;
  queue.push(jobs[0]);
  let seq = 0;
  const fits = (j: BatchJob): boolean => feasibleGpus(asTask.get(j)!, slot) !== null;
  const start = (j: BatchJob): void => {
    const attemptId = `a${seq++}`;
    allocate(slot, attemptId, asTask.get(j)!.spec.resources, []);
    j.start = now;
    running.push({ job: j, end: now + j.run, reqEnd: now + j.reqTime, attemptId });
    queue.splice(queue.indexOf(j), 1);
  };
  /** One event: the next arrival if it comes no later than the earliest finish, else that finish. */
  const advance = (): void => {
    running.sort((a, b) => a.end - b.end);
    const release0 = running.length > 0 ? running[0].end : Infinity;
    if (next < jobs.length && jobs[next].submit <= release0) {
      now = Math.max(now, jobs[next].submit);
      queue.push(jobs[next++]);
    } else {
      now = Math.max(now, release0);
      release(slot, running.shift()!.attemptId);
    }
  };
  const bySubmit = (a: BatchJob, b: BatchJob): number => a.submit - b.submit;
  const freeNodes = (): number => machine.nodes - slot.allocatedCpuMillis / 1000;

  for (;;) {
    sortQueue(queue, score, now); // stable, as their sort
    const head = queue[0];
    if (!fits(head)) {
      if (backfill === "rlscheduler") {
        // Reservation once: running jobs by requested end, their nodes added until the head fits.
        let reservation = now;
        let free = freeNodes();
        for (const r of [...running].sort((a, b) => a.reqEnd - b.reqEnd)) {
          free += r.job.nodes;
          reservation = r.reqEnd;
          if (free >= head.nodes) break;
        }
        while (!fits(head)) {
          queue.sort(bySubmit);
          for (const j of [...queue]) if (j !== head && fits(j) && now + j.reqTime < reservation) start(j);
          advance();
        }
      } else if (backfill === "easy") {
        while (!fits(head)) {
          easyPass(head, queue, running, now, freeNodes(), fits, start);
          if (fits(head)) break;
          advance();
        }
      } else {
        while (!fits(head)) advance();
      }
    }
    start(head);
    if (queue.length === 0) {
      if (next >= jobs.length) break;
      while (queue.length === 0) advance();
    }
  }
  let sum = 0;
  let work = 0;
  let lastStart = -Infinity;
  for (const j of jobs) {
    sum += Math.max(1, (j.start - j.submit + j.run) / Math.max(j.run, 10));
    work += j.run * j.procs;
    lastStart = Math.max(lastStart, j.start);
  }
  const span = lastStart - jobs[0].submit;
  return { startIndex, avgBoundedSlowdown: sum / jobs.length, utilisation: span > 0 ? work / (span * machine.maxProcs) : 0 };
}

/**
 * Classic EASY: the head's shadow time (when enough running jobs' requested ends free its nodes)
 * and the extra nodes left at that time; a queued job (FCFS) is backfilled when it fits now and
 * either ends (by its request) by the shadow time or uses no more than the extra nodes.
 */
function easyPass(
  head: BatchJob,
  queue: BatchJob[],
  running: readonly Run[],
  now: number,
  free: number,
  fits: (j: BatchJob) => boolean,
  start: (j: BatchJob) => void,
): void {
  let shadow = Infinity;
  let extra = 0;
  let avail = free;
  for (const r of [...running].sort((a, b) => a.reqEnd - b.reqEnd)) {
    avail += r.job.nodes;
    if (avail >= head.nodes) {
      shadow = r.reqEnd;
      extra = avail - head.nodes;
      break;
    }
  }
  for (const j of [...queue].sort((a, b) => a.submit - b.submit)) {
    if (j === head || !fits(j)) continue;
    if (now + j.reqTime <= shadow) start(j);
    else if (j.nodes <= extra) {
      start(j);
      extra -= j.nodes;
    }
  }
}

export interface ProtocolOptions {
  /** Sequence start indexes (default: theirs for 10,000 jobs, else evenly spaced). */
  starts?: readonly number[];
  /** Reading of `w` for WFP3/UNICEP (default "published", the one that reproduces their cells). */
  wait?: WaitReading;
}

export function runProtocol(trace: SwfTrace, order: OrderName, backfill: BackfillName, options: ProtocolOptions = {}): ProtocolResult {
  const { jobs, machine } = loadJobs(trace);
  const wait = options.wait ?? "published";
  const idx = options.starts ?? (jobs.length === 10_000 ? RLSCHEDULER_STARTS_10K : fallbackStarts(jobs.length));
  const sequences = idx.map((s) => runSequence(jobs, s, machine, order, backfill, wait));
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    order,
    backfill,
    wait,
    avgBoundedSlowdown: mean(sequences.map((s) => s.avgBoundedSlowdown)),
    utilisation: mean(sequences.map((s) => s.utilisation)),
    sequences,
  };
}

/** Other trace sizes: their hashed-seed draw is not reproduced; 10 evenly spaced starts instead. */
export function fallbackStarts(n: number): number[] {
  const lo = SEQUENCE_LENGTH;
  const hi = Math.max(lo, n - SEQUENCE_LENGTH - 1);
  return Array.from({ length: 10 }, (_, i) => Math.floor(lo + ((hi - lo) * i) / 9));
}
