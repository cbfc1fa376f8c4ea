// Stale-attempt detection in the master: an attempt of a task with a timeout that has no result
// after timeout + staleMarginMs is ended as TIMEOUT by the master (even with its agent gone),
// releases its resources and follows the retry rules. Driven with an injected clock and a
// hand-driven agent that never reports a result; the master's stale tick is called directly.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createClient, type TaskgridClient } from "../../src/client/index.js";
import { AttemptOutcome, TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { STALE_MESSAGE } from "../../master/stale-attempts.js";
import { RawAgent } from "../helpers/raw-agent.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

let nowMs = Date.parse("2030-01-01T00:00:00Z");
const clock = { now: () => nowMs };
const TIMEOUT_MS = 1_000;
const MARGIN_MS = 500;

const s = suite<{ m: TestMaster; client: TaskgridClient }>("stale attempts");
s.before(async (ctx) => {
  // The periodic liveness loop (which also runs the stale pass) is pushed far away: the test drives
  // the stale tick itself, and moving the clock must not make workers OFFLINE.
  ctx.m = await startTestMaster({
    clock,
    staleMarginMs: MARGIN_MS,
    livenessTickMs: 3_600_000,
    suspectAfterMs: 3_600_000,
    offlineAfterMs: 7_200_000,
    retryBackoffMs: 0, // the injected clock stands still: a backoff would never end
  });
  ctx.client = createClient(ctx.m.address);
});
s.after(async (ctx) => {
  ctx.client.close();
  await ctx.m.cleanup();
});

async function waitForState(client: TaskgridClient, taskId: string, state: TaskState) {
  const watch = client.watchTasks({ taskIds: [taskId] });
  for await (const event of watch) if (event.state === state) break;
  watch.cancel();
  return client.getTask(taskId);
}

s("config: staleMarginMs defaults to 30 s and must be positive", async () => {
  const { resolveMasterConfig } = await import("../../master/config.js");
  assert.is(resolveMasterConfig({}).staleMarginMs, 30_000);
  assert.throws(() => resolveMasterConfig({ staleMarginMs: -1 }), /stale_margin_ms/);
});

s("past timeout + margin: TIMEOUT, agent told to cancel, retried; with the agent gone the last try FAILS", async ({ m, client }) => {
  const agent = new RawAgent(m.address);
  agent.register("w-stale");
  await agent.next("registered");
  const { task } = await client.submitTask({ command: ["sleep", "999"], timeoutMs: TIMEOUT_MS, maxRetries: 1 });
  const first = await agent.next("assign");
  agent.send({ $case: "started", value: { attemptId: first.attemptId, pid: 4242, startedAt: new Date(nowMs) } });
  await waitForState(client, task.id, TaskState.TASK_STATE_RUNNING);

  // Exactly at timeout + margin: not stale yet.
  nowMs += TIMEOUT_MS + MARGIN_MS;
  assert.equal(await m.master.stale.tick(), []);
  nowMs += 1;
  assert.equal(await m.master.stale.tick(), [first.attemptId]);
  const cancel = await agent.next("cancel");
  assert.is(cancel.attemptId, first.attemptId);
  assert.is(cancel.reason, STALE_MESSAGE);
  // Retries remain: the task is placed again (same worker, the only one) with a new attempt.
  const second = await agent.next("assign");
  assert.is(second.taskId, task.id);
  assert.is.not(second.attemptId, first.attemptId);
  let got = await client.getTask(task.id);
  assert.is(got.attempts.length, 2);
  assert.is(got.attempts[0].result!.outcome, AttemptOutcome.ATTEMPT_OUTCOME_TIMEOUT);
  assert.is(got.attempts[0].result!.message, STALE_MESSAGE);
  assert.is(got.attempts[0].result!.durationMs, TIMEOUT_MS + MARGIN_MS + 1);
  // A late report of the stale attempt is fenced: acknowledged and ignored, the task is unaffected
  // (its process is gone, so there is nothing to cancel).
  agent.send(
    {
      $case: "finished",
      value: {
        attemptId: first.attemptId,
        finishedAt: new Date(nowMs),
        result: { outcome: AttemptOutcome.ATTEMPT_OUTCOME_CANCELED, exitCode: -1, signal: "SIGKILL", outputTail: "", durationMs: 1, message: "" },
      },
    },
    1,
  );
  assert.is((await agent.next("ack")).seq, 1);
  assert.is(agent.take("cancel"), undefined);
  assert.is(m.master.state.liveAttempts.get(second.attemptId)?.workerId, "w-stale");

  // The agent goes away without a word (and the worker is not OFFLINE yet): the master still ends it.
  agent.close();
  await agent.ended;
  nowMs += TIMEOUT_MS + MARGIN_MS + 1;
  assert.equal(await m.master.stale.tick(), [second.attemptId]);
  got = await waitForState(client, task.id, TaskState.TASK_STATE_FAILED);
  assert.is(got.result!.outcome, AttemptOutcome.ATTEMPT_OUTCOME_TIMEOUT);
  assert.is(got.result!.message, STALE_MESSAGE);
  assert.is(got.attempts.length, 2);
  assert.is(got.attempts[1].result!.outcome, AttemptOutcome.ATTEMPT_OUTCOME_TIMEOUT);
  // Resources are released.
  assert.is(m.master.state.slots.get("w-stale")!.allocations.size, 0);
  assert.is(m.master.state.liveAttempts.size, 0);
  assert.equal(await m.master.stale.tick(), []);
});

s("tasks without a timeout are never stale; an attempt that reports in time is left alone", async ({ m, client }) => {
  const agent = new RawAgent(m.address);
  agent.register("w-fresh");
  await agent.next("registered");
  const noTimeout = await client.submitTask({ command: ["sleep", "999"], maxRetries: 0 });
  const a = await agent.next("assign");
  assert.is(a.taskId, noTimeout.task.id);
  const withTimeout = await client.submitTask({ command: ["true"], timeoutMs: TIMEOUT_MS, maxRetries: 0 });
  const b = await agent.next("assign");
  assert.is(b.taskId, withTimeout.task.id);
  nowMs += TIMEOUT_MS; // within timeout + margin for b
  assert.equal(await m.master.stale.tick(), []);
  const ok = { outcome: AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED, exitCode: 0, signal: "", outputTail: "", durationMs: 5, message: "" };
  agent.send({ $case: "finished", value: { attemptId: b.attemptId, result: ok, finishedAt: new Date(nowMs) } });
  const done = await waitForState(client, withTimeout.task.id, TaskState.TASK_STATE_SUCCEEDED);
  assert.is(done.result!.outcome, AttemptOutcome.ATTEMPT_OUTCOME_SUCCEEDED);
  nowMs += 24 * 3_600_000; // a day later the timeout-less task still runs
  assert.equal(await m.master.stale.tick(), []);
  assert.is((await client.getTask(noTimeout.task.id)).state, TaskState.TASK_STATE_ASSIGNED);
  await client.cancelTask(noTimeout.task.id, "test done");
  agent.close();
});

s.run();
