// The policy lab's batch policies (src/sim/batch): classic EASY backfills without delaying the
// head's reservation, conservative (and EASY, K) never start a reserved job later than its first
// reservation when estimates are exact, SAF/LXF rank as defined, estimate correction learns only
// from finished jobs, and the committed-head loop (formerly "easy") keeps its numbers.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mulberry32 } from "../../src/core/random.js";
import { parseBackfill } from "../../src/sim/batch/backfill-spec.js";
import { EstimateLearner } from "../../src/sim/batch/estimates.js";
import { scoreFor, sortQueue, type BatchJob, type OrderName } from "../../src/sim/batch/orders.js";
import { runReplanning } from "../../src/sim/batch/replan.js";
import { runSequence } from "../../src/sim/batch/rlscheduler.js";

const job = (id: number, submit: number, nodes: number, run: number, reqTime = run, user?: number): BatchJob => ({
  id,
  submit,
  run,
  reqTime,
  procs: nodes,
  nodes,
  start: -1,
  seq: id,
  user,
});
const machine = (nodes: number) => ({ nodes, ppn: 1, maxProcs: nodes });
const ids = (q: BatchJob[]): number[] => q.map((j) => j.id);

test("classic EASY: the blocked head gets a reservation, a short job backfills, a long one waits", () => {
  // 4 nodes. A holds 2 until 100. H needs all 4: reserved at 100. S (1 node, ends 52) fits before
  // the reservation and starts at once; L (1 node, 500 s) fits now but would hold a node the
  // reservation needs, so it waits until H is done.
  const jobs = [job(1, 0, 2, 100), job(2, 1, 4, 50), job(3, 2, 1, 50), job(4, 3, 1, 500)];
  const reserved: [number, number][] = [];
  runReplanning(jobs, machine(4), {
    score: scoreFor("fcfs"),
    reservations: 1,
    relax: 0,
    learner: null,
    onReservation: (j, t) => reserved.push([j.id, t]),
  });
  assert.equal(
    jobs.map((j) => j.start),
    [0, 100, 2, 150],
  );
  assert.equal(reserved[0], [2, 100]);
});

test("classic EASY: the head is not committed; a job that arrives with higher priority overtakes it", () => {
  // SJF on 2 nodes: A runs 0-100; W (2 nodes, 100 s) is the head at t = 1; X (2 nodes, 10 s)
  // arrives at 2 and ranks first at the next event, so at 100 it is X that starts.
  const jobs = [job(1, 0, 2, 100), job(2, 1, 2, 100), job(3, 2, 2, 10)];
  runReplanning(jobs, machine(2), { score: scoreFor("sjf"), reservations: 1, relax: 0, learner: null });
  assert.equal(
    jobs.map((j) => j.start),
    [0, 110, 100],
  );
});

/** Random small FCFS workloads with exact estimates on 8 nodes. */
function randomJobs(seed: number, n: number): BatchJob[] {
  const rng = mulberry32(seed);
  let t = 0;
  return Array.from({ length: n }, (_, i) => {
    t += Math.floor(rng() * 30);
    return job(i + 1, t, 1 + Math.floor(rng() * 8), 1 + Math.floor(rng() * 200));
  });
}

for (const backfill of ["conservative", "easy", "K=3"] as const) {
  test(`${backfill}: with exact estimates no job starts after its first reservation (random workloads)`, () => {
    const spec = parseBackfill(backfill);
    if (spec.kind !== "reservations") throw new Error("not a re-planning backfill");
    for (let seed = 1; seed <= 60; seed++) {
      const jobs = randomJobs(seed, 40);
      const first = new Map<number, number>();
      runReplanning(jobs, machine(8), {
        score: scoreFor("fcfs"),
        reservations: spec.reservations,
        relax: 0,
        learner: null,
        onReservation: (j, t) => {
          if (!first.has(j.id)) first.set(j.id, t);
        },
      });
      for (const j of jobs) {
        assert.ok(j.start >= j.submit, `seed ${seed}: job ${j.id} started before it arrived`);
        const r = first.get(j.id);
        if (r !== undefined) assert.ok(j.start <= r, `seed ${seed}: job ${j.id} reserved at ${r}, started at ${j.start}`);
      }
      if (backfill === "conservative") assert.ok(first.size > 0, `seed ${seed}: the workload never blocked`);
    }
  });
}

test("SAF: smallest procs x estimate first, ties by arrival", () => {
  const q = [job(1, 0, 4, 100), job(2, 5, 1, 300), job(3, 10, 2, 100), job(4, 15, 8, 10), job(5, 20, 1, 200)];
  // areas: 400, 300, 200, 80, 200
  assert.equal(ids(sortQueue(q, scoreFor("saf"), 100)), [4, 3, 5, 2, 1]);
});

test("LXF: largest (wait + estimate) / estimate first, with the clock of the decision", () => {
  const q = [job(1, 0, 1, 1000), job(2, 90, 1, 10), job(3, 50, 1, 100)];
  // at 100: 1.1, 2.0, 1.5
  assert.equal(ids(sortQueue([...q], scoreFor("lxf"), 100)), [2, 3, 1]);
  // at 10,000: 11, 991, 100.5
  assert.equal(ids(sortQueue([...q], scoreFor("lxf"), 10_000)), [2, 3, 1]);
  // A long job that has waited long enough passes a fresh short one.
  const old = job(7, 0, 1, 100);
  const fresh = job(8, 9_990, 1, 10);
  assert.equal(ids(sortQueue([fresh, old], scoreFor("lxf"), 10_000)), [7, 8]);
});

test("estimate correction learns per user from finished jobs only, never above the request", () => {
  const l = new EstimateLearner();
  const next = job(3, 0, 1, 999, 1000, 7); // its own run time must not matter
  assert.is(l.predict(next), 1000);
  l.finished(job(1, 0, 1, 50, 100, 7));
  assert.is(l.predict(next), 500);
  l.finished(job(2, 0, 1, 300, 100, 7)); // overran its request: counts as 1
  assert.is(l.predict(next), 750);
  assert.is(l.predict(job(4, 0, 1, 5, 1000, 8)), 1000); // another user: no history
});

test("--backfill values parse; easy is classic EASY, committed-head the former easy", () => {
  assert.equal(parseBackfill("easy"), { kind: "reservations", reservations: 1, relax: 0 });
  assert.equal(parseBackfill("committed-head"), { kind: "committed-head" });
  assert.equal(parseBackfill("K=5"), { kind: "reservations", reservations: 5, relax: 0 });
  assert.equal(parseBackfill("relaxed"), { kind: "reservations", reservations: 1, relax: 0.1 });
  assert.equal(parseBackfill("relaxed=0.5"), { kind: "reservations", reservations: 1, relax: 0.5 });
  assert.is(parseBackfill("conservative").kind, "reservations");
  for (const bad of ["K=0", "K=x", "relaxed=-1", "EASY"]) assert.throws(() => parseBackfill(bad));
});

test("committed-head keeps the numbers the former --backfill easy gave", () => {
  // Recorded with the implementation before the rename, on this fixed sequence.
  const rng = mulberry32(16);
  const jobs: BatchJob[] = [];
  let t = 0;
  for (let i = 0; i < 60; i++) {
    t += Math.floor(rng() * 40);
    const run = 1 + Math.floor(rng() * 300);
    const reqTime = run + Math.floor(rng() * 200);
    const procs = 1 + Math.floor(rng() * 8);
    jobs.push({ id: i + 1, submit: t, run, reqTime, procs, nodes: procs, start: -1, seq: i });
  }
  const before: Record<string, [number, number]> = {
    fcfs: [15.53259484592024, 16.520664617395564],
    sjf: [9.535376392213863, 10.701292895728603],
    wfp3: [23.774384202792863, 24.485465654582857],
    unicep: [21.77497995587427, 22.27682140602464],
    f1: [15.519846666068057, 16.50791643754338],
  };
  for (const [order, [committedHead, rlscheduler]] of Object.entries(before)) {
    const o = order as OrderName;
    assert.ok(Math.abs(runSequence(jobs, 0, machine(8), o, "committed-head").avgBoundedSlowdown - committedHead) < 1e-9, order);
    assert.ok(Math.abs(runSequence(jobs, 0, machine(8), o, "rlscheduler").avgBoundedSlowdown - rlscheduler) < 1e-9, order);
  }
});

test.run();
