// S, the success factor, is relative to the kind: a command that fails on every worker (a user's
// bug) blames none of them; a worker that fails a kind the others run fine scores below them.
// Attempt ends go through RtsFeedback, the rules the master and the simulator share, and S is read
// from the breakdown RtsPlacement builds, as `taskgrid get` shows it.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Candidate } from "../../src/core/placement.js";
import { RoundRobinPlacement } from "../../src/core/placement.js";
import { int, mulberry32, pick } from "../../src/core/random.js";
import { success } from "../../src/core/rts/factors.js";
import { RtsFeedback } from "../../src/core/rts/feedback.js";
import { LearningTable } from "../../src/core/rts/learning.js";
import { RtsPlacement } from "../../src/core/rts/rts-placement.js";
import { DEFAULT_WEIGHTS } from "../../src/core/rts/weights.js";
import type { AttemptOutcome, Task, TaskResult } from "../../src/core/types.js";
import { slot, task } from "../helpers/domain.js";

const NOW = 1_000_000;

const ended = (outcome: AttemptOutcome, exitCode = outcome === "SUCCEEDED" ? 0 : 1, signal = ""): TaskResult => ({
  outcome,
  exitCode,
  signal,
  outputTail: "",
  durationMs: 1000,
  message: "",
});

/** Runs `n` attempts of the kind on the worker, each ending with `result`. */
function run(feedback: RtsFeedback, kind: string, workerId: string, n: number, result: TaskResult): void {
  for (let i = 0; i < n; i++) feedback.attemptEnded(task({ kind, estimateMs: 1000 }), workerId, result, NOW);
}

/** S of each worker for a task of the kind, from the scorer's own breakdown. */
function scores(feedback: RtsFeedback, kind: string, workerIds: string[]): Record<string, number> {
  const strategy = new RtsPlacement({
    weights: () => ({ weights: DEFAULT_WEIGHTS, version: "t", loadedAtMs: 0, metadata: {} }),
    learning: feedback.learning,
    penalties: feedback.penalties,
    recentKinds: feedback.recentKinds,
    telemetryMaxAgeMs: 10_000,
    fallback: new RoundRobinPlacement(),
  });
  const t: Task = task({ kind });
  const out: Record<string, number> = {};
  for (const id of workerIds) {
    const candidate: Candidate = { slot: slot(id), gpuIndexes: [] };
    out[id] = strategy.breakdown(t, candidate, NOW, DEFAULT_WEIGHTS).success;
  }
  return out;
}

test("a kind that fails on every worker leaves every worker's S neutral and equal", () => {
  const feedback = new RtsFeedback();
  // Different attempt counts and failure shapes: exit 1, a start failure (command not found), a
  // timeout, the OOM killer's SIGKILL. None of it is any machine's fault when it happens everywhere.
  run(feedback, "buggy", "w1", 12, ended("FAILED", 1));
  run(feedback, "buggy", "w2", 3, ended("START_FAILED", 127));
  run(feedback, "buggy", "w3", 1, ended("TIMEOUT", -1));
  run(feedback, "buggy", "w4", 7, ended("FAILED", -1, "SIGKILL"));
  const s = scores(feedback, "buggy", ["w1", "w2", "w3", "w4", "never-ran-it"]);
  for (const [id, v] of Object.entries(s)) assert.is(v, 0.5, id);
  // The same workers are judged normally on a kind that works elsewhere.
  run(feedback, "fine", "w1", 10, ended("SUCCEEDED"));
  run(feedback, "fine", "w2", 10, ended("FAILED"));
  const fine = scores(feedback, "fine", ["w1", "w2"]);
  assert.ok(fine.w2 < 0.5 && fine.w1 > 0.5, JSON.stringify(fine));
});

test("a kind that fails part of the time on every worker alike blames none of them", () => {
  const feedback = new RtsFeedback();
  for (const [id, n] of [
    ["a", 4],
    ["b", 10],
    ["c", 20],
  ] as const) {
    run(feedback, "flaky", id, n, ended("SUCCEEDED"));
    run(feedback, "flaky", id, n, ended("FAILED"));
  }
  for (const [id, v] of Object.entries(scores(feedback, "flaky", ["a", "b", "c"]))) assert.ok(Math.abs(v - 0.5) < 1e-12, `${id}: ${v}`);
});

test("a worker that fails a kind the others run fine scores below them", () => {
  const feedback = new RtsFeedback();
  run(feedback, "etl", "good-1", 10, ended("SUCCEEDED"));
  run(feedback, "etl", "good-2", 10, ended("SUCCEEDED"));
  run(feedback, "etl", "bad", 8, ended("FAILED"));
  run(feedback, "etl", "bad", 2, ended("SUCCEEDED"));
  run(feedback, "etl", "oom", 5, ended("FAILED", -1, "SIGKILL"));
  const s = scores(feedback, "etl", ["good-1", "good-2", "bad", "oom", "new"]);
  assert.ok(s.bad < 0.3, `bad ${s.bad}`);
  assert.ok(s.oom < 0.3, `oom ${s.oom}`);
  assert.ok(s["good-1"] > 0.5 && s["good-1"] === s["good-2"]);
  assert.is(s.new, 0.5, "a worker that never ran the kind is neutral");
});

test("a worker that runs fine a kind others fail scores above them", () => {
  const feedback = new RtsFeedback();
  run(feedback, "gpu-job", "broken-driver", 10, ended("START_FAILED"));
  run(feedback, "gpu-job", "ok", 10, ended("SUCCEEDED"));
  const s = scores(feedback, "gpu-job", ["broken-driver", "ok"]);
  assert.ok(s.ok > 0.75 && s["broken-driver"] < 0.25, JSON.stringify(s));
});

test("cancels and lost attempts do not move S; kinds are judged separately", () => {
  const feedback = new RtsFeedback();
  run(feedback, "k", "w1", 10, ended("SUCCEEDED"));
  run(feedback, "k", "w2", 10, ended("SUCCEEDED"));
  run(feedback, "k", "w2", 5, ended("CANCELED"));
  run(feedback, "k", "w2", 5, ended("LOST", -1));
  run(feedback, "other", "w2", 10, ended("FAILED"));
  run(feedback, "other", "w1", 10, ended("SUCCEEDED"));
  const s = scores(feedback, "k", ["w1", "w2"]);
  assert.is(s.w1, 0.5);
  assert.is(s.w2, 0.5);
});

test("few samples stay near neutral; evidence moves S step by step", () => {
  // Against a kind 1000 attempts have run fine elsewhere, one failure is only a hint.
  const others = { successes: 1000, failures: 0 };
  const afterFailures = (n: number) => success({ successes: 0, failures: n }, { successes: others.successes, failures: n });
  const one = afterFailures(1);
  assert.ok(one > 0.3 && one < 0.5, String(one));
  let previous = 0.5;
  for (const n of [1, 2, 3, 5, 10, 20]) {
    const v = afterFailures(n);
    assert.ok(v < previous, `${n} failures: ${v} >= ${previous}`);
    previous = v;
  }
  assert.ok(previous < 0.05, "20 failures where 1000 succeeded is a bad machine");
  // One success on a kind that failed 1000 times elsewhere: a hint the other way, as large.
  const lucky = success({ successes: 1, failures: 0 }, { successes: 1, failures: 1000 });
  assert.ok(Math.abs(lucky - 0.5 - (0.5 - one)) < 0.01, String(lucky));
  // Few attempts on the other workers: the kind's rate is mostly this worker's, S stays near 0.5.
  const fewOthers = success({ successes: 0, failures: 10 }, { successes: 1, failures: 10 });
  assert.ok(fewOthers > 0.4 && fewOthers < 0.5, String(fewOthers));
});

test("kind totals are derived from the rows: record and load (a reload replaces, never adds)", () => {
  const t = new LearningTable();
  assert.is(t.kindTotals("k"), undefined);
  const row = (workerId: string, successes: number, failures: number) => ({
    kind: "k",
    workerId,
    runtimeRatio: 1,
    successes,
    failures,
    predictionError: 0,
    samples: successes + failures,
    updatedAtMs: 0,
  });
  t.load([row("a", 3, 1), row("b", 5, 0)]);
  assert.equal(t.kindTotals("k"), { successes: 8, failures: 1 });
  t.record({ kind: "k", workerId: "a", succeeded: false, actualMs: 1, estimateMs: 1, nowMs: 1 });
  t.record({ kind: "k", workerId: "c", succeeded: true, actualMs: 1, estimateMs: 1, nowMs: 1 });
  assert.equal(t.kindTotals("k"), { successes: 9, failures: 2 });
  t.load([row("a", 10, 0), { ...row("b", 0, 0), successes: NaN }]);
  assert.equal(t.kindTotals("k"), { successes: 11, failures: 0 });
  // The totals always equal the sum of the rows.
  const sum = { successes: 0, failures: 0 };
  for (const r of t.rows()) {
    sum.successes += r.successes;
    sum.failures += r.failures;
  }
  assert.equal(t.kindTotals("k"), sum);
});

test("property: S is finite and in [0, 1] for any counts, and 0.5 whenever rates match", () => {
  const rng = mulberry32(16);
  const odd = [0, 1, 2, 7, 1e6, 1e300, Number.MAX_VALUE, Infinity, -Infinity, -3, NaN, 0.5];
  const value = () => (rng() < 0.2 ? pick(rng, odd) : int(rng, 0, 500));
  for (let i = 0; i < 20_000; i++) {
    const own = rng() < 0.05 ? undefined : { successes: value(), failures: value() };
    const kind = rng() < 0.05 ? undefined : { successes: value(), failures: value() };
    const s = success(own, kind);
    assert.ok(Number.isFinite(s) && s >= 0 && s <= 1, `S(${JSON.stringify(own)}, ${JSON.stringify(kind)}) = ${s}`);
  }
  for (let i = 0; i < 2_000; i++) {
    // Every worker at the same rate (k successes per m attempts): S = 0.5 whatever the counts.
    const m = int(rng, 1, 10);
    const k = int(rng, 0, m);
    const scale = int(rng, 1, 50);
    const others = int(rng, 0, 50);
    const s = success({ successes: k * scale, failures: (m - k) * scale }, { successes: k * (scale + others), failures: (m - k) * (scale + others) });
    assert.ok(Math.abs(s - 0.5) < 1e-9, `rate ${k}/${m} x ${scale}: ${s}`);
  }
});

test.run();
