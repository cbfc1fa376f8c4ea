// The master's metrics glue (sources over MasterState, instrumented placement, the event watcher)
// and the cost of one scrape at 1,000 workers / 100,000 tasks (printed, not asserted).
import { performance } from "node:perf_hooks";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { RoundRobinPlacement } from "../../src/core/placement.js";
import { PRIORITIES, QUEUE_CLASSES, type Task, type TaskEvent, type TaskResult, type TaskState, type WorkerStatus } from "../../src/core/types.js";
import { newWorkerSlot, type WorkerSlot } from "../../src/core/worker-slot.js";
import { instrumentPlacement, masterMetricSources, recordAttemptEnd, taskEventMetrics } from "../../src/telemetry/master-metrics.js";
import { NOOP_RECORDER, type MetricsServer } from "../../src/telemetry/metrics.js";
import { parsePrometheusText, type Exposition } from "../helpers/prom-text.js";
import { task as makeTask, worker as makeWorker } from "../helpers/domain.js";
import { countingSources, driveRecorder, samplesOf, scrape, scrapeText, start, stopServersAfterEach, value } from "../helpers/metrics.js";

// ---- helpers -----------------------------------------------------------------------------------
stopServersAfterEach(test);

function fakeState(tasks: Task[], slots: WorkerSlot[]) {
  return { activeTasks: new Map(tasks.map((t) => [t.id, t])), slots: new Map(slots.map((s) => [s.worker.id, s])) };
}

function telemetry(cpuLoad: number, gpus: number[]) {
  return {
    sampledAtMs: 0,
    cpuLoad,
    memoryUsedMib: 0,
    memoryTotalMib: 0,
    ioPressure: 0,
    runningAttempts: 0,
    gpus: gpus.map((p, index) => ({ index, utilizationPercent: p, memoryUsedMib: 0 })),
    probeErrors: [],
  };
}

test("masterMetricSources reads MasterState from memory", async () => {
  const tasks = [
    makeTask({ queueClass: "LIVE", priority: "HIGH" }),
    makeTask({ queueClass: "LIVE", priority: "HIGH" }),
    makeTask({ queueClass: "BATCH", priority: "LOW" }),
    makeTask({}, { state: "RUNNING" }),
    makeTask({}, { state: "PAUSED" }),
  ];
  const slots = [
    newWorkerSlot(makeWorker("w1", { telemetry: telemetry(0.5, [40, 100]) })),
    newWorkerSlot(makeWorker("w2", { status: "SUSPECT", telemetry: telemetry(0.25, []) })),
    newWorkerSlot(makeWorker("w3", { status: "OFFLINE", telemetry: telemetry(0.9, [10]) })),
    newWorkerSlot(makeWorker("w4")),
  ];
  const src = masterMetricSources({ state: fakeState(tasks, slots), weightsVersion: () => "defaults" });
  assert.equal(src.tasksByState(), { QUEUED: 3, ASSIGNED: 0, RUNNING: 1, PAUSED: 1 });
  const q = src.queueLengths();
  assert.is(q.length, QUEUE_CLASSES.length * PRIORITIES.length, "every class x priority");
  assert.is(q.find((x) => x.queue === "LIVE" && x.priority === "HIGH")!.length, 2);
  assert.is(q.find((x) => x.queue === "BATCH" && x.priority === "LOW")!.length, 1);
  assert.is(q.find((x) => x.queue === "DEFAULT" && x.priority === "NORMAL")!.length, 0);
  assert.equal(src.workersByStatus(), { ONLINE: 2, SUSPECT: 1, OFFLINE: 1, DRAINING: 0 });
  assert.equal(src.workerCpuLoad(), [
    { worker: "w1", load: 0.5 },
    { worker: "w2", load: 0.25 },
  ]);
  assert.equal(src.workerGpuUtilization(), [
    { worker: "w1", gpu: 0, utilization: 0.4 },
    { worker: "w1", gpu: 1, utilization: 1 },
  ]);
  assert.is(src.weightsVersion(), "defaults");

  // Through the endpoint, terminal states come from the recorder.
  const m = await start(src);
  m.recorder.taskFinished("CANCELED");
  const e = await scrape(m);
  assert.is(value(e, "taskgrid_tasks", { state: "CANCELED" }), 1);
  assert.is(value(e, "taskgrid_tasks", { state: "QUEUED" }), 3);
  assert.is(value(e, "taskgrid_weights_info", { version: "defaults" }), 1);
});

test("instrumentPlacement records decision, time, fallback and queue wait without changing the choice", async () => {
  const m = await start(countingSources().sources);
  const inner = new RoundRobinPlacement();
  const reference = new RoundRobinPlacement();
  const placement = instrumentPlacement(inner, m.recorder);
  assert.is(placement.name, "round_robin");
  const slots = [newWorkerSlot(makeWorker("a")), newWorkerSlot(makeWorker("b"))];
  const candidates = slots.map((slot) => ({ slot, gpuIndexes: [] }));
  for (let i = 0; i < 3; i++) {
    const t = makeTask({}, { updatedAtMs: 1_000 });
    const got = placement.choose(t, candidates, 3_000);
    const want = reference.choose(t, candidates, 3_000);
    assert.is(got.candidate.slot.worker.id, want.candidate.slot.worker.id);
  }
  // A strategy that falls back.
  const falling = instrumentPlacement({ name: "rts", choose: (t, c, now) => new RoundRobinPlacement().choose(t, c, now, "no_fresh_telemetry") }, m.recorder);
  falling.choose(makeTask({}, { updatedAtMs: 2_500 }), candidates, 3_000);
  const e = await scrape(m);
  assert.is(value(e, "taskgrid_scheduler_decisions_total", { strategy: "round_robin" }), 4);
  assert.is(value(e, "taskgrid_scheduler_fallbacks_total", { reason: "no_fresh_telemetry" }), 1);
  assert.is(value(e, "taskgrid_scheduler_decision_seconds_count"), 4);
  assert.is(value(e, "taskgrid_task_wait_seconds_count"), 4);
  assert.is(value(e, "taskgrid_task_wait_seconds_sum"), 2 * 3 + 0.5);
});

test("taskEventMetrics counts submissions and finished tasks; recordAttemptEnd run time and misses", async () => {
  const m = await start(countingSources().sources);
  const watcher = taskEventMetrics(m.recorder);
  assert.is(watcher.taskIds, null);
  assert.is(watcher.project, "");
  const ev = (state: TaskState, attemptId = ""): TaskEvent => ({
    taskId: "t",
    state,
    progress: 0,
    progressMessage: "",
    timeMs: 0,
    attemptId,
    workerId: "",
    result: null,
    actor: "",
  });
  for (const e of [
    ev("QUEUED"),
    ev("QUEUED"),
    ev("ASSIGNED", "a1"),
    ev("RUNNING", "a1"),
    ev("QUEUED", "a1"),
    ev("SUCCEEDED", "a2"),
    ev("FAILED", "a3"),
    ev("CANCELED"),
  ])
    watcher.push(e, "p");
  const result = (outcome: TaskResult["outcome"], durationMs: number): TaskResult => ({
    outcome,
    exitCode: 0,
    signal: "",
    outputTail: "",
    durationMs,
    message: "",
  });
  recordAttemptEnd(m.recorder, result("SUCCEEDED", 2_000), false);
  recordAttemptEnd(m.recorder, result("TIMEOUT", 500), true);
  recordAttemptEnd(m.recorder, result("LOST", 0), false);
  recordAttemptEnd(m.recorder, result("START_FAILED", 0), false);
  const e = await scrape(m);
  assert.is(value(e, "taskgrid_tasks_submitted_total"), 2, "a requeue is not a submission");
  assert.is(value(e, "taskgrid_tasks_finished_total", { outcome: "SUCCEEDED" }), 1);
  assert.is(value(e, "taskgrid_tasks_finished_total", { outcome: "FAILED" }), 1);
  assert.is(value(e, "taskgrid_tasks_finished_total", { outcome: "CANCELED" }), 1);
  assert.is(value(e, "taskgrid_task_run_seconds_count"), 2, "LOST and START_FAILED did not run");
  assert.is(value(e, "taskgrid_task_run_seconds_sum"), 2.5);
  assert.is(value(e, "taskgrid_deadline_misses_total"), 1);
  // The no-op recorder accepts everything.
  driveRecorder({ recorder: NOOP_RECORDER } as MetricsServer);
});

// ---- scrape cost -------------------------------------------------------------------------------

async function timeScrapes(m: MetricsServer, n: number): Promise<{ minMs: number; medianMs: number; bytes: number; e: Exposition }> {
  const times: number[] = [];
  let text = "";
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    text = (await scrapeText(m)).text;
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { minMs: times[0], medianMs: times[Math.floor(n / 2)], bytes: Buffer.byteLength(text), e: parsePrometheusText(text) };
}

test("scrape cost at 1,000 workers (8,000 GPUs) and 100,000 tasks (printed)", async () => {
  const WORKERS = 1_000;
  const GPUS = 8;
  const TASKS = 100_000;
  // (a) Sources returning precomputed figures: the cost of the metrics module itself.
  const cpu = Array.from({ length: WORKERS }, (_, i) => ({ worker: `worker-${String(i).padStart(4, "0")}`, load: (i % 100) / 100 }));
  const gpus = cpu.flatMap((w, i) => Array.from({ length: GPUS }, (_, g) => ({ worker: w.worker, gpu: g, utilization: ((i + g) % 100) / 100 })));
  const counts: Partial<Record<TaskState, number>> = { QUEUED: 60_000, ASSIGNED: 5_000, RUNNING: 30_000, PAUSED: 5_000 };
  const statuses: Partial<Record<WorkerStatus, number>> = { ONLINE: WORKERS };
  const fixed = await start(
    countingSources({ tasksByState: () => counts, workersByStatus: () => statuses, workerCpuLoad: () => cpu, workerGpuUtilization: () => gpus }).sources,
  );
  driveRecorder(fixed);
  await timeScrapes(fixed, 3); // warm-up
  const a = await timeScrapes(fixed, 21);
  assert.is(samplesOf(a.e, "taskgrid_worker_gpu_utilization").length, WORKERS * GPUS);

  // (b) masterMetricSources over a MasterState with 100,000 active tasks and 1,000 workers.
  const states: TaskState[] = ["QUEUED", "QUEUED", "QUEUED", "RUNNING", "ASSIGNED"];
  const tasks = Array.from({ length: TASKS }, (_, i) =>
    makeTask({ queueClass: QUEUE_CLASSES[i % 3], priority: PRIORITIES[(i >> 2) % 3] }, { id: `t${i}`, state: states[i % states.length] }),
  );
  const slots = cpu.map((w, i) =>
    newWorkerSlot(
      makeWorker(w.worker, {
        telemetry: telemetry(
          w.load,
          Array.from({ length: GPUS }, (_, g) => (i + g) % 100),
        ),
      }),
    ),
  );
  const state = fakeState(tasks, slots);
  const live = await start(masterMetricSources({ state, weightsVersion: () => "0123456789ab" }));
  driveRecorder(live);
  await timeScrapes(live, 3);
  const b = await timeScrapes(live, 21);
  assert.is(value(b.e, "taskgrid_tasks", { state: "QUEUED" }), 60_000);
  assert.is(samplesOf(b.e, "taskgrid_worker_gpu_utilization").length, WORKERS * GPUS);
  const src = masterMetricSources({ state, weightsVersion: () => "x" });
  const passes: number[] = [];
  for (let i = 0; i < 11; i++) {
    const t0 = performance.now();
    src.tasksByState();
    src.queueLengths();
    passes.push(performance.now() - t0);
  }
  passes.sort((x, y) => x - y);
  const ms = (r: { minMs: number; medianMs: number }) => `min ${r.minMs.toFixed(1)} / median ${r.medianMs.toFixed(1)} ms`;
  console.log(
    `scrape cost at 1,000 workers (8,000 GPUs) and 100,000 tasks, 21 scrapes, HTTP round trip from the same process: ` +
      `precomputed sources ${ms(a)}; MasterState sources ${ms(b)}, of which tasksByState+queueLengths over the 100,000 tasks ` +
      `min ${passes[0].toFixed(1)} / median ${passes[5].toFixed(1)} ms; body ${(b.bytes / 1024).toFixed(0)} KiB, ${b.e.samples.length} samples`,
  );
});

test.run();
