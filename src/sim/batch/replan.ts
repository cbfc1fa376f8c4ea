// The re-planning batch loop behind easy, conservative, K=<n> and relaxed backfilling. Unlike the
// committed-head loop (rlscheduler.ts), no job is committed: at every event time (all arrivals
// and finishes of that instant applied first) the queue is re-ranked and walked in order over an
// availability profile built from running jobs' ESTIMATED ends:
// - while fewer than K jobs hold reservations, a job starts now if the profile has room for it
//   from now for its estimate, else it gets a reservation at the earliest time it fits, carved
//   out of the profile so later jobs cannot take it;
// - after that, a job starts now only if it fits the carved profile from now for its estimate:
//   it ends before every reservation it overlaps or uses nodes no reservation needs (classic
//   EASY's shadow-time/extra-nodes rule when K = 1, read over the whole profile);
// - relaxed: a job that does not fit may still start if, re-planned after it, no reservation
//   moves later than its start this pass plus relax x that job's wait so far.
// Reservations are recomputed at every event, not frozen: a job that finishes before its estimate
// pulls them earlier. Estimates are the user's requests, or the learner's corrected ones; a job's
// actual runtime is read only to schedule its finish event.
import type { EstimateLearner } from "./estimates.js";
import { machineSlot, type Machine } from "./machine-slot.js";
import { sortQueue, type BatchJob, type Score } from "./orders.js";
import { Profile } from "./profile.js";

export interface ReplanPolicy {
  score: Score;
  /** How many blocked jobs get reservations (1 = EASY, Infinity = conservative). */
  reservations: number;
  /** Relaxed backfill: how far a reservation may slip, as a fraction of its job's wait so far. */
  relax: number;
  /** Corrected estimates; null plans on the users' requests. */
  learner: EstimateLearner | null;
  /** Observer for tests and reports: a reservation made for `job` at `start`, decided at `now`. */
  onReservation?: (job: BatchJob, start: number, now: number) => void;
}

interface Run {
  job: BatchJob;
  end: number;
  attemptId: string;
}

interface Reservation {
  job: BatchJob;
  duration: number;
  latest: number;
}

/** Simulates `jobs` (already copies; their `start` is written) on `machine` under `policy`. */
export function runReplanning(jobs: BatchJob[], machine: Machine, policy: ReplanPolicy): void {
  const slot = machineSlot(machine, jobs);
  const { learner } = policy;
  const estimate = (j: BatchJob): number => (learner === null ? j.reqTime : learner.predict(j));
  let queue: BatchJob[] = [];
  const running: Run[] = []; // by actual end, the simulator's event order only
  let next = 0;
  let now = jobs[0].submit;

  /** A running job's expected end; one that outlived its estimate is expected any moment. */
  const expectedEnd = (r: Run): number => {
    const byEstimate = r.job.start + estimate(r.job);
    if (byEstimate > now) return byEstimate;
    const byRequest = r.job.start + r.job.reqTime;
    return byRequest > now ? byRequest : now + 1;
  };

  const start = (j: BatchJob): void => {
    if (!slot.fits(j)) throw new Error(`job ${j.id} planned to start at ${now} but does not fit`);
    j.start = now;
    const run = { job: j, end: now + j.run, attemptId: slot.allocate(j) };
    let i = running.length;
    while (i > 0 && running[i - 1].end > run.end) i--;
    running.splice(i, 0, run);
  };

  const pass = (): void => {
    if (learner !== null) for (const j of queue) j.estimate = learner.predict(j);
    sortQueue(queue, policy.score, now);
    const ends = running.map((r) => ({ end: expectedEnd(r), nodes: r.job.nodes }));
    let planned = new Profile(now, slot.freeNodes(), ends);
    // Without reservations carved in: what relaxed re-plans against.
    const base = policy.relax > 0 ? new Profile(now, slot.freeNodes(), ends) : null;
    const reservations: Reservation[] = [];
    const waiting: BatchJob[] = [];
    const startNow = (j: BatchJob, d: number): void => {
      start(j);
      planned.take(now, j.nodes, d);
      base?.take(now, j.nodes, d);
    };
    for (let i = 0; i < queue.length; i++) {
      const j = queue[i];
      // Nothing can start with no node free, and reservations are recomputed next event anyway.
      if (slot.freeNodes() === 0) {
        waiting.push(...queue.slice(i));
        break;
      }
      const d = estimate(j);
      if (reservations.length < policy.reservations) {
        const t = planned.earliest(j.nodes, d);
        if (t === now) startNow(j, d);
        else {
          if (Number.isFinite(t)) planned.take(t, j.nodes, d);
          reservations.push({ job: j, duration: d, latest: t + policy.relax * (now - j.submit) });
          policy.onReservation?.(j, t, now);
          waiting.push(j);
        }
      } else if (j.nodes <= slot.freeNodes() && planned.fitsAt(now, j.nodes, d)) startNow(j, d);
      else if (base !== null && j.nodes <= slot.freeNodes() && base.fitsAt(now, j.nodes, d)) {
        const replanned = replanWith(base, j, d, now, reservations);
        if (replanned === null) waiting.push(j);
        else {
          start(j);
          base.take(now, j.nodes, d);
          planned = replanned;
        }
      } else waiting.push(j);
    }
    queue = waiting;
  };

  while (next < jobs.length || queue.length > 0) {
    while (running.length > 0 && running[0].end <= now) {
      const r = running.shift()!;
      slot.release(r.attemptId);
      learner?.finished(r.job);
    }
    while (next < jobs.length && jobs[next].submit <= now) queue.push(jobs[next++]);
    if (queue.length > 0) pass();
    const arrival = next < jobs.length ? jobs[next].submit : Number.POSITIVE_INFINITY;
    const finish = running.length > 0 ? running[0].end : Number.POSITIVE_INFINITY;
    if (!Number.isFinite(Math.min(arrival, finish))) {
      if (queue.length > 0) throw new Error(`${queue.length} jobs can never start (wider than the machine?)`);
      break;
    }
    now = Math.min(arrival, finish);
  }
}

/**
 * Relaxed backfill: the profile with `j` started now and every reservation re-placed in order, or
 * null when one of them would start later than it may.
 */
function replanWith(base: Profile, j: BatchJob, d: number, now: number, reservations: readonly Reservation[]): Profile | null {
  const p = base.clone();
  p.take(now, j.nodes, d);
  for (const r of reservations) {
    const t = p.earliest(r.job.nodes, r.duration);
    if (t > r.latest) return null;
    p.take(t, r.job.nodes, r.duration);
  }
  return p;
}
