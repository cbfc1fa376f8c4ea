// Placement at submission (issue 18, start latency): with a free worker and nothing queued, a
// submitted task is placed at once and its assignment commits in the submission's own transaction
// (one commit from submit to the agent, not two); with older work queued, or an idempotent retry
// of an existing task, or no room, it goes through the queue as before. Counts transactions and
// assignments, not timings. Raw agent, real master on Postgres or PGlite.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { TaskState } from "../../src/gen/taskgrid/v1/types.js";
import type { TaskgridStore } from "../../src/store/index.js";
import { call, rawClients } from "../helpers/grpc-clients.js";
import { RawAgent } from "../helpers/raw-agent.js";
import { eventually } from "../helpers/task-watch.js";
import { startTestMaster } from "../helpers/test-master.js";

const spec = (extra: Record<string, unknown> = {}) => ({ command: ["true"], requiredTags: ["pas"], resources: { cpuMillis: 1000, memoryMib: 64 }, ...extra });

test("a free worker, an empty queue: the task is ASSIGNED in the submission's commit and its assignment is sent; a retry with its key places nothing more", async () => {
  const tm = await startTestMaster();
  const c = rawClients(tm.address);
  const agent = new RawAgent(tm.address);
  try {
    agent.register("pas-1", { tags: ["pas"], capacity: { cpuMillis: 2000, memoryMib: 1024, maxTasks: 2, gpus: [] } });
    await agent.next("registered");
    const store = tm.master.store as TaskgridStore; // the group commit's counters
    const before = store.stats().transactions;
    const res = await call(c.tasks, "submitTask", { spec: spec({ idempotencyKey: "pas-key" }) });
    assert.is(store.stats().transactions, before + 1, "one transaction: the task and its assignment");
    assert.is(res.task.state, TaskState.TASK_STATE_ASSIGNED, "the answer already says ASSIGNED");
    const assign = await agent.next("assign");
    assert.is(assign.taskId, res.task.id);
    const got = await call(c.tasks, "getTask", { taskId: res.task.id });
    assert.is(got.task.state, TaskState.TASK_STATE_ASSIGNED);
    // The history: QUEUED (the submission), then ASSIGNED (the attempt), both derived from rows.
    assert.equal(
      got.events.map((e: { state: number }) => e.state),
      [TaskState.TASK_STATE_QUEUED, TaskState.TASK_STATE_ASSIGNED],
    );
    // The same key again: the existing task, nothing placed, no second assignment.
    const again = await call(c.tasks, "submitTask", { spec: spec({ idempotencyKey: "pas-key" }) });
    assert.is(again.task.id, res.task.id);
    assert.is(tm.master.state.liveAttempts.size, 1, "only the first submission holds room");
    assert.is(tm.master.state.slots.get("pas-1")!.allocatedCpuMillis, 1000);
  } finally {
    agent.close();
    c.close();
    await tm.cleanup();
  }
});

test("no room, then older work queued: later submissions wait in the queue and start in order when room frees", async () => {
  const tm = await startTestMaster();
  const c = rawClients(tm.address);
  const agent = new RawAgent(tm.address);
  try {
    agent.register("pas-2", { tags: ["pas"], capacity: { cpuMillis: 1000, memoryMib: 1024, maxTasks: 1, gpus: [] } });
    await agent.next("registered");
    const first = await call(c.tasks, "submitTask", { spec: spec() });
    assert.is(first.task.state, TaskState.TASK_STATE_ASSIGNED);
    const a1 = await agent.next("assign");
    const second = await call(c.tasks, "submitTask", { spec: spec() });
    const third = await call(c.tasks, "submitTask", { spec: spec() });
    assert.is(second.task.state, TaskState.TASK_STATE_QUEUED, "no room: queued");
    assert.is(third.task.state, TaskState.TASK_STATE_QUEUED, "older work queued: queued behind it");
    const ok = { outcome: 1, exitCode: 0, signal: "", outputTail: "", durationMs: 1, message: "" };
    agent.send({ $case: "started", value: { attemptId: a1.attemptId, pid: 1, startedAt: new Date() } });
    agent.send({ $case: "finished", value: { attemptId: a1.attemptId, result: ok, finishedAt: new Date() } });
    const a2 = await agent.next("assign");
    assert.is(a2.taskId, second.task.id, "the older one first");
    agent.send({ $case: "started", value: { attemptId: a2.attemptId, pid: 2, startedAt: new Date() } });
    agent.send({ $case: "finished", value: { attemptId: a2.attemptId, result: ok, finishedAt: new Date() } });
    const a3 = await agent.next("assign");
    assert.is(a3.taskId, third.task.id);
    await eventually(
      async () => (await call(c.tasks, "getTask", { taskId: second.task.id })).task.state === TaskState.TASK_STATE_SUCCEEDED,
      "second SUCCEEDED",
    );
  } finally {
    agent.close();
    c.close();
    await tm.cleanup();
  }
});

test.run();
