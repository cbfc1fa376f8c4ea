// End to end: a master and two real agent processes running real commands. Success, non-zero
// exit, cancel of a running task (the process is really killed), spreading over both agents, and
// `taskgrid submit --wait` printing the output and exiting with the task's code.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { createClient, type TaskgridClient } from "../../src/client/index.js";
import { AttemptOutcome, TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { Proc, runBin } from "../helpers/processes.js";
import { eventually } from "../helpers/task-watch.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

const e2e = suite<{ m: TestMaster; agents: Proc[]; client: TaskgridClient }>("cluster e2e");

e2e.before(async (ctx) => {
  ctx.m = await startTestMaster();
  ctx.agents = ["e2e-a", "e2e-b"].map((id) => new Proc(["agent", "--master", ctx.m.address, "--id", id, "--tags", "e2e", "--max-tasks", "2"]));
  await Promise.all(ctx.agents.map((a) => a.waitFor(/"registered"/)));
  ctx.client = createClient(ctx.m.address);
});

e2e.after(async (ctx) => {
  ctx.client.close();
  await Promise.all(ctx.agents.map((a) => a.stop()));
  await ctx.m.cleanup();
});

async function finished(client: TaskgridClient, taskId: string) {
  const terminal = new Set([TaskState.TASK_STATE_SUCCEEDED, TaskState.TASK_STATE_FAILED, TaskState.TASK_STATE_CANCELED]);
  const watch = client.watchTasks({ taskIds: [taskId] });
  for await (const event of watch) if (terminal.has(event.state)) break;
  watch.cancel();
  return client.getTask(taskId);
}

const spec = (command: string[]) => ({ command, requiredTags: ["e2e"] });

e2e("a real command succeeds and its output is stored", async ({ client }) => {
  const { task } = await client.submitTask(spec(["sh", "-c", "echo hello; echo to-stderr >&2"]));
  const done = await finished(client, task!.id);
  assert.is(done.state, TaskState.TASK_STATE_SUCCEEDED);
  assert.is(done.result!.exitCode, 0);
  assert.match(done.result!.outputTail, /hello\n/);
  assert.match(done.result!.outputTail, /to-stderr/);
  assert.ok(["e2e-a", "e2e-b"].includes(done.attempts[0].workerId));
});

e2e("a non-zero exit fails the task with its exit code", async ({ client }) => {
  const { task } = await client.submitTask(spec(["sh", "-c", "exit 7"]));
  const done = await finished(client, task!.id);
  assert.is(done.state, TaskState.TASK_STATE_FAILED);
  assert.is(done.result!.exitCode, 7);
  assert.is(done.result!.outcome, AttemptOutcome.ATTEMPT_OUTCOME_FAILED);
});

e2e("a command that does not exist ends START_FAILED", async ({ client }) => {
  const { task } = await client.submitTask(spec(["definitely-not-a-command-xyz"]));
  const done = await finished(client, task!.id);
  assert.is(done.state, TaskState.TASK_STATE_FAILED);
  assert.is(done.result!.outcome, AttemptOutcome.ATTEMPT_OUTCOME_START_FAILED);
});

e2e("cancel of a running task kills its process", async ({ client, agents }) => {
  const { task } = await client.submitTask(spec(["sleep", "60"]));
  const watch = client.watchTasks({ taskIds: [task!.id] });
  for await (const event of watch) if (event.state === TaskState.TASK_STATE_RUNNING) break;
  watch.cancel();
  const running = await client.getTask(task!.id);
  const attemptId = running.attempts[0].id;
  const canceled = await client.cancelTask(task!.id, "e2e");
  assert.is(canceled.state, TaskState.TASK_STATE_CANCELED);
  // The agent reports the process gone: that line is the event we wait on (from whichever agent
  // ran it; it may not have logged anything about the attempt yet when the cancel returns).
  await Promise.race(agents.map((a) => a.waitFor(new RegExp(`"attempt finished".*"${attemptId}".*CANCELED`))));
  // The task was terminal before the report, so no watch event announces the attempt's result.
  const result = await eventually(async () => (await client.getTask(task!.id)).attempts[0].result, "the canceled attempt's result");
  assert.is(result.outcome, AttemptOutcome.ATTEMPT_OUTCOME_CANCELED);
  assert.ok(result.durationMs < 60_000);
});

e2e("tasks spread over both agents", async ({ client }) => {
  const taskIds = await client.submitTasks(Array.from({ length: 4 }, () => spec(["true"])));
  const tasks = await Promise.all(taskIds.map((id) => finished(client, id)));
  const workers = new Set(tasks.map((t) => t.attempts[0].workerId));
  assert.equal([...workers].sort(), ["e2e-a", "e2e-b"]);
  for (const t of tasks) assert.is(t.state, TaskState.TASK_STATE_SUCCEEDED);
});

e2e("taskgrid submit --wait prints the output and exits with the task's code", async ({ m }) => {
  const ok = await runBin(["submit", "--master", m.address, "--tags", "e2e", "--wait", "--", "echo", "hello"]);
  assert.is(ok.code, 0, ok.stderr);
  assert.is(ok.stdout, "hello\n");
  const bad = await runBin(["submit", "--master", m.address, "--tags", "e2e", "--wait", "--", "sh", "-c", "exit 3"]);
  assert.is(bad.code, 3);
  const ls = await runBin(["ls", "--master", m.address, "--json"]);
  assert.is(ls.code, 0);
  assert.ok(JSON.parse(ls.stdout).tasks.length >= 2);
});

e2e.run();
