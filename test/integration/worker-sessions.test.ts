// The exactly-once parts of the worker protocol, driven by hand: acknowledged reports (re-sent
// reports are applied once), heartbeat answers and the lease granted in `registered`, one live
// session per worker id, a drain asked for by the agent, an operator's drain across a master
// restart, and failure accounting (an attempt lost by the infrastructure is requeued without using
// a retry; retries wait a backoff).
import { suite } from "uvu";
import * as assert from "uvu/assert";
import * as grpc from "@grpc/grpc-js";
import { AttemptOutcome, TaskState, WorkerStatus } from "../../src/gen/taskgrid/v1/types.js";
import { call, rawClients, waitForState, type RawClients } from "../helpers/grpc-clients.js";
import { RawAgent } from "../helpers/raw-agent.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

const s = suite<{ m: TestMaster; c: RawClients }>("worker sessions");
s.before(async (ctx) => {
  ctx.m = await startTestMaster({ heartbeatIntervalMs: 3000, retryBackoffMs: 400, random: () => 1 });
  ctx.c = rawClients(ctx.m.address);
});
s.after(async (ctx) => {
  ctx.c.close();
  await ctx.m.cleanup();
});

const ok = { outcome: AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED, exitCode: 0, signal: "", outputTail: "", durationMs: 5, message: "" };
const lost = { ...ok, outcome: AttemptOutcome.ATTEMPT_OUTCOME_LOST, exitCode: -1, message: "agent draining" };
const failed = { ...ok, outcome: AttemptOutcome.ATTEMPT_OUTCOME_FAILED, exitCode: 3 };

s("registered grants a lease; each heartbeat is answered; reports are acknowledged in order", async ({ m, c }) => {
  const agent = new RawAgent(m.address);
  agent.register("w-ack", { tags: ["ack"] });
  const registered = await agent.next("registered");
  assert.is(registered.leaseMs, 10_000, "offline_after_ms / 2");
  assert.is(registered.leaseGraceMs, 5_000);
  assert.ok(registered.leaseMs + registered.leaseGraceMs < 20_000, "the lease ends before the master may requeue");
  agent.send({ $case: "heartbeat", value: { seq: 7 } });
  assert.is((await agent.next("heartbeatAck")).seq, 7);

  const { task } = await call(c.tasks, "submitTask", { spec: { command: ["true"], requiredTags: ["ack"] } });
  const assign = await agent.next("assign");
  agent.send({ $case: "started", value: { attemptId: assign.attemptId, pid: 1, startedAt: new Date() } }, 1);
  agent.send({ $case: "finished", value: { attemptId: assign.attemptId, result: ok, finishedAt: new Date() } }, 2);
  let acked = 0;
  while (acked < 2) acked = (await agent.next("ack")).seq;
  assert.is(acked, 2);
  // The ack means committed: the database already has the result.
  const stored = await m.master.store.getTask(task.id);
  assert.is(stored?.state, "SUCCEEDED");
  agent.close();
});

s("a finished report sent again on a new session (its ack was lost) is applied once", async ({ m, c }) => {
  const first = new RawAgent(m.address);
  first.register("w-resend", { tags: ["resend"], instanceId: "inst-1" });
  await first.next("registered");
  const { task } = await call(c.tasks, "submitTask", { spec: { command: ["true"], requiredTags: ["resend"] } });
  const assign = await first.next("assign");
  first.send({ $case: "started", value: { attemptId: assign.attemptId, pid: 1, startedAt: new Date() } }, 1);
  first.send({ $case: "finished", value: { attemptId: assign.attemptId, result: ok, finishedAt: new Date() } }, 2);
  await waitForState(c, task.id, TaskState.TASK_STATE_SUCCEEDED);
  first.close(); // as if the stream died before the ack reached the agent

  const second = new RawAgent(m.address);
  second.register("w-resend", { tags: ["resend"], instanceId: "inst-1", running: [{ attemptId: assign.attemptId, taskId: task.id, startedAt: new Date() }] });
  const registered = await second.next("registered");
  assert.equal(registered.killAttemptIds, [assign.attemptId], "not current any more: the agent forgets it");
  second.send({ $case: "finished", value: { attemptId: assign.attemptId, result: ok, finishedAt: new Date() } }, 2);
  assert.is((await second.next("ack")).seq, 2);
  const final = (await call(c.tasks, "getTask", { taskId: task.id })).task;
  assert.is(final.state, TaskState.TASK_STATE_SUCCEEDED);
  assert.is(final.attempts.length, 1, "never run again");
  second.close();
});

s("one live session per worker id: another agent is refused (ALREADY_EXISTS naming the peer); the same agent may reconnect", async ({ m }) => {
  const first = new RawAgent(m.address);
  first.register("w-dup", { instanceId: "agent-a" });
  await first.next("registered");
  const intruder = new RawAgent(m.address);
  intruder.register("w-dup", { instanceId: "agent-b" });
  const refused = await intruder.ended;
  assert.is(refused.code, grpc.status.ALREADY_EXISTS);
  assert.match(refused.details, /worker id "w-dup" is already connected from .*127\.0\.0\.1/);
  assert.is(first.status, null, "the first session is untouched");

  const again = new RawAgent(m.address);
  again.register("w-dup", { instanceId: "agent-a" });
  await again.next("registered");
  const replaced = await first.ended;
  assert.is(replaced.code, grpc.status.ABORTED, "the old stream of the same agent is replaced");
  again.close();
  intruder.close();
});

s("an agent that drains tells the master: its worker turns DRAINING and gets no new work, until a new agent process registers", async ({ m, c }) => {
  const agent = new RawAgent(m.address);
  agent.register("w-drain", { tags: ["drain-me"] });
  await agent.next("registered");
  agent.send({ $case: "draining", value: { reason: "agent received SIGTERM" } });
  agent.send({ $case: "heartbeat", value: { seq: 1 } });
  await agent.next("heartbeatAck"); // handled in order, so the drain is applied
  const worker = (await call(c.admin, "getWorker", { workerId: "w-drain" })).worker;
  assert.is(worker.status, WorkerStatus.WORKER_STATUS_DRAINING);
  const { task } = await call(c.tasks, "submitTask", { spec: { command: ["true"], requiredTags: ["drain-me"] } });
  const queued = (await call(c.tasks, "getTask", { taskId: task.id })).task;
  assert.is(queued.state, TaskState.TASK_STATE_QUEUED);
  assert.is(agent.take("assign"), undefined);
  agent.close();
  await agent.ended;

  // The drain was that agent process's: a new process on the worker starts ONLINE and gets the work.
  const restarted = new RawAgent(m.address);
  restarted.register("w-drain", { tags: ["drain-me"], instanceId: "after-restart" });
  await restarted.next("registered");
  assert.is((await restarted.next("assign")).taskId, task.id);
  assert.is((await call(c.admin, "getWorker", { workerId: "w-drain" })).worker.status, WorkerStatus.WORKER_STATUS_ONLINE);
  await call(c.tasks, "cancelTask", { taskId: task.id, reason: "test over" });
  restarted.close();
});

s(
  "an operator's drain is stored: the worker stays DRAINING across its agent's restart and a master restart, and gets no work; an agent's own drain ends with its process",
  async () => {
    const first = await startTestMaster({ heartbeatIntervalMs: 3000 });
    const c1 = rawClients(first.address);
    const status = async (c: RawClients, workerId: string) => (await call(c.admin, "getWorker", { workerId })).worker.status;
    const drained = new RawAgent(first.address);
    drained.register("w-op-drain", { tags: ["persist"], instanceId: "d-1" });
    await drained.next("registered");
    assert.is((await call(c1.admin, "drainWorker", { workerId: "w-op-drain", reason: "disk swap" })).worker.status, WorkerStatus.WORKER_STATUS_DRAINING);
    assert.is((await drained.next("drain")).reason, "disk swap");
    drained.close();
    await drained.ended;
    // A new agent process on the drained worker: still DRAINING.
    const restartedAgent = new RawAgent(first.address);
    restartedAgent.register("w-op-drain", { tags: ["persist"], instanceId: "d-2" });
    await restartedAgent.next("registered");
    assert.is(await status(c1, "w-op-drain"), WorkerStatus.WORKER_STATUS_DRAINING);
    // Another worker whose agent drains itself.
    const own = new RawAgent(first.address);
    own.register("w-own-drain", { tags: ["persist"], instanceId: "o-1" });
    await own.next("registered");
    own.send({ $case: "draining", value: { reason: "agent received SIGTERM" } });
    own.send({ $case: "heartbeat", value: { seq: 1 } });
    await own.next("heartbeatAck");
    assert.is(await status(c1, "w-own-drain"), WorkerStatus.WORKER_STATUS_DRAINING);
    restartedAgent.close();
    own.close();
    c1.close();
    await first.stop();

    const second = await startTestMaster({ heartbeatIntervalMs: 3000 }, first.db);
    const c2 = rawClients(second.address);
    const back = new RawAgent(second.address);
    const ownBack = new RawAgent(second.address);
    try {
      const row = (await second.master.store.loadActive()).workers.find((w) => w.id === "w-op-drain");
      assert.is(row?.drain?.reason, "disk swap", "the drain is in the worker's row");
      back.register("w-op-drain", { tags: ["persist"], instanceId: "d-3" });
      await back.next("registered");
      assert.is(await status(c2, "w-op-drain"), WorkerStatus.WORKER_STATUS_DRAINING, "drained across the master restart");
      // The agent's own drain was its process's: a new process starts ONLINE.
      ownBack.register("w-own-drain", { tags: ["persist"], instanceId: "o-2" });
      await ownBack.next("registered");
      assert.is(await status(c2, "w-own-drain"), WorkerStatus.WORKER_STATUS_ONLINE);

      const tasks = [];
      for (let i = 0; i < 3; i++) tasks.push((await call(c2.tasks, "submitTask", { spec: { command: ["true"], requiredTags: ["persist"] } })).task);
      for (let i = 0; i < 3; i++) await ownBack.next("assign");
      await second.master.dispatcher.tick();
      back.send({ $case: "heartbeat", value: { seq: 1 } });
      await back.next("heartbeatAck"); // whatever the master sent before this answer has arrived
      const assignedToDrained = [];
      for (let a = back.take("assign"); a; a = back.take("assign")) assignedToDrained.push(a);
      assert.is(assignedToDrained.length, 0, "no assignment reaches the drained worker");
      for (const t of tasks) {
        const got = (await call(c2.tasks, "getTask", { taskId: t.id })).task;
        assert.equal(
          got.attempts.map((a: { workerId: string }) => a.workerId),
          ["w-own-drain"],
        );
        await call(c2.tasks, "cancelTask", { taskId: t.id, reason: "test over" });
      }
      assert.is(await status(c2, "w-op-drain"), WorkerStatus.WORKER_STATUS_DRAINING, "heartbeats do not undo it");
    } finally {
      back.close();
      ownBack.close();
      c2.close();
      await second.cleanup();
    }
  },
);

s("LOST requeues without using a retry (max_retries 0 still succeeds); a failure uses one and waits the backoff", async ({ m, c }) => {
  const agent = new RawAgent(m.address);
  agent.register("w-acct", { tags: ["acct"] });
  await agent.next("registered");
  const { task } = await call(c.tasks, "submitTask", { spec: { command: ["true"], requiredTags: ["acct"], maxRetries: 1 } });
  const first = await agent.next("assign");
  agent.send({ $case: "finished", value: { attemptId: first.attemptId, result: lost, finishedAt: new Date() } }, 1);
  const second = await agent.next("assign");
  let t = (await call(c.tasks, "getTask", { taskId: task.id })).task;
  assert.is(t.requeues, 1);
  assert.is(t.retriesUsed, 0);

  const failedAt = Date.now();
  agent.send({ $case: "finished", value: { attemptId: second.attemptId, result: failed, finishedAt: new Date() } }, 2);
  const queued = await waitForState(c, task.id, TaskState.TASK_STATE_QUEUED);
  assert.is(queued.retriesUsed, 1);
  assert.ok(queued.notBefore, "a retry waits its backoff");
  assert.match(queued.pendingReason, /retry backoff/);
  const third = await agent.next("assign");
  assert.ok(Date.now() - failedAt >= 350, "placed only after the 400 ms backoff (jitter drawn at its maximum)");
  agent.send({ $case: "finished", value: { attemptId: third.attemptId, result: ok, finishedAt: new Date() } }, 3);
  t = await waitForState(c, task.id, TaskState.TASK_STATE_SUCCEEDED);
  assert.equal([t.attempts.length, t.retriesUsed, t.requeues], [3, 1, 1]);
  agent.close();
});

s("a success reported after the master gave its attempt up as LOST: the task is SUCCEEDED, the rerun canceled", async ({ m, c }) => {
  const agent = new RawAgent(m.address);
  agent.register("w-late", { tags: ["late"], instanceId: "late-1" });
  await agent.next("registered");
  const { task } = await call(c.tasks, "submitTask", { spec: { command: ["true"], requiredTags: ["late"] } });
  const first = await agent.next("assign");
  agent.send({ $case: "started", value: { attemptId: first.attemptId, pid: 1, startedAt: new Date() } }, 1);
  await waitForState(c, task.id, TaskState.TASK_STATE_RUNNING);
  // The agent comes back without the attempt (as after a partition): the master ends it LOST and
  // runs the task again, here on the same worker.
  const again = new RawAgent(m.address);
  again.register("w-late", { tags: ["late"], instanceId: "late-1" });
  await again.next("registered");
  const rerun = await again.next("assign");
  assert.is(rerun.taskId, task.id);
  // Then the first run's success arrives after all: the command did exit 0.
  again.send({ $case: "finished", value: { attemptId: first.attemptId, result: ok, finishedAt: new Date() } }, 1);
  const cancel = await again.next("cancel");
  assert.is(cancel.attemptId, rerun.attemptId);
  assert.match(cancel.reason, /already succeeded/);
  const done = (await call(c.tasks, "getTask", { taskId: task.id })).task;
  assert.is(done.state, TaskState.TASK_STATE_SUCCEEDED);
  assert.equal(
    done.attempts.map((a: { result?: { outcome: number } }) => a.result?.outcome),
    [AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED, undefined],
  );
  assert.equal([done.retriesUsed, done.requeues], [0, 1]);
  // The canceled rerun's own report lands on its attempt only.
  again.send(
    {
      $case: "finished",
      value: { attemptId: rerun.attemptId, result: { ...ok, outcome: AttemptOutcome.ATTEMPT_OUTCOME_CANCELED, exitCode: -1 }, finishedAt: new Date() },
    },
    2,
  );
  let acked = 0;
  while (acked < 2) acked = (await again.next("ack")).seq;
  assert.is((await call(c.tasks, "getTask", { taskId: task.id })).task.state, TaskState.TASK_STATE_SUCCEEDED);
  again.close();
  agent.close();
});

s("a task lost more often than max_requeues fails, saying why", async ({ m, c }) => {
  const agent = new RawAgent(m.address);
  agent.register("w-loop", { tags: ["loop"] });
  await agent.next("registered");
  const { task } = await call(c.tasks, "submitTask", { spec: { command: ["true"], requiredTags: ["loop"], maxRequeues: 2 } });
  for (let i = 1; i <= 3; i++) {
    const a = await agent.next("assign");
    agent.send({ $case: "finished", value: { attemptId: a.attemptId, result: lost, finishedAt: new Date() } }, i);
  }
  const final = await waitForState(c, task.id, TaskState.TASK_STATE_FAILED);
  assert.is(final.requeues, 2);
  assert.is(final.attempts.length, 3);
  const events = await m.master.store.getEvents(task.id);
  assert.match(events.at(-1)!.progressMessage, /requeue limit reached: 2 of 2/);
  agent.close();
});

s.run();
