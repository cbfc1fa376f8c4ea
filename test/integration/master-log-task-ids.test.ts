// Master log lines about a task carry its id (issue 17): a task is driven through submit, placement,
// a failed attempt with a retry, a report about its attempt from another (confused) worker, and a
// cancel, with the master's JSON log captured at debug level; every line that names one of its
// attempt ids has `task` (the task id) too. Raw agents report on command.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createClient, type TaskgridClient } from "../../src/client/index.js";
import { TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { RawAgent } from "../helpers/raw-agent.js";
import { eventually } from "../helpers/task-watch.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

let tm: TestMaster;
let client: TaskgridClient;
let runner: RawAgent;
let confused: RawAgent;

test.before(async () => {
  tm = await startTestMaster();
  client = createClient(tm.address);
  runner = new RawAgent(tm.address);
  runner.register("w-runner", { tags: ["logs"] });
  await runner.next("registered");
  // Never chosen (no "logs" tag): it only reports about the runner's attempt.
  confused = new RawAgent(tm.address);
  confused.register("w-confused");
  await confused.next("registered");
});

test.after(async () => {
  runner.close();
  confused.close();
  client.close();
  await tm.cleanup();
});

const failed = { outcome: 2, exitCode: 3, signal: "", outputTail: "", durationMs: 5, message: "" };

test("every master log line naming an attempt of the task also names the task", async () => {
  const { task } = await client.submitTask({
    command: ["false"],
    requiredTags: ["logs"],
    resources: { cpuMillis: 100, memoryMib: 64 },
    maxRetries: 1,
    retryBackoffMs: 0,
  });
  const first = await runner.next("assign");
  assert.is(first.taskId, task.id);
  runner.send({ $case: "started", value: { attemptId: first.attemptId, pid: 1, startedAt: new Date() } });
  runner.send({ $case: "finished", value: { attemptId: first.attemptId, result: failed, finishedAt: new Date() } });
  const second = await runner.next("assign");
  assert.is(second.taskId, task.id, "the retry");
  runner.send({ $case: "started", value: { attemptId: second.attemptId, pid: 2, startedAt: new Date() } });
  await eventually(async () => (await client.getTask(task.id)).state === TaskState.TASK_STATE_RUNNING, "the retry runs");

  // Another worker reports the running attempt finished: refused, and logged.
  confused.send({ $case: "finished", value: { attemptId: second.attemptId, result: failed, finishedAt: new Date() } });
  await eventually(async () => tm.logs.some((l) => l.includes("report about another worker's attempt rejected")), "the foreign report logged");

  await client.cancelTask(task.id, "enough");
  const cancel = await runner.next("cancel");
  assert.is(cancel.attemptId, second.attemptId);
  runner.send({ $case: "finished", value: { attemptId: second.attemptId, result: { ...failed, outcome: 3, exitCode: -1 }, finishedAt: new Date() } });
  await eventually(async () => (await client.getTask(task.id)).state === TaskState.TASK_STATE_CANCELED, "canceled");

  const attemptIds = [first.attemptId, second.attemptId];
  const entries = tm.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
  const naming = entries.filter((e) => attemptIds.some((id) => JSON.stringify(e).includes(id)));
  assert.ok(naming.length >= 1, "some line names an attempt (else this test checks nothing)");
  const withoutTask = naming.filter((e) => e.task !== task.id);
  assert.equal(withoutTask, [], "lines naming an attempt without the task");
});

test.run();
