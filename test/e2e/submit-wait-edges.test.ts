// `submit --wait` on its rough edges (issue 17): a task no connected worker can ever run ends the
// wait at once (exit 2, the reason on stderr) unless --wait-unschedulable; Ctrl-C leaves the task
// running, says how to follow or cancel it, and exits 130. Real master, a hand-driven agent without
// GPUs, and the real bin for the signal.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createClient, type TaskgridClient } from "../../src/client/index.js";
import { TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { Proc } from "../helpers/processes.js";
import { RawAgent } from "../helpers/raw-agent.js";
import { runCli } from "../helpers/run-cli.js";
import { eventually } from "../helpers/task-watch.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

let tm: TestMaster;
let client: TaskgridClient;
let agent: RawAgent;

test.before(async () => {
  tm = await startTestMaster();
  client = createClient(tm.address);
  agent = new RawAgent(tm.address);
  agent.register("cpu-only"); // 4 cores, no GPUs
  await agent.next("registered");
});

test.after(async () => {
  agent.close();
  client.close();
  await tm.cleanup();
});

const cli = (...argv: string[]) => runCli(argv, { TASKGRID_MASTER: tm.address });

test("an unschedulable task ends --wait at once with exit 2 and the reason; it stays queued", async () => {
  const run = await cli("submit", "--wait", "--label", "case=unschedulable", "--gpus", "1", "--", "true");
  assert.is(run.code, 2, run.err);
  const id = run.err.match(/task (\S+) submitted/)![1];
  assert.match(run.err, `error: task ${id} cannot run: unschedulable: no worker can ever run it`);
  assert.match(run.err, `taskgrid cancel ${id}`);
  assert.is((await client.getTask(id)).state, TaskState.TASK_STATE_QUEUED, "the task is left as it was");
  await client.cancelTask(id);
});

test("--wait-unschedulable keeps waiting: the wait ends only when the task does", async () => {
  const waiting = cli("submit", "--wait", "--wait-unschedulable", "--label", "case=keep-waiting", "--gpus", "1", "--", "true");
  const task = await eventually(async () => (await client.listTasks({ label: "case=keep-waiting" })).tasks[0], "the task is submitted");
  // Wait until the master calls it unschedulable (what would have ended a plain --wait), then cancel.
  await eventually(async () => (await client.getTask(task.id)).pendingReason.startsWith("unschedulable:"), "the master calls it unschedulable");
  await client.cancelTask(task.id, "test");
  const run = await waiting;
  assert.is(run.code, 130, run.err);
  assert.match(run.err, `task ${task.id} CANCELED`);
  assert.not.match(run.err, /cannot run/);
});

test("Ctrl-C during --wait leaves the task running, says how to follow or cancel it, exits 130", async () => {
  // Placed on the hand-driven agent, which never runs it: ASSIGNED until canceled.
  const proc = new Proc(["submit", "--wait", "--", "sleep", "600"], { TASKGRID_MASTER: tm.address });
  try {
    const id = (await proc.waitFor(/task (\S+) submitted/))[1];
    await agent.next("assign");
    await proc.waitFor(new RegExp(`task ${id} ASSIGNED`));
    proc.child.kill("SIGINT");
    assert.is(await proc.exited, 130, proc.output);
    assert.match(proc.output, `interrupted: task ${id} goes on; follow it with 'taskgrid watch ${id}', cancel it with 'taskgrid cancel ${id}'`);
    assert.is((await client.getTask(id)).state, TaskState.TASK_STATE_ASSIGNED, "the task was not canceled");
    await client.cancelTask(id);
  } finally {
    await proc.stop();
  }
});

test.run();
