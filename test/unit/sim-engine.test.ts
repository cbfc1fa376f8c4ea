import { test } from "uvu";
import * as assert from "uvu/assert";
import { simulate } from "../../src/sim/engine.js";
import { boundedSlowdown, computeMetrics } from "../../src/sim/metrics.js";
import { heteroWorkload } from "../../src/sim/workloads/hetero.js";

const small = (seed: number) => heteroWorkload({ seed, tasks: 600, workers: 8 });

test("determinism: same seed gives identical JSON metrics", () => {
  for (const placement of ["rts", "round_robin"] as const) {
    const a = simulate(small(7), { placement, seed: 7 });
    const b = simulate(small(7), { placement, seed: 7 });
    assert.is(JSON.stringify(a.metrics), JSON.stringify(b.metrics));
  }
  const c = simulate(small(8), { placement: "rts", seed: 8 });
  assert.is.not(JSON.stringify(c.metrics), JSON.stringify(simulate(small(7), { placement: "rts", seed: 7 }).metrics));
});

test("RTS and round-robin never over-commit a worker (checked after every pass)", () => {
  for (const placement of ["rts", "round_robin"] as const) {
    const r = simulate(heteroWorkload({ seed: 3, tasks: 800, workers: 6, load: 1.5 }), { placement, seed: 3, checkInvariants: true });
    assert.is(r.metrics.completed, 800);
    assert.ok(r.metrics.waitS.p99 > 0, "the run was contended");
  }
});

test("every task finishes; RTS uses no fallback with fresh telemetry", () => {
  const r = simulate(small(2), { placement: "rts", seed: 2 });
  assert.is(r.metrics.unfinished, 0);
  assert.is(r.metrics.succeeded + r.metrics.failed, 600);
  assert.is(r.metrics.fallbacks, 0);
  assert.ok(r.metrics.decisions >= 600);
  assert.ok(r.metrics.utilisation > 0 && r.metrics.utilisation <= 1);
});

test("hetero: RTS misses far fewer deadlines than round-robin, and the wider deadline sample is part of why", () => {
  let rr = 0;
  let rts = 0;
  let rtsNarrow = 0;
  for (const seed of [1, 2, 3]) {
    const w = heteroWorkload({ seed, tasks: 2000, workers: 30 });
    rr += simulate(w, { placement: "round_robin", seed }).metrics.deadlineMisses;
    rts += simulate(w, { placement: "rts", seed }).metrics.deadlineMisses;
    rtsNarrow += simulate(w, { placement: "rts", seed, deadlineCandidates: 8 }).metrics.deadlineMisses;
  }
  assert.ok(rts <= 0.5 * rr, `RTS ${rts} vs RR ${rr} misses`);
  assert.ok(rts < rtsNarrow, `RTS with 32 candidates ${rts} vs 8 ${rtsNarrow}`);
});

test("bounded slowdown formula, hand-computed", () => {
  assert.is(boundedSlowdown(0, 5_000), 1); // (0+5)/10 = 0.5 -> 1
  assert.is(boundedSlowdown(15_000, 5_000), 2); // (15+5)/max(5,10) = 2
  assert.is(boundedSlowdown(60_000, 20_000), 4); // (60+20)/20
  const m = computeMetrics(
    [
      { submitMs: 0, deadlineMs: 30_000, startMs: 15_000, finishMs: 20_000, runMs: 5_000, succeeded: true, attempts: 1 },
      { submitMs: 0, deadlineMs: 50_000, startMs: 60_000, finishMs: 80_000, runMs: 20_000, succeeded: true, attempts: 1 },
    ],
    { busyCoreMs: 25_000, capacityCores: 1, decisions: 2, fallbacks: 1, passes: 2 },
  );
  assert.is(m.boundedSlowdown.mean, 3);
  assert.is(m.waitS.mean, 37.5);
  assert.is(m.turnaroundS.mean, 50);
  assert.is(m.deadlineMisses, 1);
  assert.is(m.deadlineMissRate, 0.5);
  assert.is(m.utilisation, 25_000 / 80_000);
  assert.is(m.throughputPerS, 2 / 80);
  assert.is(m.fallbackRate, 0.5);
});

test.run();
