// The RLScheduler (SC'20) evaluation protocol of ../shared/traces/README.md: rigid SWF jobs on a
// machine of MaxNodes nodes, 10 sequences of 1,024 jobs, average bounded slowdown per sequence,
// then the mean. The scheduling loop is the policy under test: their committed-head loop (with
// none, their simplified "rlscheduler" backfilling, or "committed-head", an EASY test run only
// while the head is committed), or the re-planning loop of replan.ts (classic easy,
// conservative, K=<n>, relaxed), optionally on corrected estimates (estimates.ts).
// The machine is one core WorkerSlot with one cpu "core" per node (machine-slot.ts).
import { parseBackfill, type BackfillName } from "./backfill-spec.js";
import { EstimateLearner } from "./estimates.js";
import { machineSlot, type Machine } from "./machine-slot.js";
import { scoreFor, sortQueue, type BatchJob, type OrderName, type Score, type WaitReading } from "./orders.js";
import { runReplanning } from "./replan.js";
import { protocolStarts, SEQUENCE_LENGTH } from "./starts.js";
import { summarise, type SequenceResult } from "./summary.js";
import type { SwfTrace } from "../workloads/swf.js";

export type { BackfillName } from "./backfill-spec.js";
export type { Machine } from "./machine-slot.js";
export type { SequenceResult } from "./summary.js";
export { fallbackStarts, RLSCHEDULER_STARTS_10K, SEQUENCE_LENGTH } from "./starts.js";

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
    jobs.push({ id: j.id, submit: j.submit, run, reqTime, procs, nodes: Math.ceil(procs / ppn), start: -1, seq: jobs.length, user: j.user });
  }
  return { jobs, machine: { nodes, ppn, maxProcs } };
}

export interface ProtocolResult {
  order: OrderName;
  backfill: BackfillName;
  /** Which reading of `w` WFP3/UNICEP used (see orders.ts); FCFS, SJF and F1 ignore it. */
  wait: WaitReading;
  /** Whether estimates were corrected per user from finished jobs (estimates.ts). */
  estimateCorrection: boolean;
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

export interface SequenceOptions {
  /** Plan on per-user corrected estimates (re-planning backfills only; see estimates.ts). */
  estimateCorrection?: boolean;
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
  options: SequenceOptions = {},
): SequenceResult {
  const jobs = all.slice(startIndex, startIndex + SEQUENCE_LENGTH).map((j) => ({ ...j, start: -1, estimate: undefined }));
  const spec = parseBackfill(backfill);
  const score = scoreFor(order, wait);
  if (spec.kind === "reservations") {
    const learner = options.estimateCorrection ? new EstimateLearner() : null;
    runReplanning(jobs, machine, { score, reservations: spec.reservations, relax: spec.relax, learner });
  } else {
    if (options.estimateCorrection) throw new Error(`estimate correction needs a re-planning backfill, not ${backfill}`);
    committedHead(jobs, machine, score, spec.kind);
  }
  return summarise(jobs, startIndex, machine);
}

/** Their loop: the picked head is committed and time advances until it fits (README). */
function committedHead(jobs: BatchJob[], machine: Machine, score: Score, backfill: "none" | "rlscheduler" | "committed-head"): void {
  const slot = machineSlot(machine, jobs);
  const queue: BatchJob[] = [];
  const running: Run[] = [];
  let now = jobs[0].submit;
  let next = 1;
  queue.push(jobs[0]);
  const fits = (j: BatchJob): boolean => slot.fits(j);
  const start = (j: BatchJob): void => {
    const attemptId = slot.allocate(j);
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
      slot.release(running.shift()!.attemptId);
    }
  };
  const bySubmit = (a: BatchJob, b: BatchJob): number => a.submit - b.submit;
  const freeNodes = (): number => slot.freeNodes();

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
      } else if (backfill === "committed-head") {
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
}

/**
 * The committed-head variant's pass (formerly "easy"): the head's shadow time (when enough running jobs' requested ends free its nodes)
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

export interface ProtocolOptions extends SequenceOptions {
  /** Sequence start indexes (default: the protocol's for the trace's length, see starts.ts). */
  starts?: readonly number[];
  /** Reading of `w` for WFP3/UNICEP (default "published", the one that reproduces their cells). */
  wait?: WaitReading;
}

export function runProtocol(trace: SwfTrace, order: OrderName, backfill: BackfillName, options: ProtocolOptions = {}): ProtocolResult {
  const { jobs, machine } = loadJobs(trace);
  const wait = options.wait ?? "published";
  const idx = options.starts ?? protocolStarts(jobs.length);
  const sequences = idx.map((s) => runSequence(jobs, s, machine, order, backfill, wait, options));
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    order,
    backfill,
    wait,
    estimateCorrection: options.estimateCorrection ?? false,
    avgBoundedSlowdown: mean(sequences.map((s) => s.avgBoundedSlowdown)),
    utilisation: mean(sequences.map((s) => s.utilisation)),
    sequences,
  };
}
