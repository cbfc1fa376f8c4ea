// WorkerService.Connect driven by hand: the full attempt lifecycle, fencing of stale reports,
// malformed and out-of-order messages (the session ends, the master keeps serving), retries,
// unschedulable tasks, watch streams and restart from the database.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import * as grpc from "@grpc/grpc-js";
import { AttemptOutcome, TaskState, WorkerStatus } from "../../src/gen/taskgrid/v1/types.js";
import { call, callError, rawClients, waitForState, type RawClients } from "../helpers/grpc-clients.js";
import { RawAgent } from "../helpers/raw-agent.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

const p = suite<{ m: TestMaster; c: RawClients }>("worker protocol");
p.before(async (ctx) => {
  ctx.m = await startTestMaster({ heartbeatIntervalMs: 3000 });
  ctx.c = rawClients(ctx.m.address);
});
p.after(async (ctx) => {
  ctx.c.close();
  await ctx.m.cleanup();
});

const ok = { outcome: AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED, exitCode: 0, signal: "", outputTail: "hi\n", durationMs: 5, message: "" };
const failed = { ...ok, outcome: AttemptOutcome.ATTEMPT_OUTCOME_FAILED, exitCode: 3, outputTail: "" };

p("register, assign, started, finished: the task SUCCEEDS with the agent's result", async ({ m, c }) => {
  const agent = new RawAgent(m.address);
  agent.register("w-life");
  const reg = await agent.next("registered");
  assert.is(reg.workerId, "w-life");
  assert.is(reg.heartbeatIntervalMs, 3000);
  const { task } = await call(c.tasks, "submitTask", { spec: { command: ["echo", "hi"] } });
  const assign = await agent.next("assign");
  assert.is(assign.taskId, task.id);
  assert.equal(assign.spec!.command, ["echo", "hi"]);
  agent.send({ $case: "started", value: { attemptId: assign.attemptId, pid: 123, startedAt: new Date() } });
  agent.send({ $case: "finished", value: { attemptId: assign.attemptId, result: ok, finishedAt: new Date() } });
  const done = await waitForState(c, task.id, TaskState.TASK_STATE_SUCCEEDED);
  assert.is(done.result.outputTail, "hi\n");
  assert.is(done.attempts.length, 1);
  assert.is(done.attempts[0].workerId, "w-life");
  assert.is(done.attempts[0].decision.strategy, "round_robin");
  assert.ok(done.attempts[0].startedAt instanceof Date);
  const worker = (await call(c.admin, "getWorker", { workerId: "w-life" })).worker;
  assert.is(worker.status, WorkerStatus.WORKER_STATUS_ONLINE);
  assert.is(worker.runningAttempts, 0);
  agent.close();
});

p("a report for a stale attempt is ignored: a running one is canceled, a finished one only acknowledged", async ({ m, c }) => {
  const agent = new RawAgent(m.address);
  agent.register("w-fence");
  await agent.next("registered");
  agent.send({ $case: "started", value: { attemptId: "not-an-attempt", pid: 1, startedAt: new Date() } }, 1);
  const cancel = await agent.next("cancel");
  assert.is(cancel.attemptId, "not-an-attempt");
  assert.match(cancel.reason, /not current/);
  assert.is((await agent.next("ack")).seq, 1);
  // A `finished` sent again after its commit (the agent never saw the ack) is stale too: acknowledged, nothing to kill.
  agent.send({ $case: "finished", value: { attemptId: "not-an-attempt", result: ok, finishedAt: new Date() } }, 2);
  assert.is((await agent.next("ack")).seq, 2);
  assert.is(agent.take("cancel"), undefined);
  // The session is still alive and useful.
  const { task } = await call(c.tasks, "submitTask", { spec: { command: ["true"], requiredTags: [] } });
  const assign = await agent.next("assign");
  assert.is(assign.taskId, task.id);
  agent.send({ $case: "finished", value: { attemptId: assign.attemptId, result: ok, finishedAt: new Date() } });
  await waitForState(c, task.id, TaskState.TASK_STATE_SUCCEEDED);
  agent.close();
});

p("first message not register: the session ends with INVALID_ARGUMENT, master keeps serving", async ({ m, c }) => {
  const agent = new RawAgent(m.address);
  agent.send({ $case: "heartbeat", value: { seq: 0 } });
  const status = await agent.ended;
  assert.is(status.code, grpc.status.INVALID_ARGUMENT);
  assert.match(status.details, /first message must be register/);
  const bad = new RawAgent(m.address);
  bad.register("bad id with spaces");
  assert.match((await bad.ended).details, /worker_id/);
  const twice = new RawAgent(m.address);
  twice.register("w-twice");
  await twice.next("registered");
  twice.register("w-twice");
  assert.match((await twice.ended).details, /register sent twice/);
  const empty = new RawAgent(m.address);
  empty.send(undefined);
  assert.is((await empty.ended).code, grpc.status.INVALID_ARGUMENT);
  const zeroCpu = new RawAgent(m.address);
  zeroCpu.register("w-zero", { capacity: { cpuMillis: 0, memoryMib: 1, maxTasks: 1, gpus: [] } });
  assert.match((await zeroCpu.ended).details, /capacity.cpu_millis/);
  assert.ok((await call(c.admin, "getSchedulerInfo", {})).orderingPolicy);
});

p("a failed attempt with retries left is requeued; the last failure fails the task", async ({ m, c }) => {
  const agent = new RawAgent(m.address);
  agent.register("w-retry", { tags: ["retry"] });
  await agent.next("registered");
  const { task } = await call(c.tasks, "submitTask", { spec: { command: ["false"], maxRetries: 1, requiredTags: ["retry"] } });
  for (let i = 0; i < 2; i++) {
    const a = await agent.next("assign");
    assert.is(a.attemptNumber, i + 1);
    agent.send({ $case: "started", value: { attemptId: a.attemptId, pid: 1, startedAt: new Date() } });
    agent.send({ $case: "finished", value: { attemptId: a.attemptId, result: failed, finishedAt: new Date() } });
  }
  const done = await waitForState(c, task.id, TaskState.TASK_STATE_FAILED);
  assert.is(done.attempts.length, 2);
  assert.is(done.result.exitCode, 3);
  agent.close();
});

p("a task no worker can ever fit stays QUEUED as unschedulable and does not block others", async ({ m, c }) => {
  const gpus = Array.from({ length: 8 }, (_, index) => ({ index, uuid: `GPU-${index}`, model: "NVIDIA H100", memoryMib: 81559, numaNode: 0 }));
  const agent = new RawAgent(m.address);
  agent.register("w-gpu", { tags: ["gpu8"], capacity: { cpuMillis: 64000, memoryMib: 512000, maxTasks: 8, gpus } });
  await agent.next("registered");
  const big = (await call(c.tasks, "submitTask", { spec: { command: ["train"], requiredTags: ["gpu8"], priority: 1, resources: { gpuCount: 16 } } })).task;
  const small = (await call(c.tasks, "submitTask", { spec: { command: ["infer"], requiredTags: ["gpu8"], resources: { gpuCount: 2 } } })).task;
  const assign = await agent.next("assign");
  assert.is(assign.taskId, small.id);
  assert.equal(assign.gpuIndexes, [0, 1]);
  const got = (await call(c.tasks, "getTask", { taskId: big.id })).task;
  assert.is(got.state, TaskState.TASK_STATE_QUEUED);
  assert.match(got.pendingReason, /^unschedulable: .*needs 16 GPUs, has 8 matching/);
  await call(c.tasks, "cancelTask", { taskId: big.id });
  agent.send({ $case: "finished", value: { attemptId: assign.attemptId, result: ok, finishedAt: new Date() } });
  agent.close();
});

p("cancel of a running task tells the agent and ends CANCELED", async ({ m, c }) => {
  const agent = new RawAgent(m.address);
  agent.register("w-cancel", { tags: ["cancel"] });
  await agent.next("registered");
  const { task } = await call(c.tasks, "submitTask", { spec: { command: ["sleep", "100"], requiredTags: ["cancel"] } });
  const a = await agent.next("assign");
  agent.send({ $case: "started", value: { attemptId: a.attemptId, pid: 1, startedAt: new Date() } });
  await waitForState(c, task.id, TaskState.TASK_STATE_RUNNING);
  const res = await call(c.tasks, "cancelTask", { taskId: task.id, reason: "user" });
  assert.is(res.task.state, TaskState.TASK_STATE_CANCELED);
  const cancel = await agent.next("cancel");
  assert.is(cancel.attemptId, a.attemptId);
  // Resources stay held until the agent reports the process gone.
  assert.is((await call(c.admin, "getWorker", { workerId: "w-cancel" })).worker.runningAttempts, 1);
  agent.send({
    $case: "finished",
    value: { attemptId: a.attemptId, result: { ...ok, outcome: AttemptOutcome.ATTEMPT_OUTCOME_CANCELED }, finishedAt: new Date() },
  });
  const wc = agent.next("assign").catch(() => null);
  void wc;
  agent.close();
});

p("restart: tasks survive, a reconnecting agent re-adopts its running attempt", async ({ c: _c, m }) => {
  const first = await startTestMaster({}, undefined);
  const c1 = rawClients(first.address);
  const agent = new RawAgent(first.address);
  agent.register("w-restart");
  await agent.next("registered");
  const { task } = await call(c1.tasks, "submitTask", { spec: { command: ["sleep", "1"] } });
  const queuedOnly = (await call(c1.tasks, "submitTask", { spec: { command: ["x"], requiredTags: ["nobody"] } })).task;
  const a = await agent.next("assign");
  agent.send({ $case: "started", value: { attemptId: a.attemptId, pid: 1, startedAt: new Date() } });
  await waitForState(c1, task.id, TaskState.TASK_STATE_RUNNING);
  agent.close();
  c1.close();
  await first.stop();

  const second = await startTestMaster({}, first.db);
  const c2 = rawClients(second.address);
  try {
    assert.is((await call(c2.tasks, "getTask", { taskId: queuedOnly.id })).task.state, TaskState.TASK_STATE_QUEUED);
    assert.is((await call(c2.tasks, "getTask", { taskId: task.id })).task.state, TaskState.TASK_STATE_RUNNING);
    const back = new RawAgent(second.address);
    back.register("w-restart", {
      running: [
        { attemptId: a.attemptId, taskId: task.id, startedAt: new Date() },
        { attemptId: "ghost", taskId: "ghost", startedAt: new Date() },
      ],
    });
    const reg = await back.next("registered");
    assert.equal(reg.killAttemptIds, ["ghost"]);
    back.send({ $case: "finished", value: { attemptId: a.attemptId, result: ok, finishedAt: new Date() } });
    const done = await waitForState(c2, task.id, TaskState.TASK_STATE_SUCCEEDED);
    assert.is(done.attempts.length, 1);
    back.close();
  } finally {
    c2.close();
    await second.cleanup();
  }
  void m;
});

p("drain: the worker turns DRAINING, its agent is told, running work finishes, no new work goes there; undrain undoes it", async ({ m, c }) => {
  const agent = new RawAgent(m.address);
  agent.register("w-drain", { tags: ["drain"] });
  await agent.next("registered");
  const { task } = await call(c.tasks, "submitTask", { spec: { command: ["sleep", "1"], requiredTags: ["drain"] } });
  const a = await agent.next("assign");
  agent.send({ $case: "started", value: { attemptId: a.attemptId, pid: 1, startedAt: new Date() } });
  await waitForState(c, task.id, TaskState.TASK_STATE_RUNNING);
  const drained = await call(c.admin, "drainWorker", { workerId: "w-drain", reason: "maintenance" });
  assert.is(drained.worker.status, WorkerStatus.WORKER_STATUS_DRAINING);
  assert.is((await agent.next("drain")).reason, "maintenance");
  const next = (await call(c.tasks, "submitTask", { spec: { command: ["true"], requiredTags: ["drain"] } })).task;
  agent.send({ $case: "finished", value: { attemptId: a.attemptId, result: ok, finishedAt: new Date() } });
  await waitForState(c, task.id, TaskState.TASK_STATE_SUCCEEDED);
  agent.send({ $case: "heartbeat", value: { seq: 0 } });
  const queued = (await call(c.tasks, "getTask", { taskId: next.id })).task;
  assert.is(queued.state, TaskState.TASK_STATE_QUEUED);
  assert.match(queued.pendingReason, /^waiting: /);
  assert.is((await call(c.admin, "getWorker", { workerId: "w-drain" })).worker.status, WorkerStatus.WORKER_STATUS_DRAINING, "heartbeats do not undo a drain");
  assert.is((await callError(call(c.admin, "drainWorker", { workerId: "nobody" }))).code, grpc.status.NOT_FOUND);
  // Undrain: ONLINE again, the agent is told, and the waiting task goes there.
  const undrained = await call(c.admin, "undrainWorker", { workerId: "w-drain" });
  assert.is(undrained.worker.status, WorkerStatus.WORKER_STATUS_ONLINE);
  await agent.next("undrain");
  const placed = await agent.next("assign");
  assert.is(placed.taskId, next.id);
  const row = await m.master.store.listWorkers();
  assert.is(row.find((w) => w.id === "w-drain")?.drain, undefined, "the drain is gone from the worker's row (a restart does not bring it back)");
  assert.is((await callError(call(c.admin, "undrainWorker", { workerId: "nobody" }))).code, grpc.status.NOT_FOUND);
  assert.is((await callError(call(c.admin, "undrainWorker", { workerId: "" }))).code, grpc.status.INVALID_ARGUMENT);
  agent.send({ $case: "finished", value: { attemptId: placed.attemptId, result: ok, finishedAt: new Date() } });
  await waitForState(c, next.id, TaskState.TASK_STATE_SUCCEEDED);
  agent.close();
});

p("shutdown ends agent streams cleanly (status OK)", async () => {
  const m = await startTestMaster();
  const agent = new RawAgent(m.address);
  agent.register("w-shutdown");
  await agent.next("registered");
  await m.cleanup();
  const status = await agent.ended;
  assert.is(status.code, grpc.status.OK);
  agent.close();
});

p.run();
