import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadJobs, runSequence } from "../../src/sim/batch/rlscheduler.js";
import { simulate } from "../../src/sim/engine.js";
import { parseTaskCsv } from "../../src/sim/workloads/csv.js";
import { heteroWorkload } from "../../src/sim/workloads/hetero.js";
import { parseSwf, swfWorkload } from "../../src/sim/workloads/swf.js";

const SWF = `; Version: 2.2
; MaxNodes: 4
; MaxProcs: 8
; Note: inline sample
1 0 5 100 4 -1 -1 4 200 -1 1 1 1 -1 1 -1 -1 -1
2 10 0 0 2 -1 -1 2 -1 -1 1 2 1 -1 1 -1 -1 -1
3 20 0 -1 1 -1 -1 3 -1 -1 1 3 1 -1 1 -1 -1 -1
4 30 0 50 8 -1 -1 -1 60 -1 1 4 1 -1 1 -1 -1 -1
`;

test("SWF: header fields and the 18 job fields", () => {
  const t = parseSwf(SWF);
  assert.is(t.maxNodes, 4);
  assert.is(t.maxProcs, 8);
  assert.is(t.header.Note, "inline sample");
  assert.is(t.jobs.length, 4);
  assert.equal(
    [t.jobs[0].id, t.jobs[0].submit, t.jobs[0].wait, t.jobs[0].run, t.jobs[0].allocProcs, t.jobs[0].reqProcs, t.jobs[0].reqTime, t.jobs[0].user],
    [1, 0, 5, 100, 4, 4, 200, 1],
  );
  assert.throws(() => parseSwf("1 2 3"), /18/);
});

test("SWF: RLScheduler loading rules and one tiny sequence", () => {
  const { jobs, machine } = loadJobs(parseSwf(SWF));
  assert.equal(machine, { nodes: 4, ppn: 2, maxProcs: 8 });
  assert.equal(
    jobs.map((j) => j.id),
    [1, 3, 4],
  ); // run 0 dropped
  assert.equal([jobs[1].run, jobs[1].reqTime, jobs[1].procs, jobs[1].nodes], [10, -1, 3, 2]); // run<0 -> 10, req -1 -> raw run, procs max
  assert.equal([jobs[2].nodes, jobs[2].reqTime], [4, 60]);
  const r = runSequence(jobs, 0, machine, "fcfs", "none");
  // job1 runs 0-100 (2 nodes); job3 20-30 (2 nodes); job4 needs all 4 nodes: starts at 100.
  const expected = (1 + 1 + (70 + 50) / 50) / 3;
  assert.ok(Math.abs(r.avgBoundedSlowdown - expected) < 1e-12);
});

test("SWF as a general workload: one MaxProcs machine", () => {
  const w = swfWorkload(parseSwf(SWF));
  assert.is(w.workers.length, 1);
  assert.is(w.workers[0].cpuMillis, 8000);
  assert.is(w.tasks.length, 2); // run <= 0 dropped
  const r = simulate(w, { placement: "round_robin", seed: 1, checkInvariants: true });
  assert.is(r.metrics.completed, 2);
});

test("CSV: columns in any order, deadlines optional, errors name the line", () => {
  const tasks = parseTaskCsv("kind,submit,duration,cpus,gpus,gpu_model,deadline\ncpu-a,0,30,2,0,,\ngpu-x,5.5,60,4,1,a100,100\n");
  assert.is(tasks.length, 2);
  assert.equal([tasks[0].submitMs, tasks[0].runtimeMs, tasks[0].cpuMillis, tasks[0].deadlineMs, tasks[0].family], [0, 30_000, 2000, null, "cpu"]);
  assert.equal([tasks[1].submitMs, tasks[1].gpuCount, tasks[1].gpuModel, tasks[1].deadlineMs, tasks[1].family], [5500, 1, "a100", 100_000, "gpu"]);
  assert.throws(() => parseTaskCsv("submit,duration\n1,2\n"), /lacks column "cpus"/);
  assert.throws(() => parseTaskCsv("submit,duration,cpus,gpus,gpu_model,kind,deadline\nx,1,1,0,,k,\n"), /line 2: submit/);
});

test("hetero generator is reproducible and heterogeneous", () => {
  const a = heteroWorkload({ seed: 5, tasks: 300, workers: 10 });
  const b = heteroWorkload({ seed: 5, tasks: 300, workers: 10 });
  assert.is(JSON.stringify(a), JSON.stringify(b));
  assert.is.not(JSON.stringify(heteroWorkload({ seed: 6, tasks: 300, workers: 10 })), JSON.stringify(a));
  const families = new Set(a.tasks.map((t) => t.family));
  assert.equal([...families].sort(), ["cpu", "gpu", "io"]);
  const speeds = a.workers.map((w) => w.speed.cpu);
  assert.ok(Math.max(...speeds) / Math.min(...speeds) > 1.5);
  for (let i = 1; i < a.tasks.length; i++) assert.ok(a.tasks[i].submitMs >= a.tasks[i - 1].submitMs);
});

test.run();
