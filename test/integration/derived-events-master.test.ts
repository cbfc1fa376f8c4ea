// Through a real master, the history read back from the database is the one the master published
// live, field for field, though since migration 0017 most of its events are derived from the task
// and attempt rows (store/events-sql.ts) rather than stored: the master's choice of what a row can
// stand for (task-change.ts rowRecordsEnd, task-lifecycle.ts attemptStarted) must match what the
// store derives. Each case counts the event rows it expects stored.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { TaskEvent } from "../../src/core/types.js";
import { AttemptOutcome, TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { call, rawClients, waitForState, type RawClients } from "../helpers/grpc-clients.js";
import { RawAgent } from "../helpers/raw-agent.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

const s = suite<{ m: TestMaster; c: RawClients; live: TaskEvent[] }>("derived events through the master");
/** The task of every event row the master wrote (counted at its store's write, on either backend). */
const appended: string[] = [];
s.before(async (ctx) => {
  ctx.m = await startTestMaster({ retryBackoffMs: 10, random: () => 0 });
  ctx.c = rawClients(ctx.m.address);
  ctx.live = [];
  ctx.m.master.term!.hub.subscribe({ taskIds: null, project: "", push: (event) => ctx.live.push(event) });
  const store = ctx.m.master.store;
  const write = store.write.bind(store);
  store.write = (writes) => {
    for (const w of writes) if (w.kind === "append_event") appended.push(w.event.taskId);
    return write(writes);
  };
});
s.after(async (ctx) => {
  ctx.c.close();
  await ctx.m.cleanup();
});

const ok = { outcome: AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED, exitCode: 0, signal: "", outputTail: "", durationMs: 5, message: "" };
const failed = { ...ok, outcome: AttemptOutcome.ATTEMPT_OUTCOME_FAILED, exitCode: 3 };
let seq = 0;

/**
 * The task's history from the database equals what was published live, progress reports aside
 * (they are published, not kept in the history); returns its states.
 */
async function sameHistory(ctx: { m: TestMaster; live: TaskEvent[] }, taskId: string, progressReports: readonly number[] = []): Promise<string[]> {
  const stored = await ctx.m.master.store.getEvents(taskId);
  const live = ctx.live.filter((e) => e.taskId === taskId);
  const kept = live.filter((_, i) => !progressReports.includes(i));
  assert.equal(stored, kept);
  return stored.map((e) => e.state);
}

/** An agent registered with the one tag `tag`, and a task submitted for it. */
async function agentWithTask(ctx: { m: TestMaster; c: RawClients }, tag: string, extra: Record<string, unknown> = {}) {
  const agent = new RawAgent(ctx.m.address);
  agent.register(`w-${tag}`, { tags: [tag] });
  await agent.next("registered");
  const { task } = await call(ctx.c.tasks, "submitTask", { spec: { command: ["true"], requiredTags: [tag], ...extra } });
  return { agent, task };
}

/** Event rows the master wrote for the task (the rest of its history is derived). */
const storedRows = (taskId: string): number => appended.filter((id) => id === taskId).length;

s("start and success: no event row; the history reads back as published", async (ctx) => {
  const { agent, task } = await agentWithTask(ctx, "plain");
  const a = await agent.next("assign");
  agent.send({ $case: "started", value: { attemptId: a.attemptId, pid: 1, startedAt: new Date() } }, ++seq);
  agent.send({ $case: "finished", value: { attemptId: a.attemptId, result: ok, finishedAt: new Date() } }, ++seq);
  await waitForState(ctx.c, task.id, TaskState.TASK_STATE_SUCCEEDED);
  assert.equal(await sameHistory(ctx, task.id), ["QUEUED", "ASSIGNED", "RUNNING", "SUCCEEDED"]);
  assert.is(storedRows(task.id), 0);
  agent.close();
});

s("after progress reports (live only) the end carries the last one and is still derived", async (ctx) => {
  const { agent, task } = await agentWithTask(ctx, "progress");
  const a = await agent.next("assign");
  agent.send({ $case: "started", value: { attemptId: a.attemptId, pid: 1, startedAt: new Date() } }, ++seq);
  agent.send({ $case: "progress", value: { attemptId: a.attemptId, percent: 60, message: "epoch 6" } }, ++seq);
  agent.send({ $case: "finished", value: { attemptId: a.attemptId, result: ok, finishedAt: new Date() } }, ++seq);
  await waitForState(ctx.c, task.id, TaskState.TASK_STATE_SUCCEEDED);
  assert.equal(await sameHistory(ctx, task.id, [3]), ["QUEUED", "ASSIGNED", "RUNNING", "SUCCEEDED"]);
  assert.is(storedRows(task.id), 0);
  agent.close();
});

s("a failure retried, then a success: the requeue (its reason) and the second assignment and start (the task has progress by then) are stored", async (ctx) => {
  const { agent, task } = await agentWithTask(ctx, "retry", { maxRetries: 1 });
  const first = await agent.next("assign");
  agent.send({ $case: "started", value: { attemptId: first.attemptId, pid: 1, startedAt: new Date() } }, ++seq);
  agent.send({ $case: "progress", value: { attemptId: first.attemptId, percent: 30, message: "" } }, ++seq);
  agent.send({ $case: "finished", value: { attemptId: first.attemptId, result: failed, finishedAt: new Date() } }, ++seq);
  const second = await agent.next("assign");
  agent.send({ $case: "started", value: { attemptId: second.attemptId, pid: 2, startedAt: new Date() } }, ++seq);
  agent.send({ $case: "finished", value: { attemptId: second.attemptId, result: ok, finishedAt: new Date() } }, ++seq);
  await waitForState(ctx.c, task.id, TaskState.TASK_STATE_SUCCEEDED);
  assert.equal(await sameHistory(ctx, task.id, [3]), ["QUEUED", "ASSIGNED", "RUNNING", "QUEUED", "ASSIGNED", "RUNNING", "SUCCEEDED"]);
  assert.is(storedRows(task.id), 3, "the requeue, and the second assignment and start (progress 30 by then)");
  agent.close();
});

s("canceled while running: the cancel is derived (the canceller as actor); a queued task's cancel is stored", async (ctx) => {
  const { agent, task } = await agentWithTask(ctx, "cancel", { command: ["sleep", "60"] });
  const a = await agent.next("assign");
  agent.send({ $case: "started", value: { attemptId: a.attemptId, pid: 1, startedAt: new Date() } }, ++seq);
  await waitForState(ctx.c, task.id, TaskState.TASK_STATE_RUNNING);
  await call(ctx.c.tasks, "cancelTask", { taskId: task.id });
  assert.equal(await sameHistory(ctx, task.id), ["QUEUED", "ASSIGNED", "RUNNING", "CANCELED"]);
  assert.is(storedRows(task.id), 0);
  const { task: queued } = await call(ctx.c.tasks, "submitTask", { spec: { command: ["true"], requiredTags: ["nowhere"] } });
  await call(ctx.c.tasks, "cancelTask", { taskId: queued.id });
  assert.equal(await sameHistory(ctx, queued.id), ["QUEUED", "CANCELED"]);
  assert.is(storedRows(queued.id), 1);
  agent.close();
});

s.run();
