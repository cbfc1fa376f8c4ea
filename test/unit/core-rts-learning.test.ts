import { test } from "uvu";
import * as assert from "uvu/assert";
import { success } from "../../src/core/rts/factors.js";
import { LearningTable, PenaltyTable, RecentKinds, RUNTIME_RATIO_ALPHA } from "../../src/core/rts/learning.js";

const obs = (over: Partial<Parameters<LearningTable["record"]>[0]> = {}) => ({
  kind: "k",
  workerId: "w",
  succeeded: true,
  actualMs: 2000,
  estimateMs: 1000,
  nowMs: 0,
  ...over,
});

test("runtime ratio starts at 1 and moves by alpha, converging to the true ratio", () => {
  const t = new LearningTable();
  assert.is(t.get("k", "w"), undefined);
  const first = t.record(obs());
  assert.ok(Math.abs(first.runtimeRatio - (1 - RUNTIME_RATIO_ALPHA + RUNTIME_RATIO_ALPHA * 2)) < 1e-12);
  for (let i = 0; i < 40; i++) t.record(obs({ nowMs: i }));
  assert.ok(Math.abs(t.get("k", "w")!.runtimeRatio - 2) < 1e-4);
  assert.is(t.get("k", "w")!.successes, 41);
  assert.is(t.get("k", "w")!.samples, 41);
  assert.is(t.get("k", "w")!.updatedAtMs, 39);
  // Prediction error shrinks as the prediction converges.
  assert.ok(t.get("k", "w")!.predictionError < 0.01);
});

test("prediction error: EWMA of |actual - predicted| / predicted", () => {
  const t = new LearningTable();
  const r = t.record(obs({ actualMs: 1500, estimateMs: 1000 })); // predicted 1000 (ratio 1): error 0.5
  assert.ok(Math.abs(r.predictionError - RUNTIME_RATIO_ALPHA * 0.5) < 1e-12);
});

test("failures and missing estimates do not move the runtime ratio", () => {
  const t = new LearningTable();
  t.record(obs({ succeeded: false, actualMs: 99_000 }));
  t.record(obs({ estimateMs: 0, actualMs: 99_000 }));
  const row = t.get("k", "w")!;
  assert.is(row.runtimeRatio, 1);
  assert.is(row.failures, 1);
  assert.is(row.successes, 1);
  assert.is(row.samples, 2);
});

test("record returns a copy; rows are per (kind, worker)", () => {
  const t = new LearningTable();
  const r = t.record(obs());
  r.successes = 1000;
  assert.is(t.get("k", "w")!.successes, 1);
  t.record(obs({ workerId: "v", succeeded: false }));
  t.record(obs({ kind: "other" }));
  assert.is(t.size, 3);
  assert.is(t.get("k", "v")!.failures, 1);
});

test("load restores rows and repairs bad numbers", () => {
  const t = new LearningTable();
  t.load([
    { kind: "k", workerId: "w", runtimeRatio: 0.5, successes: 3, failures: 1, predictionError: 0.1, samples: 4, updatedAtMs: 7 },
    { kind: "k", workerId: "bad", runtimeRatio: NaN, successes: -1, failures: NaN, predictionError: Infinity, samples: NaN, updatedAtMs: NaN },
  ]);
  assert.equal(t.get("k", "w"), { kind: "k", workerId: "w", runtimeRatio: 0.5, successes: 3, failures: 1, predictionError: 0.1, samples: 4, updatedAtMs: 7 });
  const bad = t.get("k", "bad")!;
  assert.is(bad.runtimeRatio, 1);
  assert.is(bad.successes, 0);
  assert.is(bad.failures, 0);
  assert.is(bad.predictionError, 0);
  assert.is(bad.samples, 0);
});

test("success counts feed S relative to the kind: neutral alone, lower beside a better worker", () => {
  const t = new LearningTable();
  assert.is(success(t.get("k", "w"), t.kindTotals("k")), 0.5);
  for (let i = 0; i < 97; i++) t.record(obs({ succeeded: i % 10 !== 0 })); // ~90%
  // The only worker of the kind: its rate is the kind's rate.
  assert.ok(Math.abs(success(t.get("k", "w"), t.kindTotals("k")) - 0.5) < 1e-12);
  for (let i = 0; i < 97; i++) t.record(obs({ workerId: "v" })); // 100%
  const s = success(t.get("k", "w"), t.kindTotals("k"));
  assert.ok(s > 0.05 && s < 0.4, String(s));
});

test("penalty decays with its half-life (injected time) and persists via snapshot/load", () => {
  const p = new PenaltyTable(10 * 60_000);
  p.record("w", 0);
  p.record("w", 0);
  assert.ok(Math.abs(p.count("w", 0) - 2) < 1e-12);
  assert.ok(Math.abs(p.count("w", 10 * 60_000) - 1) < 1e-12);
  assert.ok(Math.abs(p.count("w", 20 * 60_000) - 0.5) < 1e-12);
  assert.ok(p.value("w", 0) > p.value("w", 10 * 60_000));
  assert.ok(p.value("w", 10 * 60 * 60_000) < 1e-6);
  // A clock that goes backwards decays nothing.
  assert.ok(Math.abs(p.count("w", -5000) - 2) < 1e-12);
  p.record("v", 0, 3);
  const q = new PenaltyTable(10 * 60_000);
  q.load(p.snapshot(10 * 60_000));
  assert.ok(Math.abs(q.count("w", 20 * 60_000) - 0.5) < 1e-9);
  assert.ok(Math.abs(q.count("v", 10 * 60_000) - 1.5) < 1e-9);
  q.load([{ workerId: "x", score: NaN, atMs: 0 }]);
  assert.is(q.value("x", 0), 0);
  p.record("z", 0, NaN);
  assert.is(p.value("z", 0), 0);
});

test("warmth: 1 right after running the kind, halves per half-life, 0 for unknown or empty kind", () => {
  const r = new RecentKinds(5 * 60_000);
  r.record("w", "build", 1000);
  assert.is(r.warmth("w", "build", 1000), 1);
  assert.ok(Math.abs(r.warmth("w", "build", 1000 + 5 * 60_000) - 0.5) < 1e-12);
  assert.ok(Math.abs(r.warmth("w", "build", 1000 + 10 * 60_000) - 0.25) < 1e-12);
  assert.is(r.warmth("w", "test", 1000), 0);
  assert.is(r.warmth("v", "build", 1000), 0);
  r.record("w", "", 1000);
  assert.is(r.warmth("w", "", 1000), 0);
});

test("recent kinds are bounded per worker, least recently run forgotten first", () => {
  const r = new RecentKinds(60_000, 3);
  for (const [i, k] of ["a", "b", "c"].entries()) r.record("w", k, i);
  r.record("w", "a", 10); // a is fresh again
  r.record("w", "d", 11); // evicts b
  assert.equal(r.kindsOf("w"), ["c", "a", "d"]);
  assert.is(r.warmth("w", "b", 11), 0);
  assert.ok(r.warmth("w", "a", 11) > 0.99);
  r.forget("w");
  assert.equal(r.kindsOf("w"), []);
  assert.is(r.warmth("w", "a", 11), 0);
});

test.run();
