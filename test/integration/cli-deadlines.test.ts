// Deadlines and array elements at the edges of the CLI (issue 17): a deadline already past is
// refused at submit (INVALID_ARGUMENT on the deadline, nothing stored), one shorter than the estimate
// is accepted with a warning on stderr, `watch` says by how much an ended task missed its deadline,
// and `get` of an array element names its array and index. A raw agent runs the task; the master's
// clock is skewed forward to end it past its deadline.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ClientError, createClient, type TaskgridClient } from "../../src/client/index.js";
import { TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { RawAgent } from "../helpers/raw-agent.js";
import { runCli } from "../helpers/run-cli.js";
import { eventually } from "../helpers/task-watch.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

let tm: TestMaster;
let client: TaskgridClient;
/** Added to the master's clock: the test moves the master past a deadline without waiting for it. */
let skewMs = 0;

test.before(async () => {
  tm = await startTestMaster({ clock: { now: () => Date.now() + skewMs } });
  client = createClient(tm.address);
});

test.after(async () => {
  client.close();
  await tm.cleanup();
});

const cli = (...argv: string[]) => runCli(argv, { TASKGRID_MASTER: tm.address });

test("a deadline in the past is INVALID_ARGUMENT on the deadline, for one spec and in a batch; nothing is stored", async () => {
  const before = (await client.listTasks({ pageSize: 1000 })).tasks.length;
  const err = await client.submitTask({ command: ["true"], deadline: new Date(Date.now() - 60_000) }).catch((e: unknown) => e);
  assert.instance(err, ClientError);
  assert.is((err as ClientError).codeName, "INVALID_ARGUMENT");
  assert.match((err as ClientError).details, "spec.deadline");
  assert.match((err as ClientError).details, "must be in the future");
  const batch = await client.submitTasks([{ command: ["true"] }, { command: ["true"], deadline: new Date(Date.now() - 1) }]).catch((e: unknown) => e);
  assert.is((batch as ClientError).codeName, "INVALID_ARGUMENT");
  assert.match((batch as ClientError).details, "specs[1].deadline");
  const cliPast = await cli("submit", "--deadline", new Date(Date.now() - 3_600_000).toISOString(), "--", "true");
  assert.is(cliPast.code, 1);
  assert.match(cliPast.err, "must be in the future");
  assert.is((await client.listTasks({ pageSize: 1000 })).tasks.length, before, "no task stored");
});

test("submit: a deadline sooner than the estimate is accepted with a warning; a later one without", async () => {
  const short = await cli("submit", "--deadline", "+2m", "--estimate", "5m", "--", "true");
  assert.is(short.code, 0, short.err);
  assert.is(short.err, "warning: the deadline is in 2m but the estimate is 5m: it will likely be missed\n");
  assert.is((await client.getTask(short.out.trim())).state, TaskState.TASK_STATE_QUEUED);
  const ample = await cli("submit", "--deadline", "+10m", "--estimate", "5m", "--", "true");
  assert.is(ample.code, 0, ample.err);
  assert.is(ample.err, "");
  for (const id of [short.out.trim(), ample.out.trim()]) await client.cancelTask(id);
});

test("watch: the terminal line of a task that ended past its deadline says by how much", async () => {
  const agent = new RawAgent(tm.address);
  try {
    agent.register("w-deadline", { capacity: { cpuMillis: 4000, memoryMib: 8192, maxTasks: 4, gpus: [] } });
    await agent.next("registered");
    const { task } = await client.submitTask({ command: ["true"], resources: { cpuMillis: 100, memoryMib: 64 }, deadline: new Date(Date.now() + 60_000) });
    const watching = cli("watch", task.id);
    const a = await agent.next("assign");
    agent.send({ $case: "started", value: { attemptId: a.attemptId, pid: 1, startedAt: new Date() } });
    // It ends four minutes on, three past its deadline: by the agent's report and by the master's clock.
    skewMs = 240_000;
    const result = { outcome: 1, exitCode: 0, signal: "", outputTail: "", durationMs: 240_000, message: "" };
    agent.send({ $case: "finished", value: { attemptId: a.attemptId, result, finishedAt: new Date(Date.now() + skewMs) } });
    const watched = await watching;
    assert.is(watched.code, 0, watched.err);
    const last = watched.out.trim().split("\n").at(-1)!;
    assert.match(last, `task ${task.id} SUCCEEDED`);
    assert.match(last, /\(deadline missed by 3m(\d+s)?\)$/);
    const got = await client.getTask(task.id);
    assert.ok(got.deadlineMissed);
    // A task that met its deadline has no note.
    const { task: onTime } = await client.submitTask({
      command: ["true"],
      resources: { cpuMillis: 100, memoryMib: 64 },
      deadline: new Date(Date.now() + skewMs + 600_000),
    });
    const watchingOnTime = cli("watch", onTime.id);
    const b = await agent.next("assign");
    agent.send({ $case: "finished", value: { attemptId: b.attemptId, result, finishedAt: new Date(Date.now() + skewMs) } });
    const onTimeOut = await watchingOnTime;
    assert.match(onTimeOut.out, `task ${onTime.id} SUCCEEDED`);
    assert.not.match(onTimeOut.out, "deadline missed", onTimeOut.out);
  } finally {
    skewMs = 0;
    agent.close();
  }
});

test("get: an array element shows its array and index", async () => {
  const { task } = await client.submitTask({ command: ["true"], array: "0-2" });
  const r = await cli("get", `${task.arrayId}[1]`);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, new RegExp(`^Array:\\s+${task.arrayId} \\[1\\]$`, "m"));
  const single = (await client.submitTasks([{ command: ["true"] }]))[0];
  assert.not.match((await cli("get", single)).out, /^Array:/m);
  await eventually(async () => (await client.cancelTaskOrArray(task.arrayId)).canceledElements === 3, "array canceled");
});

test.run();
