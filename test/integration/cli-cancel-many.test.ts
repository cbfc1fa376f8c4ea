// `taskgrid cancel` with many ids and with filters (issue 17) against a real master without agents:
// tasks stay QUEUED, so what was canceled is exactly what the filters matched.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createClient, type TaskgridClient } from "../../src/client/index.js";
import { TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { runCli } from "../helpers/run-cli.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

let tm: TestMaster;
let client: TaskgridClient;

test.before(async () => {
  tm = await startTestMaster();
  client = createClient(tm.address);
});

test.after(async () => {
  client.close();
  await tm.cleanup();
});

const cli = (...argv: string[]) => runCli(argv, { TASKGRID_MASTER: tm.address });
const stateOf = async (id: string) => (await client.getTask(id)).state;

test("cancel ID ID ...: each id, unique prefix and array id; a failure is named and exits 1, the rest still canceled", async () => {
  const [a, b] = await client.submitTasks([{ command: ["true"] }, { command: ["true"] }]);
  const array = (await client.submitTask({ command: ["true"], array: "0-2" })).task;
  const r = await cli("cancel", a, b.slice(0, 23), "no-such-task", array.arrayId);
  assert.is(r.code, 1, r.err);
  assert.match(r.out, `task ${a} CANCELED`);
  assert.match(r.out, `task ${b} CANCELED`);
  assert.match(r.out, `array ${array.arrayId}: 3 elements CANCELED`);
  assert.match(r.out, "canceled 5 tasks, 1 failed");
  assert.match(r.err, "error: no-such-task: NOT_FOUND");
  assert.is(await stateOf(a), TaskState.TASK_STATE_CANCELED);
  assert.is(await stateOf(b), TaskState.TASK_STATE_CANCELED);
  const elements = (await client.listTasks({ arrayId: array.arrayId })).tasks;
  assert.equal(
    elements.map((t) => t.state),
    [TaskState.TASK_STATE_CANCELED, TaskState.TASK_STATE_CANCELED, TaskState.TASK_STATE_CANCELED],
  );
});

test("cancel --project --label: lists every matching task over pages and cancels only those", async () => {
  const matching = await client.submitTasks(Array.from({ length: 5 }, () => ({ command: ["true"], project: "p17", labels: { sweep: "lr" } })));
  const otherLabel = await client.submitTasks([{ command: ["true"], project: "p17", labels: { sweep: "bs" } }]);
  const otherProject = await client.submitTasks([{ command: ["true"], project: "q17", labels: { sweep: "lr" } }]);
  const r = await cli("cancel", "--project", "p17", "--label", "sweep=lr", "--reason", "sweep over");
  assert.is(r.code, 0, r.err);
  assert.is(r.out, "canceled 5 tasks\n");
  for (const id of matching) assert.is(await stateOf(id), TaskState.TASK_STATE_CANCELED);
  assert.is(await stateOf(otherLabel[0]), TaskState.TASK_STATE_QUEUED);
  assert.is(await stateOf(otherProject[0]), TaskState.TASK_STATE_QUEUED);
  assert.is((await client.getTask(matching[0])).result?.message, "sweep over");

  // A second run finds nothing left in a state that can be canceled.
  const again = await cli("cancel", "--project", "p17", "--label", "sweep=lr", "--json");
  assert.is(again.code, 0, again.err);
  assert.equal(JSON.parse(again.out), { canceled: 0, tasks: [], arrays: [], alreadyEnded: [], failed: [] });
});

test("cancel --array --state queued --json: the array's queued elements, by id", async () => {
  const array = (await client.submitTask({ command: ["true"], project: "arr17", array: "0-3" })).task;
  const r = await cli("cancel", "--array", array.arrayId, "--state", "queued", "--json");
  assert.is(r.code, 0, r.err);
  const out = JSON.parse(r.out);
  assert.is(out.canceled, 4);
  const elements = (await client.listTasks({ arrayId: array.arrayId })).tasks;
  assert.equal([...out.tasks].sort(), elements.map((t) => t.id).sort());
  assert.ok(elements.every((t) => t.state === TaskState.TASK_STATE_CANCELED));
});

test("usage errors: no ids and no filter, ids with filters, an ended state; nothing canceled", async () => {
  const [id] = await client.submitTasks([{ command: ["true"], project: "u17" }]);
  for (const argv of [["cancel"], ["cancel", id, "--project", "u17"], ["cancel", "--project", "u17", "--state", "succeeded"]]) {
    const r = await cli(...argv);
    assert.is(r.code, 2, argv.join(" "));
    assert.match(r.err, /^error: /);
  }
  assert.match((await cli("cancel")).err, "at least one filter");
  assert.is(await stateOf(id), TaskState.TASK_STATE_QUEUED);
});

test("one id keeps its old answer: the task line, and a failure as the error with its status", async () => {
  const [id] = await client.submitTasks([{ command: ["true"] }]);
  const r = await cli("cancel", id);
  assert.is(r.code, 0);
  assert.is(r.out, `task ${id} CANCELED\n`);
  const again = await cli("cancel", id);
  assert.is(again.code, 1);
  assert.match(again.err, "error: FAILED_PRECONDITION");
});

test.run();
