// A real master with its metrics endpoint on 127.0.0.1:0: a worker with GPUs heartbeats, a task is
// submitted, placed, run and finished, then one scrape must show every DESIGN §7 name with its
// labels and live figures. Needs the master wiring (MasterOptions.metrics, MasterHandle.metricsAddress);
// until that has landed the test prints why and checks nothing.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { AttemptOutcome, TaskState } from "../../src/gen/taskgrid/v1/types.js";
import type { TaskServiceClient, WatchTasksResponse } from "../../src/gen/taskgrid/v1/task_service.js";
import { TASKGRID_METRICS } from "../../src/telemetry/metric-names.js";
import { parsePrometheusText, type Exposition } from "../helpers/prom-text.js";
import { call, rawClients } from "../helpers/grpc-clients.js";
import { RawAgent } from "../helpers/raw-agent.js";
import { eventually } from "../helpers/task-watch.js";
import { startTestMaster } from "../helpers/test-master.js";

function labelNames(e: Exposition, name: string): string[] {
  return [...new Set(e.samples.filter((s) => s.name === name).map((s) => Object.keys(s.labels).sort().join(",")))];
}

test("a running master exports every documented metric with its labels", async () => {
  const m = await startTestMaster({ metrics: "127.0.0.1:0", heartbeatIntervalMs: 3000, usageTickMs: 50 });
  const c = rawClients(m.address);
  const agent = new RawAgent(m.address);
  try {
    const metricsAddress = m.master.metricsAddress;
    assert.type(metricsAddress, "string");
    const gpus = [0, 1].map((index) => ({ index, uuid: `GPU-${index}`, model: "H100", memoryMib: 81920, numaNode: 0 }));
    agent.register("w-metrics", { capacity: { cpuMillis: 4000, memoryMib: 8192, maxTasks: 4, gpus } });
    await agent.next("registered");
    agent.send({
      $case: "heartbeat",
      value: {
        telemetry: {
          sampledAt: new Date(),
          cpuLoad: 0.75,
          memoryUsedMib: 1024,
          memoryTotalMib: 8192,
          ioPressure: 0,
          runningAttempts: 0,
          gpus: [
            { index: 0, utilizationPercent: 50, memoryUsedMib: 1 },
            { index: 1, utilizationPercent: 100, memoryUsedMib: 1 },
          ],
          probeErrors: [],
        },
      },
    } as never);
    await call(c.admin, "setQuota", { quota: { project: "metrics", nominal: { tasks: 10 }, borrowingLimit: { tasks: 1 }, lendingLimit: { tasks: 2 } } });
    const { task } = await call(c.tasks, "submitTask", { spec: { command: ["echo", "hi"], project: "metrics" } });
    const assign = await agent.next("assign");
    agent.send({ $case: "started", value: { attemptId: assign.attemptId, pid: 1, startedAt: new Date() } });
    // The projects' series while the task runs (usage is what runs now; the factor follows the usage ticks).
    const scrape = async () => parsePrometheusText(await (await fetch(`http://${metricsAddress}/metrics`)).text());
    const whileRunning = await eventually(async () => {
      const x = await scrape();
      return x.samples.some((s) => s.name === "taskgrid_fairshare_factor") && x.samples.some((s) => s.name === "taskgrid_project_usage") && x;
    }, "the projects' series");
    agent.send({
      $case: "finished",
      value: {
        attemptId: assign.attemptId,
        result: { outcome: AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED, exitCode: 0, signal: "", outputTail: "", durationMs: 1500, message: "" },
        finishedAt: new Date(),
      },
    });
    const stream = (c.tasks as TaskServiceClient).watchTasks({ taskIds: [task.id], project: "" });
    for await (const msg of stream as AsyncIterable<WatchTasksResponse>) if (msg.event?.state === TaskState.TASK_STATE_SUCCEEDED) break;
    stream.cancel();

    const res = await fetch(`http://${metricsAddress}/metrics`);
    assert.is(res.status, 200);
    const e = parsePrometheusText(await res.text());
    for (const doc of TASKGRID_METRICS) {
      const from = doc.name.startsWith("taskgrid_project_") || doc.name === "taskgrid_fairshare_factor" ? whileRunning : e;
      assert.is(from.types.get(doc.name), doc.kind, `# TYPE ${doc.name}`);
      const series = doc.kind === "histogram" ? `${doc.name}_count` : doc.name;
      assert.equal(labelNames(from, series), [[...doc.labels].sort().join(",")], `${series} labels`);
    }
    const running = (name: string, labels: Record<string, string>) =>
      whileRunning.samples.find((s) => s.name === name && Object.entries(labels).every(([k, x]) => s.labels[k] === x))?.value;
    assert.is(running("taskgrid_project_usage", { project: "metrics", resource: "tasks" }), 1);
    assert.is(running("taskgrid_project_quota", { project: "metrics", resource: "tasks", kind: "lending_limit" }), 2);
    assert.ok((running("taskgrid_fairshare_factor", { project: "metrics" }) ?? 0) > 0);
    const v = (name: string, labels: Record<string, string> = {}) =>
      e.samples.find((s) => s.name === name && Object.entries(labels).every(([k, x]) => s.labels[k] === x))?.value;
    assert.is(v("taskgrid_tasks_submitted_total"), 1, "taskgrid_tasks_submitted_total");
    assert.is(v("taskgrid_tasks_finished_total", { outcome: "SUCCEEDED" }), 1, "taskgrid_tasks_finished_total");
    assert.is(v("taskgrid_tasks", { state: "SUCCEEDED" }), 1, "taskgrid_tasks");
    assert.is(v("taskgrid_workers", { status: "ONLINE" }), 1, "taskgrid_workers");
    assert.is(v("taskgrid_worker_cpu_load", { worker: "w-metrics" }), 0.75, "taskgrid_worker_cpu_load");
    assert.is(v("taskgrid_worker_gpu_utilization", { worker: "w-metrics", gpu: "1" }), 1, "taskgrid_worker_gpu_utilization");
    assert.is(v("taskgrid_task_run_seconds_sum"), 1.5, "taskgrid_task_run_seconds_sum");
    assert.is(v("taskgrid_task_wait_seconds_count"), 1, "taskgrid_task_wait_seconds_count");
    assert.is(v("taskgrid_scheduler_decision_seconds_count"), 1, "taskgrid_scheduler_decision_seconds_count");
    const info = e.samples.filter((s) => s.name === "taskgrid_weights_info");
    assert.equal(
      info.map((s) => [s.labels.version, s.value]),
      [[m.master.weights.current().version, 1]],
      "taskgrid_weights_info",
    );
  } finally {
    agent.close();
    c.close();
    await m.cleanup();
  }
});

test.run();
