// Traces of a real master, exported over OTLP/HTTP to a local collector (test/helpers/otlp-collector.ts),
// with hand-driven agents: one trace per task under the caller's traceparent, the placement's
// strategy/score/worker as attributes, the run span's context sent down in Assign, the trace kept
// across a master restart (the traceparent lives in the task row), and nothing at all when off.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { trace } from "@opentelemetry/api";
import { createClient, type TaskgridClient } from "../../src/client/index.js";
import { AttemptOutcome, TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { ATTR, EVENT_PROCESS_STARTED, SPAN } from "../../src/telemetry/trace-names.js";
import { OtlpCollector, type CollectedSpan } from "../helpers/otlp-collector.js";
import { RawAgent } from "../helpers/raw-agent.js";
import { TaskEvents } from "../helpers/task-watch.js";
import { createTestDatabase, startTestMaster, type TestDatabase, type TestMaster } from "../helpers/test-master.js";

const CLIENT_TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
const CLIENT_SPAN_ID = "b7ad6b7169203331";
const TRACEPARENT = `00-${CLIENT_TRACE_ID}-${CLIENT_SPAN_ID}-01`;

const ok = { outcome: AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED, exitCode: 0, signal: "", outputTail: "", durationMs: 5, message: "" };
const telemetry = { cpuLoad: 0.1, memoryUsedMib: 1000, memoryTotalMib: 8192, ioPressure: 0, runningAttempts: 0, gpus: [], probeErrors: [] };

const traced = (collector: OtlpCollector) => ({ tracing: { env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url } } });

/**
 * Resolves once the master has handled everything the agent sent before: a `started` for an
 * attempt it does not know is answered (in stream order) with a fencing cancel.
 */
async function handled(agent: RawAgent): Promise<void> {
  const probe = `probe-${Math.random().toString(36).slice(2)}`;
  agent.send({ $case: "started", value: { attemptId: probe, pid: 1, startedAt: new Date() } });
  for (;;) if ((await agent.next("cancel")).attemptId === probe) return;
}

function finish(agent: RawAgent, attemptId: string, result = ok): void {
  agent.send({ $case: "started", value: { attemptId, pid: 4242, startedAt: new Date() } });
  agent.send({ $case: "finished", value: { attemptId, result, finishedAt: new Date() } });
}

const spanIdOf = (traceparent: string) => traceparent.split("-")[2];

const test = suite("tracing in the master");

test("one trace per task under the caller's span: submit, queue wait, placement (rts, score, worker), run", async () => {
  const collector = await OtlpCollector.start();
  const m = await startTestMaster(traced(collector));
  const agent = new RawAgent(m.address);
  const client = createClient(m.address, { traceContext: { traceparent: TRACEPARENT } });
  try {
    agent.register("trace-w1");
    await agent.next("registered");
    agent.send({ $case: "heartbeat", value: { seq: 0, telemetry } });
    await handled(agent); // fresh telemetry is in: RTS decides (no fallback)
    const { task } = await client.submitTask({ command: ["work"], name: "traced", project: "obs", kind: "etl" });
    const events = new TaskEvents(client, [task.id]);
    const assign = await agent.next("assign");
    assert.match(assign.traceParent, new RegExp(`^00-${CLIENT_TRACE_ID}-[0-9a-f]{16}-01$`));
    finish(agent, assign.attemptId);
    await events.state(TaskState.TASK_STATE_SUCCEEDED);
    events.close();
    await m.stop(); // flushes every span

    const spans = collector.spans.filter((s) => s.attributes[ATTR.taskId] === task.id);
    assert.equal(spans.map((s) => s.name).sort(), [SPAN.placement, SPAN.queueWait, SPAN.run, SPAN.submit]);
    assert.ok(
      spans.every((s) => s.traceId === CLIENT_TRACE_ID && s.service === "taskgrid-master"),
      "all in the caller's trace",
    );

    const submit = collector.one(SPAN.submit, (s) => s.attributes[ATTR.taskId] === task.id);
    assert.is(submit.parentSpanId, CLIENT_SPAN_ID);
    assert.is(submit.kind, 2 /* SERVER */);
    assert.is(submit.attributes[ATTR.rpcMethod], "SubmitTask");
    assert.is(submit.attributes[ATTR.taskName], "traced");
    assert.is(submit.attributes[ATTR.taskProject], "obs");
    assert.is(submit.attributes[ATTR.taskKind], "etl");

    const wait = collector.one(SPAN.queueWait, (s) => s.attributes[ATTR.taskId] === task.id);
    const placement = collector.one(SPAN.placement, (s) => s.attributes[ATTR.taskId] === task.id);
    const run = collector.one(SPAN.run, (s) => s.attributes[ATTR.taskId] === task.id);
    for (const child of [wait, placement, run]) assert.is(child.parentSpanId, submit.spanId, `${child.name} is a child of submit`);
    assert.is(wait.startMs, submit.startMs, "the wait starts at submission");
    assert.is(wait.endMs, placement.startMs, "and ends when the placing pass starts");
    assert.ok(placement.endMs <= run.startMs && run.startMs <= run.endMs);

    assert.is(placement.attributes[ATTR.strategy], "rts");
    assert.type(placement.attributes[ATTR.score], "number");
    assert.type(placement.attributes[`${ATTR.factorPrefix}load`], "number");
    assert.is(placement.attributes[ATTR.workerId], "trace-w1");
    assert.is(placement.attributes[ATTR.feasibleWorkers], 1);
    assert.match(String(placement.attributes[ATTR.weightsVersion]), /^[0-9a-f]{12}$/);
    assert.is(placement.attributes[ATTR.fallbackReason], undefined);

    assert.is(run.spanId, spanIdOf(assign.traceParent), "the agent got the run span's context");
    assert.is(run.attributes[ATTR.workerId], "trace-w1");
    assert.is(run.attributes[ATTR.attemptId], assign.attemptId);
    assert.is(run.attributes[ATTR.outcome], "SUCCEEDED");
    assert.is(run.attributes[ATTR.exitCode], 0);
    assert.equal(
      run.events.map((e) => e.name),
      [EVENT_PROCESS_STARTED],
    );
    assert.is(run.statusCode, 0);
  } finally {
    client.close();
    agent.close();
    await m.cleanup();
    await collector.close();
  }
});

test("the trace survives a master restart: queued and running tasks keep their submit span as parent", async () => {
  const collector = await OtlpCollector.start();
  const db: TestDatabase = await createTestDatabase();
  let m: TestMaster = await startTestMaster(traced(collector), db);
  let agent = new RawAgent(m.address);
  let client: TaskgridClient = createClient(m.address);
  try {
    agent.register("trace-w2", { capacity: { cpuMillis: 4000, memoryMib: 8192, maxTasks: 1, gpus: [] } });
    await agent.next("registered");
    const running = (await client.submitTask({ command: ["long"] })).task;
    const assigned = await agent.next("assign");
    agent.send({ $case: "started", value: { attemptId: assigned.attemptId, pid: 7, startedAt: new Date() } });
    const queued = (await client.submitTask({ command: ["next"] })).task; // the worker's one slot is taken
    await handled(agent);
    await m.stop();
    agent.close();
    client.close();

    m = await startTestMaster(traced(collector), db);
    client = createClient(m.address);
    agent = new RawAgent(m.address);
    agent.register("trace-w2", {
      capacity: { cpuMillis: 4000, memoryMib: 8192, maxTasks: 1, gpus: [] },
      running: [{ attemptId: assigned.attemptId, taskId: running.id, startedAt: new Date() }],
    });
    assert.equal((await agent.next("registered")).killAttemptIds, []);
    const events = new TaskEvents(client, [running.id, queued.id]);
    finish(agent, assigned.attemptId);
    const next = await agent.next("assign");
    assert.is(next.taskId, queued.id);
    finish(agent, next.attemptId);
    await events.until((e) => e.taskId === queued.id && e.state === TaskState.TASK_STATE_SUCCEEDED);
    events.close();
    await m.stop();

    const of = (taskId: string) => (s: CollectedSpan) => s.attributes[ATTR.taskId] === taskId;
    // The running task: its first run span ended at shutdown, a recovered one carries the result.
    const submit1 = collector.one(SPAN.submit, of(running.id));
    const runs = collector.spans.filter((s) => s.name === SPAN.run && of(running.id)(s));
    assert.is(runs.length, 2);
    const [cut, recovered] = runs[0].attributes[ATTR.openAtShutdown] ? runs : [runs[1], runs[0]];
    assert.is(cut.attributes[ATTR.openAtShutdown], true);
    assert.is(cut.spanId, spanIdOf(assigned.traceParent));
    assert.is(recovered.attributes[ATTR.recovered], true);
    assert.is(recovered.attributes[ATTR.outcome], "SUCCEEDED");
    for (const r of runs) assert.equal([r.traceId, r.parentSpanId, r.attributes[ATTR.attemptId]], [submit1.traceId, submit1.spanId, assigned.attemptId]);
    // The queued task: placed by the second master, in the trace the first one started.
    const submit2 = collector.one(SPAN.submit, of(queued.id));
    assert.is(submit2.parentSpanId, "", "no caller context: the task's own trace");
    assert.is.not(submit2.traceId, submit1.traceId, "one trace per task");
    for (const name of [SPAN.queueWait, SPAN.placement, SPAN.run]) {
      const s = collector.one(name, of(queued.id));
      assert.equal([s.traceId, s.parentSpanId], [submit2.traceId, submit2.spanId], name);
    }
    assert.is(collector.one(SPAN.queueWait, of(queued.id)).startMs, submit2.startMs);
    assert.is(spanIdOf(next.traceParent), collector.one(SPAN.run, of(queued.id)).spanId);
  } finally {
    client.close();
    agent.close();
    await m.cleanup();
    await collector.close();
  }
});

test("tracing off: no traceparent stored or sent, nothing registered globally", async () => {
  const m = await startTestMaster();
  const agent = new RawAgent(m.address);
  const client = createClient(m.address, { traceContext: { traceparent: TRACEPARENT } });
  try {
    agent.register("trace-off");
    await agent.next("registered");
    const { task } = await client.submitTask({ command: ["work"] });
    const assign = await agent.next("assign");
    assert.is(assign.traceParent, "");
    assert.is((await m.master.store.getTask(task.id))!.traceParent, undefined);
    // No SDK provider behind the global API: spans from it are no-ops.
    assert.is(trace.getTracer("probe").startSpan("probe").isRecording(), false);
  } finally {
    client.close();
    agent.close();
    await m.cleanup();
  }
});

test.run();
