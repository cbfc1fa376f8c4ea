// Job arrays and dependencies in the live master (issue 17), with a raw agent that takes
// assignments and reports on command: a three-step DAG submitted in one call runs in order, a
// failure cascades (dependents CANCELED with the reason) while an after-any dependent runs, an array
// of 20 with %3 never has more than 3 elements out at once (counted from the agent's assignments),
// an array cancel cancels every element, "ID[7]" addresses one element, bad input is refused with
// INVALID_ARGUMENT naming the field and the rule, a DAG retried with idempotency keys gets its first
// try's ids, and a submit of 100,000 indexes is timed.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { status } from "@grpc/grpc-js";
import { TaskState } from "../../src/gen/taskgrid/v1/types.js";
import { call, callError, rawClients, type RawClients } from "../helpers/grpc-clients.js";
import { RawAgent } from "../helpers/raw-agent.js";
import { eventually } from "../helpers/task-watch.js";
import { startTestMaster, type TestMaster } from "../helpers/test-master.js";

const ok = { outcome: 1, exitCode: 0, signal: "", outputTail: "", durationMs: 1, message: "" };
const failed = { outcome: 2, exitCode: 3, signal: "", outputTail: "", durationMs: 1, message: "" };
const spec = (extra: Record<string, unknown> = {}) => ({ command: ["true"], resources: { cpuMillis: 100, memoryMib: 64 }, ...extra });

let tm: TestMaster;
let c: RawClients;
let agent: RawAgent;

type Assignment = { attemptId: string; taskId: string; spec?: { env: Record<string, string> } };

const getTask = async (id: string) => (await call(c.tasks, "getTask", { taskId: id })).task;
const submitTasks = async (specs: unknown[]): Promise<string[]> => (await call(c.tasks, "submitTasks", { specs })).taskIds;
/** Takes the next assignment and reports it started. */
async function take(): Promise<Assignment> {
  const a = await agent.next("assign");
  agent.send({ $case: "started", value: { attemptId: a.attemptId, pid: 1, startedAt: new Date() } });
  return a as Assignment;
}
async function finish(a: Assignment, result = ok): Promise<void> {
  agent.send({ $case: "finished", value: { attemptId: a.attemptId, result, finishedAt: new Date() } });
  const end = result === ok ? TaskState.TASK_STATE_SUCCEEDED : TaskState.TASK_STATE_FAILED;
  await eventually(async () => (await getTask(a.taskId)).state === end, `task ${a.taskId} ended`);
}
/** One more dispatch pass, then no assignment may be waiting. */
async function noMoreAssignments(): Promise<void> {
  await tm.master.dispatcher.tick();
  assert.is(agent.take("assign"), undefined, "no further assignment");
}
async function invalid(specs: unknown[]): Promise<string> {
  const err = await callError(call(c.tasks, "submitTasks", { specs }));
  assert.is(err.code, status.INVALID_ARGUMENT, err.details);
  return err.details;
}

test.before(async () => {
  tm = await startTestMaster();
  c = rawClients(tm.address);
  agent = new RawAgent(tm.address);
  agent.register("w1", { capacity: { cpuMillis: 64_000, memoryMib: 64 * 1024, maxTasks: 32, gpus: [] } });
  await agent.next("registered");
});

test.after(async () => {
  agent.close();
  c.close();
  await tm.cleanup();
});

test("a three-step DAG submitted in one call runs in order; each step waits with a reason naming what it waits for", async () => {
  const [a, b, cc] = await submitTasks([spec(), spec({ after: ["#0"] }), spec({ after: ["#1"] })]);
  const first = await take();
  assert.is(first.taskId, a);
  await eventually(async () => (await getTask(a)).state === TaskState.TASK_STATE_RUNNING, "a RUNNING");
  await noMoreAssignments();
  const waitingB = await getTask(b);
  assert.is(waitingB.state, TaskState.TASK_STATE_QUEUED);
  assert.is(waitingB.pendingReason, `waiting: after task ${a} (RUNNING)`);
  assert.equal(waitingB.spec.after, [a], "the batch reference is stored as the id");
  await finish(first);
  const second = await take();
  assert.is(second.taskId, b);
  await noMoreAssignments();
  await finish(second);
  const third = await take();
  assert.is(third.taskId, cc);
  await finish(third);
});

test("a DAG retried with idempotency keys returns the first try's ids and creates nothing; a partial or changed retry is ALREADY_EXISTS", async () => {
  const dag = (tag: string) => [
    spec({ idempotencyKey: `${tag}-fetch` }),
    spec({ idempotencyKey: `${tag}-train`, after: ["#0"] }),
    spec({ idempotencyKey: `${tag}-report`, after: ["#1"], array: "0-2" }),
  ];
  const first = await call(c.tasks, "submitTasks", { specs: dag("dag1") });
  assert.is(first.existing, false);
  const again = await call(c.tasks, "submitTasks", { specs: dag("dag1") });
  assert.equal(again.taskIds, first.taskIds, "the same tasks (and the array's id)");
  assert.is(again.existing, true);
  // Only the first step was made before: the request as a whole cannot be honoured.
  const partial = await callError(call(c.tasks, "submitTasks", { specs: [dag("dag1")[0], spec({ idempotencyKey: "dag1-new" })] }));
  assert.is(partial.code, status.ALREADY_EXISTS);
  const changed = dag("dag1");
  changed[1] = spec({ idempotencyKey: "dag1-train", after: ["#0"], command: ["false"] });
  assert.is((await callError(call(c.tasks, "submitTasks", { specs: changed }))).code, status.ALREADY_EXISTS);
  // Nothing of the retries was created: one fetch runs, then (after it) one train.
  const fetch = await take();
  assert.is(fetch.taskId, first.taskIds[0]);
  await noMoreAssignments();
  await finish(fetch);
  const train = await take();
  assert.is(train.taskId, first.taskIds[1]);
  await finish(train);
  for (let i = 0; i < 3; i++) await finish(await take());
  await noMoreAssignments();
});

test("a failure cascades: after-ok dependents end CANCELED with the reason, an after-any one runs, keep_invalid_dependency stays queued", async () => {
  const [a, b, cc, anyway, kept] = await submitTasks([
    spec(),
    spec({ after: ["#0"] }),
    spec({ after: ["#1"] }),
    spec({ afterAny: ["#0"] }),
    spec({ after: ["#0"], keepInvalidDependency: true }),
  ]);
  const first = await take();
  assert.is(first.taskId, a);
  await finish(first, failed);
  const bTask = await eventually(async () => {
    const t = await getTask(b);
    return t.state === TaskState.TASK_STATE_CANCELED && t;
  }, "b CANCELED");
  assert.is(bTask.result.message, `dependency can never be met: after task ${a} (FAILED)`);
  const cTask = await eventually(async () => {
    const t = await getTask(cc);
    return t.state === TaskState.TASK_STATE_CANCELED && t;
  }, "c CANCELED (cascade)");
  assert.is(cTask.result.message, `dependency can never be met: after task ${b} (CANCELED)`);
  const next = await take();
  assert.is(next.taskId, anyway, "the after-any task runs after the failure");
  await finish(next);
  await noMoreAssignments();
  const keptTask = await getTask(kept);
  assert.is(keptTask.state, TaskState.TASK_STATE_QUEUED);
  assert.is(keptTask.pendingReason, `dependency can never be met: after task ${a} (FAILED)`);
  await call(c.tasks, "cancelTask", { taskId: kept });
  // A dependency on an array: after-fail on the failed task is met at once (it already ended).
  const [late] = await submitTasks([spec({ afterFail: [a] })]);
  assert.is((await take()).taskId, late);
});

test("an array of 20 with %3 never has more than 3 elements out at once; each gets its index; ID[7] and the array filter work", async () => {
  const submitted = (await call(c.tasks, "submitTask", { spec: spec({ array: "0-19%3" }) })).task;
  const arrayId: string = submitted.arrayId;
  assert.ok(arrayId, "the first element names its array");
  assert.is(submitted.arrayIndex, 0);
  const held: Assignment[] = [];
  const indexes: number[] = [];
  let most = 0;
  while (indexes.length < 20) {
    while (held.length < 3 && indexes.length + held.length < 20) {
      const a = await take();
      assert.is(a.spec?.env.TASKGRID_ARRAY_ID, arrayId);
      indexes.push(Number(a.spec?.env.TASKGRID_ARRAY_INDEX));
      held.push(a);
    }
    most = Math.max(most, held.length);
    if (held.length === 3 && indexes.length < 20) {
      await noMoreAssignments();
      const queued = (await call(c.tasks, "listTasks", { arrayId, states: [TaskState.TASK_STATE_QUEUED], pageSize: 1 })).tasks[0];
      assert.match(queued.pendingReason, `waiting: array ${arrayId} runs at most 3 elements at once (%3`);
    }
    const done = held.shift();
    if (done === undefined) break;
    await finish(done);
    if (indexes.length === 20) for (const rest of held.splice(0)) await finish(rest);
  }
  assert.is(most, 3, "three at once, never more");
  assert.equal(
    [...indexes].sort((x, y) => x - y),
    Array.from({ length: 20 }, (_, i) => i),
    "each index ran once",
  );
  const seventh = await getTask(`${arrayId}[7]`);
  assert.is(seventh.arrayId, arrayId);
  assert.is(seventh.arrayIndex, 7);
  assert.is(seventh.state, TaskState.TASK_STATE_SUCCEEDED);
  const listed = await call(c.tasks, "listTasks", { arrayId, pageSize: 100 });
  assert.is(listed.tasks.length, 20);
  // A task after the whole array: met now that all 20 succeeded.
  const [after] = await submitTasks([spec({ after: [arrayId] })]);
  assert.is((await take()).taskId, after);
});

test("cancel by array id cancels every element, running and held", async () => {
  const arrayId = (await submitTasks([spec({ array: "0-9%2" })]))[0];
  const running = [await take(), await take()];
  const res = await call(c.tasks, "cancelTask", { taskId: arrayId, reason: "enough" });
  assert.is(res.canceledElements, 10);
  assert.is(res.task, undefined);
  for (const a of running) {
    const cancel = await agent.next("cancel");
    assert.ok(running.some((r) => r.attemptId === cancel.attemptId));
    agent.send({ $case: "finished", value: { attemptId: a.attemptId, result: { ...ok, outcome: 3 }, finishedAt: new Date() } });
  }
  const listed = await call(c.tasks, "listTasks", { arrayId, pageSize: 100 });
  assert.is(listed.tasks.length, 10);
  for (const t of listed.tasks) assert.is(t.state, TaskState.TASK_STATE_CANCELED, `element ${t.arrayIndex}`);
  await noMoreAssignments();
  const again = await callError(call(c.tasks, "cancelTask", { taskId: arrayId }));
  assert.is(again.code, status.FAILED_PRECONDITION);
});

test("bad arrays and dependencies: INVALID_ARGUMENT naming the field and the rule", async () => {
  assert.match(await invalid([spec({ array: " " })]), /specs\[0\]\.array.*must not be empty/);
  assert.match(await invalid([spec({ array: "9-3" })]), /specs\[0\]\.array.*9-3 is reversed/);
  assert.match(await invalid([spec({ array: "0-100000" })]), /specs\[0\]\.array.*at most 100000 indexes/);
  assert.match(await invalid([spec({ array: "a-b" })]), /specs\[0\]\.array.*must look like/);
  assert.match(await invalid([spec({ array: "0-9%0" })]), /specs\[0\]\.array.*%MAX must be >= 1/);
  assert.match(await invalid([spec({ array: "1,1" })]), /index 1 is listed twice/);
  assert.match(await invalid([spec({ after: ["0192f3a1-0000-7000-8000-000000000000"] })]), /specs\[0\]\.after\[0\].*unknown task/);
  assert.match(await invalid([spec({ after: ["#0"] })]), /specs\[0\]\.after\[0\].*the spec itself/);
  assert.match(await invalid([spec({ after: ["#1"] }), spec({ afterAny: ["#0"] })]), /specs.*cycle: specs\[0\] -> specs\[1\] -> specs\[0\]/);
  assert.match(await invalid([spec({ afterFail: ["#7"] })]), /specs\[0\]\.after_fail\[0\].*#7 names no spec/);
  // Another project's task is answered exactly like an unknown one.
  const [mine] = await submitTasks([spec({ project: "alpha" })]);
  await finish(await take());
  const details = await invalid([spec({ project: "beta", after: [mine] })]);
  assert.match(details, `unknown task ${mine}`);
  assert.not.match(details, /alpha/);
  const single = await callError(call(c.tasks, "submitTask", { spec: spec({ after: ["#0"] }) }));
  assert.is(single.code, status.INVALID_ARGUMENT);
  assert.match(single.details, /spec\.after\[0\]/);
  // Nothing of a refused request was written.
  await noMoreAssignments();
});

test("100,000 indexes in one submit (measured, printed)", async () => {
  await tm.master.dispatcher.tick();
  while (agent.take("assign") !== undefined);
  const started = performance.now();
  const submitted = (await call(c.tasks, "submitTask", { spec: spec({ array: "0-99999%1", after: [] }) })).task;
  const ms = performance.now() - started;
  console.log(`  submit of a 100,000-index array: ${ms.toFixed(0)} ms (${tm.db.options.databaseUrl ? "Postgres" : "PGlite"})`);
  const last = await getTask(`${submitted.arrayId}[99999]`);
  assert.is(last.arrayIndex, 99999);
  const res = await call(c.tasks, "cancelTask", { taskId: submitted.arrayId });
  assert.is(res.canceledElements, 100_000);
});

test.run();
