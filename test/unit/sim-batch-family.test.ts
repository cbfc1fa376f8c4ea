// The multifactor order family est^a x procs^b / (w + c)^d (src/sim/batch/orders.ts) and the
// shipped member `saf-aged`: its SAF and SJF members rank as those orders do, the aging term lets
// a long-waiting job overtake a newer smaller one (exact schedules on a one-node machine), the
// `family=a,b,c,d` names parse, and the tuner's training windows share no job with the reported
// sequences (src/sim/batch/tune-policy.ts).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { familyName, familyScore, parseFamily, SAF_AGED, scoreFor, sortQueue, type BatchJob } from "../../src/sim/batch/orders.js";
import { runReplanning } from "../../src/sim/batch/replan.js";
import { runSequence } from "../../src/sim/batch/rlscheduler.js";
import { KTH_SP2_JOBS, protocolStarts } from "../../src/sim/batch/starts.js";
import { overlapsAny, trainingStarts } from "../../src/sim/batch/tune-policy.js";

const job = (id: number, submit: number, nodes: number, run: number, reqTime = run): BatchJob => ({
  id,
  submit,
  run,
  reqTime,
  procs: nodes,
  nodes,
  start: -1,
  seq: id,
});
const ids = (q: BatchJob[]): number[] => q.map((j) => j.id);
const machine = (nodes: number) => ({ nodes, ppn: 1, maxProcs: nodes });

test("family a = b = 1, d = 0 ranks as SAF; a = 1, b = d = 0 as SJF", () => {
  // areas 400, 300, 200, 80, 210 (scores are sums of logs: equal areas may tie either way)
  const q = () => [job(1, 0, 4, 100), job(2, 5, 1, 300), job(3, 10, 2, 100), job(4, 15, 8, 10), job(5, 20, 1, 210)];
  assert.equal(ids(sortQueue(q(), familyScore({ a: 1, b: 1, c: 1, d: 0 }), 100)), [4, 3, 5, 2, 1]);
  assert.equal(ids(sortQueue(q(), scoreFor("saf"), 100)), [4, 3, 5, 2, 1]);
  // estimates 100, 300, 100, 10, 210 (1 and 3 tie exactly: the stable sort keeps queue order)
  assert.equal(ids(sortQueue(q(), familyScore({ a: 1, b: 0, c: 1, d: 0 }), 100)), [4, 1, 3, 5, 2]);
});

test("saf-aged: a job that has waited long enough passes a fresher one of smaller area", () => {
  // Areas 50 and 40: 1.11 ln(50/40) = 0.248 must be beaten by 0.415 ln((w + 22,400) / 22,400),
  // i.e. a wait of more than about 18,300 s.
  const old = job(1, 0, 1, 50);
  const fresh = job(2, 19_999, 1, 40);
  assert.equal(ids(sortQueue([fresh, old], scoreFor("saf-aged"), 19_999)), [1, 2]);
  assert.equal(ids(sortQueue([fresh, old], scoreFor("saf"), 19_999)), [2, 1]);
  // After a short wait, area decides as in SAF.
  const a = job(3, 0, 1, 50);
  const b = job(4, 99, 1, 40);
  assert.equal(ids(sortQueue([a, b], scoreFor("saf-aged"), 99)), [4, 3]);
  assert.is(scoreFor("saf-aged")(old, 99), familyScore(SAF_AGED)(old, 99));
});

test("saf-aged + K=16: exact schedules on one node, against SAF's", () => {
  const policy = (order: "saf" | "saf-aged") => ({ score: scoreFor(order), reservations: 16, relax: 0, learner: null });
  // A runs 0-20,000. B (50 s) arrives at 1 and is reserved at 20,000; C (40 s) arrives at 19,999.
  // SAF re-plans C (smaller area) ahead of B: C 20,000-20,040, B 20,040. saf-aged: B has waited
  // long enough to keep its place: B 20,000-20,050, C 20,050.
  const long = () => [job(1, 0, 1, 20_000), job(2, 1, 1, 50), job(3, 19_999, 1, 40)];
  const saf = long();
  runReplanning(saf, machine(1), policy("saf"));
  assert.equal(
    saf.map((j) => j.start),
    [0, 20_040, 20_000],
  );
  const aged = long();
  runReplanning(aged, machine(1), policy("saf-aged"));
  assert.equal(
    aged.map((j) => j.start),
    [0, 20_000, 20_050],
  );
  // The same with A running 0-100: B has waited 99 s only, C goes first as in SAF.
  const short = [job(1, 0, 1, 100), job(2, 1, 1, 50), job(3, 99, 1, 40)];
  runReplanning(short, machine(1), policy("saf-aged"));
  assert.equal(
    short.map((j) => j.start),
    [0, 140, 100],
  );
});

test("saf-aged + K=16: a narrow short job backfills around the wide reserved one", () => {
  // 4 nodes. A (2 nodes) 0-100; W (4 nodes, 50 s) arrives at 1: reserved at 100. S (1 node,
  // 20 s) arrives at 2: ends before the reservation, starts at once. L (2 nodes, 500 s) at 3
  // would hold nodes W needs: it waits until W ends at 150.
  const jobs = [job(1, 0, 2, 100), job(2, 1, 4, 50), job(3, 2, 1, 20), job(4, 3, 2, 500)];
  runReplanning(jobs, machine(4), { score: scoreFor("saf-aged"), reservations: 16, relax: 0, learner: null });
  assert.equal(
    jobs.map((j) => j.start),
    [0, 100, 2, 150],
  );
});

test("family=a,b,c,d names round-trip and run; bad ones throw", () => {
  const p = { a: 1, b: 0.5, c: 10, d: 0.25 };
  assert.equal(parseFamily(familyName(p)), p);
  const jobs = [job(1, 0, 2, 100), job(2, 1, 2, 50), job(3, 2, 1, 20)];
  const viaName = runSequence(jobs, 0, machine(2), familyName({ a: 1, b: 1, c: 1, d: 0 }), "conservative", "true");
  const viaSaf = runSequence(jobs, 0, machine(2), "saf", "conservative", "true");
  assert.is(viaName.avgBoundedSlowdown, viaSaf.avgBoundedSlowdown);
  for (const bad of ["family=1,1,1", "family=1,1,0,1", "family=1,-1,1,1", "family=a,1,1,1", "fam=1,1,1,1"]) assert.throws(() => parseFamily(bad));
});

test("the tuner's training windows share no job with the reported sequences", () => {
  for (const [trace, n] of [
    ["Lublin-1", 10_000],
    ["Lublin-2", 10_000],
    ["KTH-SP2", KTH_SP2_JOBS],
  ] as const) {
    const starts = trainingStarts(trace, n);
    assert.ok(starts.length >= 3, trace);
    for (const s of starts) {
      assert.ok(!overlapsAny(s, protocolStarts(n)), `${trace} ${s}`);
      assert.ok(s >= 0 && s + 1024 <= n, `${trace} ${s}`);
    }
  }
  assert.ok(overlapsAny(958, [1981]) && !overlapsAny(957, [1981]));
});

test.run();
