// Fair share in the simulator (issue 15): the noisy-neighbour scenario at reduced size under both
// orderings, quotas through planDispatch, and the measurement pieces (Jain's index, per-project
// metrics, decayed usage ticks, SWF users as projects).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { allocate } from "../../src/core/worker-slot.js";
import { buildSlot } from "../../src/sim/build.js";
import { simulate, type SimResult } from "../../src/sim/engine.js";
import { SimFairShare } from "../../src/sim/fair-share.js";
import { firstReleaseAfter } from "../../src/sim/fairshare-report.js";
import { FairnessMeter, jainIndex } from "../../src/sim/fairness.js";
import type { TaskOutcome } from "../../src/sim/metrics.js";
import { projectMetrics } from "../../src/sim/project-metrics.js";
import { heteroWorkload } from "../../src/sim/workloads/hetero.js";
import { noisyNeighbourWorkload } from "../../src/sim/workloads/noisy.js";
import { parseSwf, swfWorkload } from "../../src/sim/workloads/swf.js";
import { runCli } from "../helpers/run-cli.js";

const SMALL = { gpus: 16, aTasks: 500, bTasks: 20, bDelayS: 60, taskS: 60 };

function project(r: SimResult, name: string) {
  const row = r.sharing?.projects.find((p) => p.project === name);
  if (row === undefined) throw new Error(`no row for ${name}`);
  return row;
}

/** Most tasks of `name` running at once, from the outcomes. */
function peakRunning(outcomes: readonly TaskOutcome[], name: string): number {
  const edges: [number, number][] = [];
  for (const o of outcomes) if (o.project === name && o.startMs >= 0) edges.push([o.startMs, 1], [o.finishMs, -1]);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]); // a finish before a start at the same instant
  let now = 0;
  let peak = 0;
  for (const [, d] of edges) peak = Math.max(peak, (now += d));
  return peak;
}

test("noisy neighbour (500 A, 20 B, 16 GPUs): multifactor starts B at the next GPU release; priority makes B wait for all of A", () => {
  const w = noisyNeighbourWorkload(SMALL);
  const multi = simulate(w, { placement: "rts", seed: 1, ordering: "multifactor", checkInvariants: true });
  const prio = simulate(w, { placement: "rts", seed: 1, ordering: "priority", checkInvariants: true });
  for (const r of [multi, prio]) assert.is(r.metrics.completed, 520);

  const bm = project(multi, "B");
  assert.is(bm.firstStartMs, firstReleaseAfter(multi.outcomes, 60_000));
  assert.is(bm.firstStartMs, 60_000); // A's first 16 tasks end as B arrives
  assert.ok(bm.waitS.p50 <= 120, `B's median wait under multifactor ${bm.waitS.p50} s`);
  assert.ok(bm.waitS.p95 <= 180, `B's p95 wait under multifactor ${bm.waitS.p95} s`);

  const bp = project(prio, "B");
  // 500 A tasks are 31.25 rounds of 60 s: B starts when the last of A does.
  assert.is(bp.firstStartMs, 31 * 60_000);
  assert.ok(bp.waitS.p50 >= 1800, `B's median wait under priority ${bp.waitS.p50} s`);
  assert.ok(bp.waitS.p50 > 10 * bm.waitS.p50 + 600);

  // Jain's index: B catches up with A's usage under multifactor; under priority B has none for 30 minutes.
  assert.ok(multi.sharing!.fairness.jain.mean > 0.85, `multifactor J ${multi.sharing!.fairness.jain.mean}`);
  assert.ok(Math.abs(prio.sharing!.fairness.jain.mean - 0.5) < 0.01, `priority J ${prio.sharing!.fairness.jain.mean}`);
});

test("B submitted between releases starts at the first release after its submission", () => {
  const w = noisyNeighbourWorkload({ ...SMALL, bDelayS: 90 });
  const r = simulate(w, { placement: "round_robin", seed: 1, ordering: "multifactor" });
  const release = firstReleaseAfter(r.outcomes, 90_000);
  assert.is(release, 120_000);
  assert.is(project(r, "B").firstStartMs, release);
});

test("fair-share factors change only at usage ticks: with a 10-minute tick B waits for the first one", () => {
  const w = noisyNeighbourWorkload(SMALL);
  const r = simulate(w, { placement: "round_robin", seed: 1, ordering: "multifactor", sharing: { usageTickMs: 600_000 } });
  // Before the first tick nobody has usage, every F is 1, and A's older tasks go first on age.
  assert.is(project(r, "B").firstStartMs, 600_000);
});

test("quotas: B lending nothing caps A at 8 GPUs; with borrowing A runs borrowed attempts", () => {
  const w = noisyNeighbourWorkload(SMALL);
  const quota = (lend: Record<string, number>) => ({
    quotas: [
      { project: "A", nominal: { gpu: 8 }, borrowingLimit: {}, lendingLimit: {} },
      { project: "B", nominal: { gpu: 8 }, borrowingLimit: {}, lendingLimit: lend },
    ],
  });
  const strict = simulate(w, { placement: "rts", seed: 1, sharing: quota({ gpu: 0 }), checkInvariants: true });
  assert.is(peakRunning(strict.outcomes, "A"), 8);
  assert.is(strict.sharing!.borrowedStarts, 0);
  assert.is(project(strict, "B").firstStartMs, 60_000);
  assert.is(strict.metrics.completed, 520);

  const lending = simulate(w, { placement: "rts", seed: 1, sharing: quota({}) });
  assert.is(peakRunning(lending.outcomes, "A"), 16);
  assert.ok(lending.sharing!.borrowedStarts >= 8);
});

test("one project: no sharing bookkeeping, and multifactor orders exactly as priority", () => {
  const w = heteroWorkload({ seed: 4, tasks: 400, workers: 6 });
  const prio = simulate(w, { placement: "rts", seed: 4 });
  const multi = simulate(w, { placement: "rts", seed: 4, ordering: "multifactor" });
  assert.is(prio.sharing, null);
  assert.ok(multi.sharing !== null);
  assert.is(JSON.stringify(multi.metrics), JSON.stringify(prio.metrics));
});

test("Jain's index: hand-computed values", () => {
  assert.is(jainIndex([1, 1, 1]), 1);
  assert.is(jainIndex([1, 0]), 0.5);
  assert.is(jainIndex([3, 1]), 16 / 20);
  assert.ok(Number.isNaN(jainIndex([])));
  assert.ok(Number.isNaN(jainIndex([0, 0])));
});

test("fairness meter: time-weighted J of share-normalised decayed usage over the projects with demand", () => {
  const meter = new FairnessMeter(1e15, () => 1); // a half-life so long nothing decays
  meter.queuedDelta("a", 1);
  meter.queuedDelta("b", 1);
  meter.sample(0);
  meter.queuedDelta("a", -1);
  meter.runningDelta("a", 1, 1);
  meter.sample(10_000); // at t = 0 nobody has used anything (J undefined): the interval is skipped
  meter.sample(20_000); // a has 10 -> 20 unit-s, b (queued) 0: J = 0.5 throughout
  meter.runningDelta("a", -1, 1);
  meter.sample(30_000); // only b has demand: not contended
  const s = meter.summary();
  assert.is(s.jain.contendedS, 10);
  assert.ok(Math.abs(s.jain.mean - 0.5) < 1e-12);
  assert.is(s.backloggedJain.contendedS, 0); // a never had a queued task once it ran
  const meter2 = new FairnessMeter(1e15, (p) => (p === "a" ? 2 : 1));
  meter2.queuedDelta("a", 1);
  meter2.runningDelta("a", 1, 2);
  meter2.queuedDelta("b", 1);
  meter2.runningDelta("b", 1, 1);
  meter2.sample(1000);
  meter2.sample(5000);
  // a holds 2 units/s on 2 shares, b 1 unit/s on 1 share: x equal at every instant.
  assert.ok(Math.abs(meter2.summary().jain.mean - 1) < 1e-9);
  assert.is(meter2.summary().jain.contendedS, 4); // the first second starts with no usage
});

test("per-project metrics: wait and bounded slowdown percentiles, first start", () => {
  const o = (project: string, submitMs: number, startMs: number, runMs: number): TaskOutcome => ({
    project,
    submitMs,
    deadlineMs: null,
    startMs,
    finishMs: startMs + runMs,
    runMs,
    succeeded: true,
    attempts: 1,
  });
  const rows = projectMetrics([o("x", 0, 0, 60_000), o("x", 0, 60_000, 60_000), o("y", 10_000, 120_000, 5_000)], new Map([["x", 120]]));
  assert.equal(
    rows.map((r) => r.project),
    ["x", "y"],
  );
  assert.equal([rows[0].waitS.mean, rows[0].waitS.p50, rows[0].waitS.p95], [30, 0, 60]);
  assert.equal([rows[0].boundedSlowdown.p50, rows[0].boundedSlowdown.p95], [1, 2]);
  assert.is(rows[0].consumedUnitS, 120);
  assert.equal([rows[1].firstSubmitMs, rows[1].firstStartMs, rows[1].boundedSlowdown.mean], [10_000, 120_000, 11.5]);
});

test("decayed usage: ticks charged one by one or many at once give the same usage", () => {
  const slot = buildSlot(noisyNeighbourWorkload({ gpus: 1, aTasks: 0, bTasks: 0 }).workers[0]);
  allocate(slot, "x", { cpuMillis: 0, memoryMib: 0, gpuCount: 1, gpuModel: "", gpuMemoryMib: 0 }, [0], "A");
  const halfLifeMs = 60_000;
  const stepwise = new SimFairShare({ halfLifeMs });
  const once = new SimFairShare({ halfLifeMs });
  for (let t = 0; t <= 600_000; t += 1000) stepwise.advanceTo(t, [slot]);
  once.advanceTo(600_000, [slot]);
  assert.ok(Math.abs(stepwise.usageOf("A") - once.usageOf("A")) < 1e-9 * once.usageOf("A"));
  // Ten half-lives at 1 unit/s: close to the steady state h/ln2 = 86.56 unit-seconds.
  assert.ok(Math.abs(once.usageOf("A") - 60 / Math.LN2) < 0.1, `${once.usageOf("A")}`);
  assert.ok(once.factorOf("A") < 1 && once.factorOf("B") === 1);
  // Mid-tick: nothing is charged until the next tick (5 s).
  const fresh = new SimFairShare({ halfLifeMs });
  fresh.advanceTo(4999, [slot]);
  assert.is(fresh.usageOf("A"), 0);
});

test("SWF: user ids (or group ids) become projects", () => {
  const swf = "; MaxProcs: 4\n1 0 0 10 1 -1 -1 1 10 -1 1 7 3 -1 1 -1 -1 -1\n2 5 0 10 1 -1 -1 1 10 -1 1 -1 3 -1 1 -1 -1 -1\n";
  const trace = parseSwf(swf);
  assert.equal(
    swfWorkload(trace).tasks.map((t) => t.project),
    ["user-7", "user-unknown"],
  );
  assert.equal(
    swfWorkload(trace, "g", "group").tasks.map((t) => t.project),
    ["group-3", "group-3"],
  );
  assert.equal(
    swfWorkload(trace, "n", "none").tasks.map((t) => t.project),
    [undefined, undefined],
  );
});

test("taskgrid sim: the noisy-neighbour workload under multifactor, per project, in JSON; bad sharing flags exit 2", async () => {
  const small = ["sim", "--workload", "noisy-neighbour", "--tasks", "100", "--b-tasks", "10", "--workers", "8"];
  const text = await runCli([...small, "--ordering", "multifactor"]);
  assert.is(text.code, 0, text.err);
  assert.match(text.out, /ordering multifactor/);
  assert.match(text.out, /^ {2}B +10 /m);
  assert.match(text.out, /Jain's index/);
  const json = await runCli([...small, "--ordering", "priority", "--json"]);
  assert.is(json.code, 0, json.err);
  const parsed = JSON.parse(json.out);
  assert.equal(
    parsed.projects.map((p: { project: string }) => p.project),
    ["A", "B"],
  );
  assert.is(parsed.projects[1].firstStartMs, 12 * 60_000); // 100 A tasks on 8 GPUs: B starts beside A's last 4
  for (const bad of [
    ["--ordering", "fair"],
    ["--half-life", "0"],
    ["--usage-tick", "soon"],
  ]) {
    const r = await runCli([...small, ...bad]);
    assert.is(r.code, 2, `${bad.join(" ")}: ${r.err}`);
    assert.match(r.err, new RegExp(`--${bad[0].slice(2)}`));
  }
});

test.run();
