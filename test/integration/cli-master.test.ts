// The typed client and the CLI verbs against a real master (embedded database, no agent): tasks stay
// QUEUED, which is enough to exercise submit, get, ls, watch, cancel, workers, info and their errors.
import { runCli } from "../helpers/run-cli.js";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ClientError, createClient, type TaskgridClient } from "../../src/client/index.js";
import { TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";
import { RawAgent } from "../helpers/raw-agent.js";

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

interface Captured {
  code: number;
  out: string;
  err: string;
}

function cli(...argv: string[]): Promise<Captured> {
  return runCli(argv, { TASKGRID_MASTER: tm.address });
}

test("client: submit, get, list, cancel; errors carry status and details", async () => {
  const { task, existing } = await client.submitTask({ name: "c1", command: ["true"], labels: { suite: "client" } });
  assert.is(existing, false);
  assert.is(task.state, TaskState.TASK_STATE_QUEUED);
  assert.is((await client.getTask(task.id)).spec?.name, "c1");
  const listed = await client.listTasks({ label: "suite=client" });
  assert.equal(
    listed.tasks.map((t) => t.id),
    [task.id],
  );
  const ids = await client.submitTasks([{ command: ["true"] }, { command: ["false"] }]);
  assert.is(ids.length, 2);
  assert.is((await client.cancelTask(task.id, "done")).state, TaskState.TASK_STATE_CANCELED);
  const err = await client.cancelTask(task.id).catch((e: unknown) => e);
  assert.instance(err, ClientError);
  assert.is((err as ClientError).codeName, "FAILED_PRECONDITION");
  const invalid = await client.submitTask({ command: [] }).catch((e: unknown) => e);
  assert.is((invalid as ClientError).codeName, "INVALID_ARGUMENT");
  assert.ok((invalid as ClientError).details.includes("command"), (invalid as ClientError).details);
});

test("client: a watch yields the current state first and ends quietly on cancel", async () => {
  const { task } = await client.submitTask({ command: ["true"] });
  const watch = client.watchTasks({ taskIds: [task.id] });
  const seen: TaskState[] = [];
  for await (const event of watch) {
    seen.push(event.state);
    if (event.state === TaskState.TASK_STATE_QUEUED) watch.cancel();
  }
  assert.equal(seen, [TaskState.TASK_STATE_QUEUED]);
});

test("cli: submit prints the id; get, ls and --json show it", async () => {
  const submitted = await cli("submit", "--name", "cli-task", "--label", "suite=cli", "--queue", "batch", "--cpu", "0.5", "--", "echo", "hi");
  assert.is(submitted.code, 0, submitted.err);
  const id = submitted.out.trim();
  assert.match(id, /^[0-9a-f-]{36}$/);

  const got = await cli("get", id);
  assert.is(got.code, 0, got.err);
  assert.match(got.out, /State:\s+QUEUED/);
  assert.match(got.out, /Queue:\s+BATCH \/ NORMAL/);

  const json = JSON.parse((await cli("get", id, "--json")).out);
  assert.is(json.state, "TASK_STATE_QUEUED");
  assert.is(json.spec.resources.cpuMillis, 500);

  const ls = await cli("ls", "--label", "suite=cli", "--state", "queued");
  assert.is(ls.code, 0, ls.err);
  assert.match(ls.out, new RegExp(`^${id}\\s+QUEUED\\s+BATCH\\s+NORMAL\\s+cli-task`, "m"));
});

test("cli: watch ends once the watched task is canceled; cancel twice is FAILED_PRECONDITION", async () => {
  const id = (await cli("submit", "--", "sleep", "1")).out.trim();
  const watching = cli("watch", id);
  await new Promise((r) => setTimeout(r, 200));
  assert.is((await cli("cancel", id, "--reason", "test")).code, 0);
  const watched = await watching;
  assert.is(watched.code, 0, watched.err);
  assert.match(watched.out, /QUEUED\n.*CANCELED/s);
  const again = await cli("cancel", id);
  assert.is(again.code, 1);
  assert.match(again.err, /^error: FAILED_PRECONDITION: /);
});

test("cli: submit --wait exits 130 when the task is canceled", async () => {
  const waiting = cli("submit", "--wait", "--label", "suite=wait", "--", "sleep", "5");
  let id = "";
  for (let i = 0; i < 50 && !id; i++) {
    await new Promise((r) => setTimeout(r, 50));
    id = (await client.listTasks({ label: "suite=wait" })).tasks[0]?.id ?? "";
  }
  await client.cancelTask(id, "stop waiting");
  const r = await waiting;
  assert.is(r.code, 130, r.err);
  assert.match(r.err, /CANCELED/);
});

test("cli: get of an unknown id is NOT_FOUND; workers and info print", async () => {
  const missing = await cli("get", "no-such-task");
  assert.is(missing.code, 1);
  assert.match(missing.err, /^error: NOT_FOUND: /);
  const workers = await cli("workers");
  assert.is(workers.code, 0, workers.err);
  assert.match(workers.out, /^ID\s+STATUS/);
  const info = await cli("info");
  assert.is(info.code, 0, info.err);
  assert.match(info.out, /Ordering:\s+multifactor/);
  const infoJson = JSON.parse((await cli("info", "--json")).out);
  assert.is(infoJson.orderingPolicy, "multifactor");
});

test("cli: drain and undrain a worker; an unknown one is NOT_FOUND", async () => {
  const agent = new RawAgent(tm.address);
  agent.register("w-cli-drain");
  await agent.next("registered");
  try {
    const drained = await cli("drain", "--reason", "disk swap", "w-cli-drain");
    assert.is(drained.code, 0, drained.err);
    assert.is(drained.out, "worker w-cli-drain DRAINING\n");
    assert.is((await agent.next("drain")).reason, "disk swap");
    const undrained = await cli("undrain", "w-cli-drain");
    assert.is(undrained.code, 0, undrained.err);
    assert.is(undrained.out, "worker w-cli-drain ONLINE\n");
    await agent.next("undrain");
    const json = JSON.parse((await cli("undrain", "--json", "w-cli-drain")).out);
    assert.is(json.status, "WORKER_STATUS_ONLINE");
    const unknown = await cli("undrain", "nobody");
    assert.is(unknown.code, 1);
    assert.match(unknown.err, /NOT_FOUND|not found/);
  } finally {
    agent.close();
  }
});

test.run();
