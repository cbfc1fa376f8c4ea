// The /metrics endpoint (DESIGN §7): every documented name with its labels, exact names (no OTel
// mangling), scrapes that only call the source callbacks, stale series dropped, the master glue
// (sources over MasterState, instrumented placement, event watcher), and the cost of one scrape at
// 1,000 workers / 100,000 tasks (printed, not asserted).
import { createServer } from "node:net";
import { performance } from "node:perf_hooks";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { RoundRobinPlacement } from "../../src/core/placement.js";
import { PRIORITIES, QUEUE_CLASSES, type Task, type TaskEvent, type TaskResult, type TaskState, type WorkerStatus } from "../../src/core/types.js";
import { newWorkerSlot, type WorkerSlot } from "../../src/core/worker-slot.js";
import { instrumentPlacement, masterMetricSources, recordAttemptEnd, taskEventMetrics } from "../../src/telemetry/master-metrics.js";
import { EXPORTED_METRICS, KNOWN_LABEL_VALUES, PROCESS_METRICS, TASKGRID_METRICS, type MetricDoc } from "../../src/telemetry/metric-names.js";
import { NOOP_RECORDER, parseListen, startMetrics, type MetricSources, type MetricsServer } from "../../src/telemetry/metrics.js";
import { familyOf, parsePrometheusText, type Exposition, type Sample } from "../../src/telemetry/prom-text.js";
import { task as makeTask, worker as makeWorker } from "../helpers/domain.js";

// ---- helpers -----------------------------------------------------------------------------------

const servers: MetricsServer[] = [];
test.after.each(async () => {
  while (servers.length) await servers.pop()!.stop();
});

async function start(sources: MetricSources, log?: (line: string) => void): Promise<MetricsServer> {
  const m = await startMetrics({ listen: "127.0.0.1:0", sources, log });
  servers.push(m);
  return m;
}

async function scrapeText(m: MetricsServer): Promise<{ text: string; contentType: string }> {
  const res = await fetch(`http://${m.address}/metrics`);
  assert.is(res.status, 200);
  return { text: await res.text(), contentType: res.headers.get("content-type") ?? "" };
}

async function scrape(m: MetricsServer): Promise<Exposition> {
  return parsePrometheusText((await scrapeText(m)).text);
}

function samplesOf(e: Exposition, name: string): Sample[] {
  return e.samples.filter((s) => s.name === name);
}

function value(e: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const s = e.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v) && Object.keys(x.labels).length === Object.keys(labels).length);
  return s?.value;
}

const SOURCE_KEYS = ["tasksByState", "queueLengths", "workersByStatus", "workerCpuLoad", "workerGpuUtilization", "weightsVersion"] as const;

/** Fake sources behind a Proxy that records every property read and every call. */
function countingSources(overrides: Partial<MetricSources> = {}) {
  const base: MetricSources = {
    tasksByState: () => ({ QUEUED: 5, ASSIGNED: 1, RUNNING: 2, PAUSED: 0 }),
    queueLengths: () => [
      { queue: "LIVE", priority: "HIGH", length: 2 },
      { queue: "BATCH", priority: "LOW", length: 3 },
    ],
    workersByStatus: () => ({ ONLINE: 2, SUSPECT: 1 }),
    workerCpuLoad: () => [
      { worker: "w1", load: 0.25 },
      { worker: "w2", load: 1.5 },
    ],
    workerGpuUtilization: () => [
      { worker: "w1", gpu: 0, utilization: 0.9 },
      { worker: "w1", gpu: 1, utilization: 0.1 },
    ],
    weightsVersion: () => "0123456789ab",
    ...overrides,
  };
  const reads: string[] = [];
  const calls = new Map<string, number>();
  const proxy = new Proxy(base, {
    get(target, prop, receiver) {
      reads.push(String(prop));
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        calls.set(String(prop), (calls.get(String(prop)) ?? 0) + 1);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { sources: proxy, reads, calls };
}

/** Drives every recorder method at least once. */
function driveRecorder(m: MetricsServer): void {
  const r = m.recorder;
  r.taskSubmitted(3);
  r.taskSubmitted(2);
  r.taskFinished("SUCCEEDED");
  r.taskFinished("SUCCEEDED");
  r.taskFinished("FAILED");
  r.taskWaitSeconds(0.004);
  r.taskWaitSeconds(42);
  r.taskRunSeconds(1.5);
  r.decision("rts", 0.00002);
  r.decision("round_robin", 0.000003);
  r.fallback("no_fresh_telemetry");
  r.deadlineMiss();
  r.weightsReload("success");
  r.weightsReload("failure");
}

/** Checks one documented metric in the exposition: type, series names and label names. */
function checkDocumented(e: Exposition, doc: MetricDoc): void {
  assert.is(e.types.get(doc.name), doc.kind, `# TYPE ${doc.name} ${doc.kind}`);
  const expected = [...doc.labels].sort().join(",");
  if (doc.kind === "histogram") {
    const buckets = samplesOf(e, `${doc.name}_bucket`);
    assert.ok(buckets.length > 1, `${doc.name}_bucket series`);
    assert.ok(buckets.some((b) => b.labels.le === "+Inf"), `${doc.name}_bucket{le="+Inf"}`);
    for (const b of buckets) assert.is(Object.keys(b.labels).sort().join(","), [...doc.labels, "le"].sort().join(","), `${doc.name}_bucket labels`);
    for (const suffix of ["_sum", "_count"]) {
      const s = samplesOf(e, doc.name + suffix);
      assert.ok(s.length > 0, `${doc.name}${suffix} present`);
      for (const x of s) assert.is(Object.keys(x.labels).sort().join(","), expected, `${doc.name}${suffix} labels`);
    }
    // Cumulative buckets: non-decreasing, +Inf equals _count.
    let last = -1;
    for (const b of buckets) {
      assert.ok(b.value >= last, `${doc.name} buckets cumulative`);
      last = b.value;
    }
    assert.is(buckets.find((b) => b.labels.le === "+Inf")!.value, samplesOf(e, `${doc.name}_count`)[0].value);
  } else {
    const s = samplesOf(e, doc.name);
    assert.ok(s.length > 0, `${doc.name} has samples`);
    for (const x of s) assert.is(Object.keys(x.labels).sort().join(","), expected, `${doc.name} labels (got ${JSON.stringify(x.labels)})`);
  }
}

// ---- the exposition ----------------------------------------------------------------------------

test("every documented metric appears with exactly its labels, and nothing undocumented", async () => {
  const { sources } = countingSources();
  const m = await start(sources);
  driveRecorder(m);
  const { text, contentType } = await scrapeText(m);
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  const e = parsePrometheusText(text);

  for (const doc of EXPORTED_METRICS) checkDocumented(e, doc);

  // No OTel additions: no target_info, no otel_scope_* labels, no unit lines, no unknown families.
  assert.not.ok(e.types.has("target_info"), "no target_info");
  assert.not.match(text, /otel_scope_|otel_metric_overflow/);
  assert.not.match(text, /^# UNIT/m);
  const documented = new Set(EXPORTED_METRICS.map((d) => d.name));
  for (const family of e.types.keys()) assert.ok(documented.has(family), `undocumented metric family ${family}`);
  for (const s of e.samples) assert.ok(documented.has(familyOf(e, s.name)), `sample ${s.name} belongs to a documented family`);
  // DESIGN §7: counters end in _total.
  for (const doc of EXPORTED_METRICS) if (doc.kind === "counter") assert.ok(doc.name.endsWith("_total"), doc.name);
  assert.is(TASKGRID_METRICS.length, 15);
  assert.ok(PROCESS_METRICS.some((d) => d.name === "process_resident_memory_bytes"));
});

test("values: recorder counters and histograms, source gauges", async () => {
  const { sources } = countingSources();
  const m = await start(sources);
  driveRecorder(m);
  const e = await scrape(m);

  assert.is(value(e, "taskgrid_tasks_submitted_total"), 5);
  assert.is(value(e, "taskgrid_tasks_finished_total", { outcome: "SUCCEEDED" }), 2);
  assert.is(value(e, "taskgrid_tasks_finished_total", { outcome: "FAILED" }), 1);
  assert.is(value(e, "taskgrid_tasks_finished_total", { outcome: "CANCELED" }), 0);
  // Active states from the source; terminal states the source left out come from taskFinished.
  assert.equal(
    Object.fromEntries(samplesOf(e, "taskgrid_tasks").map((s) => [s.labels.state, s.value])),
    { QUEUED: 5, ASSIGNED: 1, RUNNING: 2, PAUSED: 0, SUCCEEDED: 2, FAILED: 1, CANCELED: 0 },
  );
  assert.is(value(e, "taskgrid_queue_length", { queue: "LIVE", priority: "HIGH" }), 2);
  assert.is(value(e, "taskgrid_queue_length", { queue: "BATCH", priority: "LOW" }), 3);
  assert.is(value(e, "taskgrid_workers", { status: "ONLINE" }), 2);
  assert.is(value(e, "taskgrid_workers", { status: "SUSPECT" }), 1);
  assert.is(value(e, "taskgrid_workers", { status: "OFFLINE" }), 0);
  assert.is(value(e, "taskgrid_workers", { status: "DRAINING" }), 0);
  assert.is(value(e, "taskgrid_worker_cpu_load", { worker: "w2" }), 1.5);
  assert.is(value(e, "taskgrid_worker_gpu_utilization", { worker: "w1", gpu: "1" }), 0.1);
  assert.is(value(e, "taskgrid_weights_info", { version: "0123456789ab" }), 1);

  assert.is(value(e, "taskgrid_task_wait_seconds_count"), 2);
  assert.is(value(e, "taskgrid_task_wait_seconds_bucket", { le: "0.005" }), 1);
  assert.is(value(e, "taskgrid_task_wait_seconds_bucket", { le: "60" }), 2);
  assert.is(value(e, "taskgrid_task_run_seconds_sum"), 1.5);
  assert.is(value(e, "taskgrid_scheduler_decisions_total", { strategy: "rts" }), 1);
  assert.is(value(e, "taskgrid_scheduler_decisions_total", { strategy: "round_robin" }), 1);
  assert.is(value(e, "taskgrid_scheduler_fallbacks_total", { reason: "no_fresh_telemetry" }), 1);
  assert.is(value(e, "taskgrid_scheduler_decision_seconds_count"), 2);
  assert.is(value(e, "taskgrid_scheduler_decision_seconds_bucket", { le: "0.000001" }), 0);
  assert.is(value(e, "taskgrid_scheduler_decision_seconds_bucket", { le: "0.000005" }), 1);
  assert.is(value(e, "taskgrid_deadline_misses_total"), 1);
  assert.is(value(e, "taskgrid_weights_reloads_total", { result: "success" }), 1);
  assert.is(value(e, "taskgrid_weights_reloads_total", { result: "failure" }), 1);

  // Bucket ranges: wait/run from 1 ms to 1 h, decisions from 1 us.
  const les = (name: string) => samplesOf(e, `${name}_bucket`).map((s) => s.labels.le);
  for (const name of ["taskgrid_task_wait_seconds", "taskgrid_task_run_seconds"]) {
    assert.is(les(name)[0], "0.001");
    assert.ok(les(name).includes("3600"));
  }
  assert.is(les("taskgrid_scheduler_decision_seconds")[0], "0.000001");

  // Process metrics are live figures.
  assert.ok(value(e, "process_resident_memory_bytes")! > 1_000_000);
  assert.ok(value(e, "process_cpu_seconds_total")! > 0);
  assert.ok(value(e, "nodejs_eventloop_lag_seconds")! >= 0);
});

test("a fresh endpoint already exports the counters with known label values (as 0)", async () => {
  const m = await start(countingSources().sources);
  const e = await scrape(m);
  assert.is(value(e, "taskgrid_tasks_submitted_total"), 0);
  assert.is(value(e, "taskgrid_deadline_misses_total"), 0);
  for (const outcome of KNOWN_LABEL_VALUES.outcome) assert.is(value(e, "taskgrid_tasks_finished_total", { outcome }), 0);
  for (const strategy of KNOWN_LABEL_VALUES.strategy) assert.is(value(e, "taskgrid_scheduler_decisions_total", { strategy }), 0);
  for (const reason of KNOWN_LABEL_VALUES.reason) assert.is(value(e, "taskgrid_scheduler_fallbacks_total", { reason }), 0);
  for (const result of KNOWN_LABEL_VALUES.result) assert.is(value(e, "taskgrid_weights_reloads_total", { result }), 0);
  // Histograms appear with their first observation.
  assert.not.ok(e.types.has("taskgrid_task_wait_seconds"));
});

test("a scrape calls each source callback exactly once and touches nothing else", async () => {
  const { sources, reads, calls } = countingSources();
  const m = await start(sources);
  // Building the server and driving the recorder call no source.
  driveRecorder(m);
  assert.is(calls.size, 0, "no source call before a scrape");
  for (let i = 1; i <= 3; i++) {
    await scrape(m);
    for (const key of SOURCE_KEYS) assert.is(calls.get(key), i, `${key} called once per scrape`);
    assert.is(calls.size, SOURCE_KEYS.length);
  }
  // The only properties ever read on the sources object are the documented callbacks.
  assert.equal([...new Set(reads)].sort(), [...SOURCE_KEYS].sort());
});

test("series of workers that went away are not exported any more", async () => {
  let cpu = [
    { worker: "w1", load: 0.5 },
    { worker: "w2", load: 0.7 },
  ];
  let gpus = [{ worker: "w1", gpu: 0, utilization: 0.5 }];
  let version = "aaaaaaaaaaaa";
  const m = await start(countingSources({ workerCpuLoad: () => cpu, workerGpuUtilization: () => gpus, weightsVersion: () => version }).sources);
  let e = await scrape(m);
  assert.is(samplesOf(e, "taskgrid_worker_cpu_load").length, 2);
  cpu = [{ worker: "w2", load: 0.9 }];
  gpus = [];
  version = "bbbbbbbbbbbb";
  e = await scrape(m);
  assert.equal(samplesOf(e, "taskgrid_worker_cpu_load").map((s) => [s.labels.worker, s.value]), [["w2", 0.9]]);
  assert.is(samplesOf(e, "taskgrid_worker_gpu_utilization").length, 0);
  assert.equal(samplesOf(e, "taskgrid_weights_info").map((s) => s.labels.version), ["bbbbbbbbbbbb"], "only the current version is 1");
});

test("label values are escaped; a failing source costs its metric and one log line, not the scrape", async () => {
  const lines: string[] = [];
  let failures = 0;
  const m = await start(
    countingSources({
      workerCpuLoad: () => [{ worker: 'we"ird\\name', load: 0.5 }],
      queueLengths: () => {
        failures++;
        throw new Error("boom");
      },
    }).sources,
    (l) => lines.push(l),
  );
  await scrape(m);
  const e = await scrape(m);
  assert.is(failures, 2);
  assert.is(value(e, "taskgrid_worker_cpu_load", { worker: 'we"ird\\name' }), 0.5);
  assert.not.ok(e.types.has("taskgrid_queue_length"));
  assert.ok(e.types.has("taskgrid_tasks"));
  assert.is(lines.filter((l) => l.includes("queueLengths") && l.includes("boom")).length, 1, "logged once per distinct error");
});

// ---- the server --------------------------------------------------------------------------------

test("port 0 reports the bound port; other paths 404; HEAD; stop frees the port and is idempotent", async () => {
  const m = await startMetrics({ listen: "127.0.0.1:0", sources: countingSources().sources });
  assert.match(m.address, /^127\.0\.0\.1:\d+$/);
  assert.is.not(m.address, "127.0.0.1:0");
  assert.is((await fetch(`http://${m.address}/`)).status, 404);
  assert.is((await fetch(`http://${m.address}/metricsx`)).status, 404);
  assert.is((await fetch(`http://${m.address}/metrics?x=1`)).status, 200);
  assert.is((await fetch(`http://${m.address}/metrics`, { method: "POST" })).status, 405);
  const head = await fetch(`http://${m.address}/metrics`, { method: "HEAD" });
  assert.is(head.status, 200);
  assert.is(await head.text(), "");
  await Promise.all([m.stop(), m.stop()]);
  // The port is free again.
  const port = Number(m.address.split(":")[1]);
  await new Promise<void>((resolve, reject) => {
    const s = createServer().once("error", reject);
    s.listen(port, "127.0.0.1", () => s.close(() => resolve()));
  });
});

test("a busy port is an error naming the address", async () => {
  const a = await start(countingSources().sources);
  try {
    await startMetrics({ listen: a.address, sources: countingSources().sources });
    assert.unreachable("should not bind a busy port");
  } catch (err) {
    assert.match(String(err), a.address);
  }
});

test("parseListen accepts host:port, [v6]:port and :port", () => {
  assert.equal(parseListen("127.0.0.1:9464"), { host: "127.0.0.1", port: 9464 });
  assert.equal(parseListen("[::1]:0"), { host: "::1", port: 0 });
  assert.equal(parseListen(":9464"), { host: undefined, port: 9464 });
  assert.equal(parseListen("metrics.local:80"), { host: "metrics.local", port: 80 });
  for (const bad of ["9464", "host:", "host:99999", "a b:1"]) assert.throws(() => parseListen(bad), /not host:port/);
});

// ---- master glue -------------------------------------------------------------------------------

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
  const falling = instrumentPlacement(
    { name: "rts", choose: (t, c, now) => new RoundRobinPlacement().choose(t, c, now, "no_fresh_telemetry") },
    m.recorder,
  );
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
  const ev = (state: TaskState, attemptId = ""): TaskEvent => ({ taskId: "t", state, progress: 0, progressMessage: "", timeMs: 0, attemptId, workerId: "", result: null });
  for (const e of [ev("QUEUED"), ev("QUEUED"), ev("ASSIGNED", "a1"), ev("RUNNING", "a1"), ev("QUEUED", "a1"), ev("SUCCEEDED", "a2"), ev("FAILED", "a3"), ev("CANCELED")]) watcher.push(e, "p");
  const result = (outcome: TaskResult["outcome"], durationMs: number): TaskResult => ({ outcome, exitCode: 0, signal: "", outputTail: "", durationMs, message: "" });
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
  const slots = cpu.map((w, i) => newWorkerSlot(makeWorker(w.worker, { telemetry: telemetry(w.load, Array.from({ length: GPUS }, (_, g) => (i + g) % 100)) })));
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
