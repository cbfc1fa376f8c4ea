// The /metrics endpoint (DESIGN §7): every documented name with its labels, exact names (no OTel
// mangling), scrapes that only call the source callbacks, stale series dropped, the master glue
// (in metrics-glue.test.ts: sources over MasterState, instrumented placement, event watcher, and
// the cost of one scrape at 1,000 workers / 100,000 tasks).
import { createServer } from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { EXPORTED_METRICS, KNOWN_LABEL_VALUES, PROCESS_METRICS, TASKGRID_METRICS, type MetricDoc } from "../../src/telemetry/metric-names.js";
import { parseListen, startMetrics } from "../../src/telemetry/metrics.js";
import { familyOf, parsePrometheusText, type Exposition } from "../helpers/prom-text.js";
import { countingSources, driveRecorder, samplesOf, scrape, scrapeText, SOURCE_KEYS, start, stopServersAfterEach, value } from "../helpers/metrics.js";

// ---- helpers -----------------------------------------------------------------------------------
stopServersAfterEach(test);

function checkDocumented(e: Exposition, doc: MetricDoc): void {
  assert.is(e.types.get(doc.name), doc.kind, `# TYPE ${doc.name} ${doc.kind}`);
  const expected = [...doc.labels].sort().join(",");
  if (doc.kind === "histogram") {
    const buckets = samplesOf(e, `${doc.name}_bucket`);
    assert.ok(buckets.length > 1, `${doc.name}_bucket series`);
    assert.ok(
      buckets.some((b) => b.labels.le === "+Inf"),
      `${doc.name}_bucket{le="+Inf"}`,
    );
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
  assert.is(TASKGRID_METRICS.length, 23);
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
  assert.equal(Object.fromEntries(samplesOf(e, "taskgrid_tasks").map((s) => [s.labels.state, s.value])), {
    QUEUED: 5,
    ASSIGNED: 1,
    RUNNING: 2,
    PAUSED: 0,
    SUCCEEDED: 2,
    FAILED: 1,
    CANCELED: 0,
  });
  assert.is(value(e, "taskgrid_queue_length", { queue: "LIVE", priority: "HIGH" }), 2);
  assert.is(value(e, "taskgrid_queue_length", { queue: "BATCH", priority: "LOW" }), 3);
  assert.is(value(e, "taskgrid_workers", { status: "ONLINE" }), 2);
  assert.is(value(e, "taskgrid_workers", { status: "SUSPECT" }), 1);
  assert.is(value(e, "taskgrid_workers", { status: "OFFLINE" }), 0);
  assert.is(value(e, "taskgrid_workers", { status: "DRAINING" }), 0);
  assert.is(value(e, "taskgrid_worker_cpu_load", { worker: "w2" }), 1.5);
  assert.is(value(e, "taskgrid_worker_gpu_utilization", { worker: "w1", gpu: "1" }), 0.1);
  assert.is(value(e, "taskgrid_weights_info", { version: "0123456789ab" }), 1);
  assert.is(value(e, "taskgrid_leader", { epoch: "3" }), 1);
  assert.is(value(e, "taskgrid_failovers_total"), 1);
  assert.is(value(e, "taskgrid_project_usage", { project: "vision", resource: "gpu:h100" }), 8);
  assert.is(value(e, "taskgrid_project_quota", { project: "vision", resource: "gpu", kind: "borrowing_limit" }), 4);
  assert.is(value(e, "taskgrid_fairshare_factor", { project: "vision" }), 0.25);

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
  for (const reason of KNOWN_LABEL_VALUES.authReason) assert.is(value(e, "taskgrid_auth_failures_total", { reason }), 0);
  for (const reason of KNOWN_LABEL_VALUES.rejectReason) assert.is(value(e, "taskgrid_reports_rejected_total", { reason }), 0);
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
  assert.equal(
    samplesOf(e, "taskgrid_worker_cpu_load").map((s) => [s.labels.worker, s.value]),
    [["w2", 0.9]],
  );
  assert.is(samplesOf(e, "taskgrid_worker_gpu_utilization").length, 0);
  assert.equal(
    samplesOf(e, "taskgrid_weights_info").map((s) => s.labels.version),
    ["bbbbbbbbbbbb"],
    "only the current version is 1",
  );
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

test.run();
