// The client (and the CLI through it) with several masters: it follows a standby's leader hint,
// goes round the list past masters that are down, gives up at its deadline when no master leads,
// and never repeats a write that a leader may have carried out. The leader is a real master; the
// standbys are fake gRPC servers that refuse every call as a standby does (UNAVAILABLE with the
// `taskgrid-leader` trailing metadata), counting the calls they get.
import * as grpc from "@grpc/grpc-js";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ClientError, createClient, type TaskgridClient } from "../../src/client/index.js";
import { clientErrorHint } from "../../src/cli/error-text.js";
import { followUntilTerminal } from "../../src/cli/follow-tasks.js";
import type { WatchTasksResponse } from "../../src/gen/taskgrid/v1/task_service.js";
import { TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { closedPort, FakeMaster, standbyOf, type Refusal } from "../helpers/fake-standby.js";
import { runCli } from "../helpers/run-cli.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

const UNAVAILABLE = grpc.status.UNAVAILABLE;

let leader: TestMaster;
let standby: FakeMaster;
const fakes: FakeMaster[] = [];
const clients: TaskgridClient[] = [];

async function fake(refusal: Refusal): Promise<FakeMaster> {
  const f = await FakeMaster.start(refusal);
  fakes.push(f);
  return f;
}

function client(addresses: string | string[], options: Parameters<typeof createClient>[1] = {}): TaskgridClient {
  const c = createClient(addresses, options);
  clients.push(c);
  return c;
}

async function failure(promise: Promise<unknown>): Promise<ClientError> {
  const err = await promise.then(
    () => assert.unreachable("should have failed"),
    (e: unknown) => e,
  );
  assert.instance(err, ClientError);
  return err as ClientError;
}

test.before(async () => {
  leader = await startTestMaster();
  standby = await fake(standbyOf(leader.address));
});

test.after.each(() => {
  for (const c of clients.splice(0)) c.close();
});

test.after(async () => {
  await Promise.all(fakes.map((f) => f.stop()));
  await leader.cleanup();
});

test("given [standby, leader], the client submits and reads on the leader and points at it afterwards", async () => {
  const c = client([standby.address, leader.address]);
  assert.is(c.address, standby.address);
  const before = standby.calls.get("submitTask") ?? 0;
  const { task } = await c.submitTask({ name: "via-standby", command: ["true"] });
  assert.is(standby.calls.get("submitTask"), before + 1, "the standby was asked once, then the leader");
  assert.is(c.address, leader.address);
  assert.is((await c.getTask(task.id)).spec?.name, "via-standby");
  assert.is((await c.listTasks({})).tasks.filter((t) => t.id === task.id).length, 1);
  assert.equal(c.addresses, [standby.address, leader.address]);
});

test("a standby naming a leader the client was not given: the leader is learned and called", async () => {
  const c = client(standby.address);
  const info = await c.getSchedulerInfo();
  assert.ok(info !== undefined);
  assert.is(c.address, leader.address);
  assert.equal(c.addresses, [standby.address, leader.address]);
  // Also as one comma-separated string.
  const listed = client(`${standby.address}, ${leader.address}`);
  assert.equal(listed.addresses, [standby.address, leader.address]);
});

test("given [dead port, leader], the client goes past the dead master", async () => {
  const dead = `127.0.0.1:${await closedPort()}`;
  const c = client(`${dead},${leader.address}`);
  const { task } = await c.submitTask({ name: "past-dead", command: ["true"] });
  assert.is(c.address, leader.address);
  assert.is((await c.getTask(task.id)).id, task.id);
});

test("one dead master alone fails at once, as a single address always did", async () => {
  const c = client(`127.0.0.1:${await closedPort()}`, { deadlineMs: 60_000 });
  const err = await failure(c.listTasks({}));
  assert.is(err.code, UNAVAILABLE);
  assert.match(err.details, /^No connection established/);
});

test("no leader known: calls keep trying until the deadline, then fail UNAVAILABLE", async () => {
  const orphan = await fake(standbyOf(undefined));
  const c = client(orphan.address, { deadlineMs: 300 });
  const started = Date.now();
  const err = await failure(c.submitTask({ command: ["true"] }));
  assert.is(err.code, UNAVAILABLE);
  assert.match(err.details, /^this master is a standby and no leader is known/);
  assert.ok(Date.now() - started >= 250, "it waited for a leader until (about) its deadline");
  assert.ok(orphan.totalCalls > 1, "it asked again");
});

test("a redirect loop backs off and fails UNAVAILABLE at the deadline", async () => {
  const a = await fake(standbyOf(undefined));
  const b = await fake(standbyOf(a.address));
  a.refusal = standbyOf(b.address);
  const c = client([a.address, b.address], { deadlineMs: 300 });
  const err = await failure(c.listWorkers());
  assert.is(err.code, UNAVAILABLE);
  assert.match(err.details, /^this master is a standby; the leader is at/);
  // Pauses of 50 ms doubling between rounds: a handful of calls in 300 ms, not thousands.
  assert.ok(a.totalCalls + b.totalCalls < 30, `calls: ${a.totalCalls + b.totalCalls}`);
});

test("a write that may have reached a leader (non-standby UNAVAILABLE) is not sent again", async () => {
  const stopping = await fake({ details: "master is shutting down" });
  const c = client([stopping.address, leader.address]);
  const err = await failure(c.submitTask({ name: "not-twice", command: ["true"] }));
  assert.is(err.code, UNAVAILABLE);
  assert.is(err.details, "master is shutting down");
  assert.is(stopping.calls.get("submitTask"), 1);
  assert.is(c.address, stopping.address, "the write was not sent anywhere else");
  const cancel = await failure(c.cancelTask("0192f3a0-0000-7000-8000-000000000000"));
  assert.is(cancel.details, "master is shutting down");
  assert.is(stopping.calls.get("cancelTask"), 1);
  const stored = await client(leader.address).listTasks({});
  assert.is(stored.tasks.filter((t) => t.spec?.name === "not-twice").length, 0, "nothing reached the leader");
});

test("...but a read, and a submit with an idempotency key, are sent to the next master", async () => {
  const stopping = await fake({ details: "master is shutting down" });
  const reader = client([stopping.address, leader.address]);
  await reader.listTasks({});
  assert.is(stopping.calls.get("listTasks"), 1);
  assert.is(reader.address, leader.address);
  const writer = client([stopping.address, leader.address]);
  const { task, existing } = await writer.submitTask({ name: "keyed", command: ["true"], idempotencyKey: "client-failover-keyed" });
  assert.is(existing, false);
  assert.is(stopping.calls.get("submitTask"), 1);
  assert.is((await writer.getTask(task.id)).spec?.idempotencyKey, "client-failover-keyed");
});

test("failover: false makes one try on the first address", async () => {
  const c = client([standby.address, leader.address], { failover: false });
  const before = standby.totalCalls;
  const err = await failure(c.getSchedulerInfo());
  assert.is(err.code, UNAVAILABLE);
  assert.match(err.details, /^this master is a standby/);
  assert.is(standby.totalCalls, before + 1);
  assert.is(c.address, standby.address);
});

test("a watch refused by a standby before any event is opened again on the leader", async () => {
  const { task } = await client(leader.address).submitTask({ name: "watched", command: ["true"] });
  const c = client([standby.address, leader.address]);
  const before = standby.calls.get("watchTasks") ?? 0;
  const watch = c.watchTasks({ taskIds: [task.id] });
  for await (const event of watch) {
    assert.is(event.taskId, task.id);
    assert.is(event.state, TaskState.TASK_STATE_QUEUED);
    watch.cancel();
  }
  assert.is(standby.calls.get("watchTasks"), before + 1);
  assert.is(c.address, leader.address);
});

test("a watch that fails after delivering events surfaces the error; followUntilTerminal reopens it on the leader", async () => {
  const leaderClient = client(leader.address);
  const { task } = await leaderClient.submitTask({ name: "followed", command: ["true"] });
  const queued = { taskId: task.id, state: TaskState.TASK_STATE_QUEUED, progress: 0, progressMessage: "" };
  // A leader stepping down mid-watch: it streams the current state, then names its successor.
  const steppingDown = await fake({ ...standbyOf(leader.address), eventsFirst: [{ event: queued as WatchTasksResponse["event"] }] });

  const direct = client([steppingDown.address, leader.address]);
  const seen: TaskState[] = [];
  const err = await (async () => {
    for await (const e of direct.watchTasks({ taskIds: [task.id] })) seen.push(e.state);
  })().then(
    () => undefined,
    (e: unknown) => e as ClientError,
  );
  assert.equal(seen, [TaskState.TASK_STATE_QUEUED]);
  assert.is(err?.code, UNAVAILABLE, "after an event the failure reaches the caller");
  assert.is(direct.address, leader.address, "the hint was learned all the same");

  const follower = client([steppingDown.address, leader.address]);
  const shown: TaskState[] = [];
  const finished = await followUntilTerminal(follower, [task.id], (e) => {
    shown.push(e.state);
    // Cancel once the first (fake) event arrived: the leader's watch sends QUEUED (a repeat, not
    // shown) then CANCELED, or CANCELED at once; either way the caller sees each state once.
    if (e.state === TaskState.TASK_STATE_QUEUED) void leaderClient.cancelTask(task.id, "followed").catch(() => {});
  });
  assert.equal(shown, [TaskState.TASK_STATE_QUEUED, TaskState.TASK_STATE_CANCELED]);
  assert.is(finished.get(task.id)?.state, TaskState.TASK_STATE_CANCELED);
});

test("CLI: `watch ID` goes on on the leader when the master it watched on steps down", async () => {
  const leaderClient = client(leader.address);
  const { task } = await leaderClient.submitTask({ name: "cli-watched", command: ["true"] });
  await leaderClient.cancelTask(task.id, "before the watch");
  const queued = { taskId: task.id, state: TaskState.TASK_STATE_QUEUED, progress: 0, progressMessage: "" };
  // It answers ListTasks as a standby does (the CLI asks whether the id is a job array first).
  const steppingDown = await fake({
    ...standbyOf(leader.address),
    eventsFirst: [{ event: queued as WatchTasksResponse["event"] }],
    answers: { listTasks: { tasks: [], nextPageToken: "" } },
  });
  const r = await runCli(["watch", "--json", "--master", `${steppingDown.address},${leader.address}`, task.id]);
  assert.is(r.code, 0, r.err);
  const states = r.out
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line).state);
  assert.equal(states, ["TASK_STATE_QUEUED", "TASK_STATE_CANCELED"]);
});

test("CLI: --master and TASKGRID_MASTER take a list; a bad element is named", async () => {
  const bad = await runCli(["ls", "--master", `${leader.address},nohost`]);
  assert.is(bad.code, 2);
  assert.match(bad.err, /^error: --master: "nohost" \(in "[^"]+,nohost"\) is not host:port/);
  const empty = await runCli(["ls"], { TASKGRID_MASTER: `${leader.address},` });
  assert.is(empty.code, 2);
  assert.match(empty.err, /--master \(from TASKGRID_MASTER\): "[^"]+," has an empty element/);
  const single = await runCli(["ls", "--master", "nohost"]);
  assert.match(single.err, /^error: --master: "nohost" is not host:port/);
  const noLeader = new ClientError(UNAVAILABLE, "this master is a standby and no leader is known right now; retry shortly");
  assert.match(clientErrorHint(noLeader)!, /no master leads right now/);
});

test("CLI: --master standby,leader submits on the leader; TASKGRID_MASTER too", async () => {
  const submitted = await runCli(["submit", "--master", `${standby.address},${leader.address}`, "--label", "suite=cli-failover", "--", "true"]);
  assert.is(submitted.code, 0, submitted.err);
  const id = submitted.out.trim();
  const got = await runCli(["get", "--json", id], { TASKGRID_MASTER: `${standby.address}, ${leader.address}` });
  assert.is(got.code, 0, got.err);
  assert.is(JSON.parse(got.out).task?.id ?? JSON.parse(got.out).id, id);
});

test.run();
